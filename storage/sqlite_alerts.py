"""The SQLite store's part of the narrow reads (storage/narrow_reads.SQLReads): its JSON
function, its read-only run's own mentions, and a poll cycle's grouping candidates (the
SimHash distance tested in SQL by bw_near, a function the repository registers)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any

from core.domain.models import Alert
from storage.alert_cache import ParsedAlerts
from storage.narrow_reads import SQLReads
from storage.sqlite_mentions import CHUNK
from storage.store_lock import StoreLock


class SQLiteReads(SQLReads):
    _param = "?"
    _new_mentions: dict[str, dict[str, Any]]
    _alert_cache: ParsedAlerts
    _db: sqlite3.Connection
    _lock: StoreLock
    _near: tuple[list[int], int]  # what bw_near tests: fingerprints, max bits apart

    def _parse_alert(self, n: int, doc: str) -> Alert:
        return self._alert_cache.parse(n, doc)

    def _json_fields(self, names: Sequence[str]) -> str:
        # One json_extract with several paths parses the doc once and gives a JSON array.
        return "json_extract(doc, " + ", ".join(f"'$.{name}'" for name in names) + ")"

    def _overlay_docs(self) -> Iterable[dict[str, Any]] | None:
        return self._new_mentions.values() if self._new_mentions else None

    def grouping_candidates(
        self,
        keys: Iterable[str],
        created_since: str,
        active_since: str,
        near: tuple[list[int], int] | None = None,
    ) -> list[Alert]:
        """See Repository.grouping_candidates."""
        keys = list(dict.fromkeys(keys))
        found: dict[int, str] = {}
        with self._lock:
            recent = "created_at >= ? AND archived = 0"
            queries: list[tuple[str, list[Any]]] = [
                (
                    "SELECT n, doc FROM alerts WHERE status != 'resolved' AND archived = 0"
                    " AND (kind = 'storm' OR created_at >= ?)",
                    [active_since],
                ),
                (
                    f"SELECT n, doc FROM alerts WHERE {recent} AND created_at >= ?",
                    [created_since, active_since],
                ),
            ]
            if near is None:
                queries.append((f"SELECT n, doc FROM alerts WHERE {recent}", [created_since]))
            elif near[0]:
                # SimHash distance in SQL: only alerts near one of the mentions are parsed.
                self._near = ([int(f) for f in near[0] if f], int(near[1]))
                queries.append(
                    (
                        f"SELECT n, doc FROM alerts WHERE {recent} AND fingerprint != 0"
                        " AND bw_near(fingerprint)",
                        [created_since],
                    )
                )
            for i in range(0, len(keys), CHUNK):
                chunk = keys[i : i + CHUNK]
                marks = ",".join("?" * len(chunk))
                queries.append(
                    (
                        # (two index searches: an OR of the two would read every alert)
                        f"SELECT n, doc FROM alerts WHERE status != 'resolved' AND dedup_key IN"
                        f" ({marks}) UNION ALL SELECT n, doc FROM alerts WHERE {recent}"
                        f" AND dedup_key IN ({marks})",
                        [*chunk, created_since, *chunk],
                    )
                )
            for sql, params in queries:
                found.update(self._db.execute(sql, params).fetchall())
            return [self._alert_cache.parse(n, found[n]) for n in sorted(found)]

    def _is_near(self, fingerprint: int) -> bool:
        fingerprints, max_distance = self._near
        return any((fingerprint ^ f).bit_count() <= max_distance for f in fingerprints)
