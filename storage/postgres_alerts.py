"""The PostgreSQL store's alert reads: grouping's candidates, and its part of the narrow reads
(storage/narrow_reads.SQLReads)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from typing import Any

import psycopg

from core.domain.models import Alert
from storage.common import signed64
from storage.narrow_reads import SQLReads
from storage.postgres_search import pg_text


class PostgresReads(SQLReads):
    _param = "%s"

    _tx: Callable[[], AbstractContextManager[psycopg.Connection]]  # PostgresRepository's

    def _alerts(self, sql: str, params: Iterable[Any] | dict[str, Any] = ()) -> list[Alert]:
        with self._tx() as conn:
            args = params if isinstance(params, dict) else list(params)
            rows = conn.execute(sql, args).fetchall()
        return [Alert.from_dict(json.loads(r[0])) for r in rows]

    def _page(self, sql: str, params: tuple[Any, ...]) -> list[Any]:
        with self._tx() as conn:
            return conn.execute(sql, params).fetchall()

    def _parse_alert(self, n: int, doc: str) -> Alert:
        return Alert.from_dict(json.loads(doc))

    def _json_fields(self, names: Sequence[str]) -> str:
        picks = ", ".join(f"j -> '{name}'" for name in names)  # (the doc parsed once)
        return f"(SELECT json_build_array({picks})::text FROM (SELECT doc::json AS j) AS d)"

    def grouping_candidates(
        self,
        keys: Iterable[str],
        created_since: str,
        active_since: str,
        near: tuple[list[int], int] | None = None,
    ) -> list[Alert]:
        """See Repository.grouping_candidates: one query, the union of its cases."""
        recent = "created_at >= %(created)s"
        if near is not None:  # only recent alerts near one of the fingerprints
            recent += (
                " AND fingerprint != 0 AND EXISTS (SELECT 1 FROM unnest(%(fps)s::bigint[]) f"
                " WHERE bit_count((fingerprint # f)::bit(64)) <= %(distance)s)"
            )
        fps, distance = near or ([], 0)
        return self._alerts(
            "SELECT doc FROM alerts WHERE NOT archived AND ("
            " (status != 'resolved' AND (kind = 'storm' OR created_at >= %(active)s))"
            " OR (created_at >= %(created)s AND created_at >= %(active)s)"
            f" OR ({recent})"
            " OR ((status != 'resolved' OR created_at >= %(created)s)"
            " AND dedup_key = ANY(%(keys)s))) ORDER BY n",
            {
                "created": created_since,
                "active": active_since,
                "keys": [pg_text(k) for k in dict.fromkeys(keys)],
                "fps": [signed64(f) for f in fps if f],
                "distance": distance,
            },
        )
