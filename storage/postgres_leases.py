"""The PostgreSQL store's source leases: which of the processes sharing the database polls
which source (issue 16).

A lease is taken at a poll and kept while the process lives: the bot renews the leases of
the sources it polls every few seconds (app/lease_keeper.py), so a lease can be much shorter
than a poll interval. A process that dies stops renewing, its leases run out within one
lease, and another process finds them (expired_sources) and takes its sources over well
within one poll interval, whatever the interval; a clean stop deletes its leases at once.
Times are UTC ISO strings, compared as text (one format, one zone).

Lease times are read from the database server's clock, one clock for every process: with
each process's own, a process whose clock ran a minute ahead took every live lease of the
others (two processes polling each source), and one running behind wrote leases the
others found run out. (A test's clock, any Clock but the system's, is used as given, so a
test can move lease time by hand.) A lease ending more than MAX_LEASE from now (a row
edited by hand, a server clock set back, a value that is no time at all) counts as run
out: else a dead holder's sources would never be taken over.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Collection
from datetime import UTC, datetime, timedelta

import psycopg

from core.domain.clock import Clock, SystemClock

# No lease is taken for longer (source leases last 30 s, destination leases a minute): a
# lease ending later than this from now is broken, and counts as run out.
MAX_LEASE = timedelta(minutes=10)


def lease_now(clock: Clock, conn: psycopg.Connection) -> datetime:
    """Now, for lease times: the database server's clock (the same for every process sharing
    the store), or a test's clock as given."""
    if isinstance(clock, SystemClock):
        row = conn.execute("SELECT clock_timestamp()").fetchone()
        assert row is not None
        now: datetime = row[0]
    else:
        now = clock.now()
    return now.astimezone(UTC)


class PostgresSourceLeases:
    """PostgresRepository's source lease methods (its attributes, as it sets them)."""

    clock: Clock
    owner: str
    _ro: psycopg.Connection | None
    _tx: Callable[[], contextlib.AbstractContextManager[psycopg.Connection]]

    def claim_source(self, name: str, lease: timedelta) -> bool:
        """True if this process may poll `name` now: no one holds it, this process does, or
        the holder's lease ran out (it died or stopped). Holds it for `lease` from now."""
        if self._ro is not None:
            return True  # a dry run stores nothing: it takes no lease from the bot
        with self._tx() as conn:
            now = lease_now(self.clock, conn)
            row = conn.execute(
                "INSERT INTO source_leases(name, owner, until) VALUES (%s, %s, %s)"
                " ON CONFLICT (name) DO UPDATE SET owner = excluded.owner,"
                " until = excluded.until WHERE source_leases.owner = excluded.owner"
                " OR source_leases.until <= %s OR source_leases.until > %s RETURNING owner",
                (name, self.owner, (now + lease).isoformat(), *run_out(now)),
            ).fetchone()
        return row is not None

    def renew_sources(self, names: Collection[str], lease: timedelta) -> int:
        """Extend this process's leases on these sources to `lease` from now (one statement);
        how many it still held. A lease another process has taken meanwhile stays theirs."""
        if self._ro is not None or not names:
            return 0
        with self._tx() as conn:
            now = lease_now(self.clock, conn)
            cur = conn.execute(
                "UPDATE source_leases SET until = %s WHERE owner = %s AND name = ANY(%s)",
                ((now + lease).isoformat(), self.owner, sorted(names)),
            )
            return cur.rowcount

    def expired_sources(self, names: Collection[str]) -> list[str]:
        """Those of these sources whose lease ran out while another process held it (that
        process died, or hangs): this one should poll them now."""
        if not names:
            return []
        with self._tx() as conn:
            now = lease_now(self.clock, conn)
            rows = conn.execute(
                "SELECT name FROM source_leases WHERE name = ANY(%s) AND owner <> %s"
                " AND (until <= %s OR until > %s) ORDER BY name",
                (sorted(names), self.owner, *run_out(now)),
            ).fetchall()
        return [r[0] for r in rows]


def run_out(now: datetime) -> tuple[str, str]:
    """A lease has run out if its end is at or before the first, or after the second (too far
    ahead to be one: see MAX_LEASE)."""
    return now.isoformat(), (now + MAX_LEASE).isoformat()
