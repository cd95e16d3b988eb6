"""The PostgreSQL store's source leases: which of the processes sharing the database polls
which source (issue 16).

A lease is taken at a poll and kept while the process lives: the bot renews the leases of
the sources it polls every few seconds (app/lease_keeper.py), so a lease can be much shorter
than a poll interval. A process that dies stops renewing, its leases run out within one
lease, and another process finds them (expired_sources) and takes its sources over well
within one poll interval, whatever the interval; a clean stop deletes its leases at once.
Times are UTC ISO strings, compared as text (one format, one zone).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Collection
from datetime import UTC, datetime, timedelta

import psycopg

from core.domain.clock import Clock


class PostgresSourceLeases:
    """PostgresRepository's source lease methods (its attributes, as it sets them)."""

    clock: Clock
    owner: str
    _ro: psycopg.Connection | None
    _tx: Callable[[], contextlib.AbstractContextManager[psycopg.Connection]]

    def _now(self) -> datetime:
        return self.clock.now().astimezone(UTC)

    def claim_source(self, name: str, lease: timedelta) -> bool:
        """True if this process may poll `name` now: no one holds it, this process does, or
        the holder's lease ran out (it died or stopped). Holds it for `lease` from now."""
        if self._ro is not None:
            return True  # a dry run stores nothing: it takes no lease from the bot
        now = self._now()
        with self._tx() as conn:
            row = conn.execute(
                "INSERT INTO source_leases(name, owner, until) VALUES (%s, %s, %s)"
                " ON CONFLICT (name) DO UPDATE SET owner = excluded.owner,"
                " until = excluded.until WHERE source_leases.owner = excluded.owner"
                " OR source_leases.until <= %s RETURNING owner",
                (name, self.owner, (now + lease).isoformat(), now.isoformat()),
            ).fetchone()
        return row is not None

    def renew_sources(self, names: Collection[str], lease: timedelta) -> int:
        """Extend this process's leases on these sources to `lease` from now (one statement);
        how many it still held. A lease another process has taken meanwhile stays theirs."""
        if self._ro is not None or not names:
            return 0
        with self._tx() as conn:
            cur = conn.execute(
                "UPDATE source_leases SET until = %s WHERE owner = %s AND name = ANY(%s)",
                ((self._now() + lease).isoformat(), self.owner, sorted(names)),
            )
            return cur.rowcount

    def expired_sources(self, names: Collection[str]) -> list[str]:
        """Those of these sources whose lease ran out while another process held it (that
        process died, or hangs): this one should poll them now."""
        if not names:
            return []
        with self._tx() as conn:
            rows = conn.execute(
                "SELECT name FROM source_leases WHERE name = ANY(%s) AND owner <> %s"
                " AND until <= %s ORDER BY name",
                (sorted(names), self.owner, self._now().isoformat()),
            ).fetchall()
        return [r[0] for r in rows]
