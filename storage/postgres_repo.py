"""The store on a PostgreSQL server (psycopg 3 and a connection pool), shared by several
Buzzwatch processes: `storage: {backend: postgres, dsn_env: BUZZWATCH_DATABASE_URL}`.

- The rows are the SQLite store's (storage/mention_search.py builds them: mention_row, the
  marked search column, the Chinese grams); only the SQL differs. Times are ISO text in
  the "C" collation, so they sort as the SQLite store's do, byte by byte.
- Text search: trigram and grams indexes, exact tests (storage/postgres_search.py).
- Alert and outbox ids come from sequences: unique across processes, never reused.
- The schema is versioned in a table (storage/postgres_schema.py).
- `locked()` is the process's lock plus a PostgreSQL advisory lock, so a read-modify-write
  over several calls (grouping a cycle's mentions) is not interleaved with another's.

Read-only (dry run, queries): one connection whose transaction is never committed; the
run sees its own writes and they vanish at close. (Rows it changes stay locked for the
other processes until then: keep dry runs short next to a running bot.)
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool

from core.domain.clock import Clock, SystemClock
from core.domain.models import Alert, Mention, OutboxItem
from core.domain.query import MentionQuery
from storage.atomic_json import StorageError, save_derived_file
from storage.common import (
    SQLOnceKeys,
    alert_number,
    dumps,
    mention_slices,
    scalar,
    signed64,
)
from storage.postgres_alerts import PostgresReads
from storage.postgres_changes import PIPELINE_LOCK, PostgresChanges
from storage.postgres_jobs import PostgresJobLocks, lock_connection
from storage.postgres_leases import PostgresSourceLeases, lease_now, run_out
from storage.postgres_mentions import (
    period_rows,
    prepare_mentions,
    put_mentions,
    search_mentions,
    store_ahead,
)
from storage.postgres_schema import migrate
from storage.postgres_search import pg_text
from storage.store_lock import Urgent

DEFAULT_DSN_ENV = "BUZZWATCH_DATABASE_URL"


def dsn_from_env(name: str = DEFAULT_DSN_ENV) -> str:
    dsn = os.environ.get(name, "").strip()
    if not dsn:
        raise StorageError(
            f"storage backend postgres: set {name} to the database's address, e.g. "
            "postgresql://buzzwatch:secret@127.0.0.1:5432/buzzwatch"
        )
    return dsn


class PostgresRepository(
    PostgresReads, PostgresChanges, PostgresJobLocks, PostgresSourceLeases, SQLOnceKeys
):
    stores_mentions_ahead = True  # see Repository.stores_mentions_ahead

    def __init__(
        self,
        dsn: str,
        clock: Clock | None = None,
        read_only: bool = False,
        pool_size: int = 4,
        data_dir: Path | None = None,
    ) -> None:
        self.dsn = dsn
        self.data_dir = data_dir  # this process's folder, for derived files (digest charts)
        self.clock = clock or SystemClock()
        self.read_only = read_only
        self._lock = threading.RLock()
        self._local = threading.local()  # the connection of a transaction in progress
        self._pool: ConnectionPool | None = None
        self._ro: psycopg.Connection | None = None
        self._lock_conn: psycopg.Connection | None = None
        self._lock_depth = 0
        self._lock_owner = 0  # the thread holding locked() (its advisory lock)
        self._urgent = Urgent()  # changes running: save_cycle gives way to them
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        try:
            # One plain connection first: a wrong address fails now and clearly (a pool
            # would retry it in the background), and it runs the migrations.
            first = psycopg.connect(dsn, connect_timeout=10)
            if read_only:
                self._ro = first
                first.execute("SELECT 1")  # the outer transaction: each call is a savepoint
                with self._tx() as conn:
                    migrate(conn)
            else:
                with first, first.transaction():
                    migrate(first)
                self._pool = ConnectionPool(
                    dsn,
                    min_size=1,
                    max_size=pool_size,
                    kwargs={"autocommit": True},
                    open=True,
                    timeout=30,
                )
        except psycopg.Error as err:
            self.close()
            raise StorageError(f"could not open the PostgreSQL store: {err}") from err
        except BaseException:  # (a schema newer than this code: nothing left open)
            self.close()
            raise

    # --- connections, transactions and the schema --------------------------------------------

    @contextlib.contextmanager
    def _tx(self) -> Iterator[psycopg.Connection]:
        """One transaction (nested calls join the outer one); an error rolls it back."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            yield conn
            return
        try:
            with contextlib.ExitStack() as stack:
                if self._ro is not None:
                    stack.enter_context(self._lock)
                    conn = self._ro
                else:
                    assert self._pool is not None
                    conn = stack.enter_context(self._pool.connection())
                # read-only: a savepoint in the never-committed transaction
                stack.enter_context(conn.transaction())
                self._local.conn = conn
                try:
                    yield conn
                finally:
                    self._local.conn = None
        except psycopg.Error as err:
            raise StorageError(f"PostgreSQL store: {err}") from err

    def locked(self) -> contextlib.AbstractContextManager[Any]:
        """This process's lock and, writable, an advisory lock that other processes take too."""
        return self._locked()

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with self._lock:
            if self._ro is not None or self._lock_depth:
                self._lock_depth += 1
                try:
                    yield
                finally:
                    self._lock_depth -= 1
                return
            try:
                if self._lock_conn is None or self._lock_conn.closed:
                    self._lock_conn = lock_connection(self.dsn)  # (keepalives: see there)
                self._lock_conn.execute("SELECT pg_advisory_lock(%s)", (PIPELINE_LOCK,))
            except psycopg.Error as err:
                raise StorageError(f"PostgreSQL store: {err}") from err
            self._lock_depth, self._lock_owner = 1, threading.get_ident()
            try:
                yield
            finally:
                self._lock_depth, self._lock_owner = 0, 0
                with contextlib.suppress(psycopg.Error):
                    self._lock_conn.execute("SELECT pg_advisory_unlock(%s)", (PIPELINE_LOCK,))

    # --- mentions ---------------------------------------------------------------------------

    def unseen(self, ids: Iterable[str]) -> list[str]:
        wanted = list(dict.fromkeys(ids))
        with self._tx() as conn:
            rows = conn.execute(
                "SELECT id FROM seen WHERE id = ANY(%s)", ([pg_text(i) for i in wanted],)
            ).fetchall()
        known = {r[0] for r in rows}
        return [i for i in wanted if pg_text(i) not in known]

    def save_cycle(
        self,
        mentions: list[Mention],
        seen_ids: list[str],
        alerts: list[Alert],
        outbox: list[OutboxItem],
    ) -> None:
        # As SQLite's: mentions ahead in slices (store_ahead), the rest in one transaction;
        # mentions alone (the pipeline stores a batch's chunks ahead of its last save_cycle)
        # all ahead, so none waits for the WAL's flush: that last transaction's commit does.
        last = bool(seen_ids or alerts or outbox)
        ahead, rest = mention_slices([m.to_dict() for m in mentions], last)
        # (under locked(), grouping's: an ack waits for it, so it does not wait for acks)
        urgent = None if self._lock_owner == threading.get_ident() else self._urgent
        store_ahead(self._tx, urgent, ahead)
        if not last:
            return
        rows = prepare_mentions(rest)
        if urgent is not None:
            urgent.give_way()
        with self._tx() as conn:
            put_mentions(conn, rows)
            self._put_alerts(alerts)
            self._insert_outbox(outbox)
            day = self.clock.now().date().isoformat()
            with conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO seen(id, day) VALUES (%s, %s) ON CONFLICT DO NOTHING",
                    [(pg_text(i), day) for i in dict.fromkeys(seen_ids)],
                )

    def _put_mentions(self, docs: list[dict[str, Any]]) -> None:
        with self._tx() as conn:
            put_mentions(conn, prepare_mentions(docs))

    def iter_mentions(self, since: datetime | None) -> Iterable[dict[str, Any]]:
        """Records said (published, else fetched: the `at` the queries use) on or after
        `since`'s UTC day, newest first: read a page at a time from a server-side cursor,
        on a connection of its own (or the transaction in progress)."""
        day = since.astimezone(UTC).date().isoformat() if since else ""
        return self._period(day)

    def _period(self, day: str) -> Iterator[dict[str, Any]]:
        try:
            joined: psycopg.Connection | None = getattr(self._local, "conn", None) or self._ro
            if joined is not None:  # (read-only: the run's one connection, under its lock)
                yield from period_rows(joined, day, self._lock)
                return
            assert self._pool is not None
            with self._pool.connection() as conn, conn.transaction():
                yield from period_rows(conn, day)
        except psycopg.Error as err:
            raise StorageError(f"PostgreSQL store: {err}") from err

    def search_mentions(
        self,
        query: MentionQuery,
        now: datetime,
        negative_threshold: float,
        positive_threshold: float,
    ) -> tuple[list[dict[str, Any]], int]:
        """Matching records, newest first: the page asked for and the count (exact up to
        COUNT_CAP: storage/postgres_mentions.py)."""
        with self._tx() as conn:
            return search_mentions(conn, query, now, negative_threshold, positive_threshold)

    def count_mentions(self) -> int:
        with self._tx() as conn:
            return int(scalar(conn.execute("SELECT count(*) FROM mentions").fetchone()))

    # --- alerts -----------------------------------------------------------------------------

    def next_alert_ids(self, count: int) -> list[str]:
        with self._tx() as conn:
            rows = conn.execute(
                "SELECT nextval('alert_ids') FROM generate_series(1, %s)", (count,)
            ).fetchall()
        return [f"A{n}" for n in sorted(r[0] for r in rows)]

    def _put_alerts(self, alerts: list[Alert], archived: bool = False) -> None:
        rows = []
        for alert in alerts:
            n = alert_number(alert.id)
            if n is None:
                raise ValueError(f"bad alert id {alert.id!r}")
            rows.append(
                (
                    n,
                    alert.status,
                    pg_text(alert.created_at),
                    pg_text(alert.resolved_at),
                    alert.kind,
                    pg_text(alert.dedup_key),
                    archived,
                    signed64(alert.fingerprint),
                    dumps(alert.to_dict()),
                )
            )
        with self._tx() as conn, conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO alerts(n, status, created_at, resolved_at, kind, dedup_key,"
                " archived, fingerprint, doc) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s)"
                " ON CONFLICT (n) DO UPDATE SET status = excluded.status,"
                " created_at = excluded.created_at, resolved_at = excluded.resolved_at,"
                " kind = excluded.kind, dedup_key = excluded.dedup_key,"
                " archived = excluded.archived, fingerprint = excluded.fingerprint,"
                " doc = excluded.doc",
                rows,
            )

    def get_alert(self, alert_id: str) -> Alert | None:
        n = alert_number(alert_id)
        found = self._alerts("SELECT doc FROM alerts WHERE n = %s", (n,)) if n else []
        return found[0] if found else None

    def archive_alerts(self, resolved_before: datetime) -> int:
        """Mark alerts resolved before then (with nothing left to send) archived."""
        stamp = resolved_before.astimezone(UTC).isoformat()
        with self._tx() as conn:
            cur = conn.execute(
                "UPDATE alerts SET archived = true WHERE NOT archived AND status = 'resolved'"
                " AND resolved_at > '' AND resolved_at < %s AND NOT EXISTS"
                " (SELECT 1 FROM outbox o WHERE o.alert_id = 'A' || alerts.n)",
                (stamp,),
            )
            return cur.rowcount

    def find_alerts(self, predicate: Callable[[Alert], bool]) -> list[Alert]:
        alerts = self._alerts("SELECT doc FROM alerts WHERE NOT archived ORDER BY n")
        return [a for a in alerts if predicate(a)]

    def active_alerts(self, created_since: str = "") -> list[Alert]:
        return self._alerts(
            "SELECT doc FROM alerts WHERE NOT archived"
            " AND (status != 'resolved' OR (%s != '' AND created_at >= %s)) ORDER BY n",
            (created_since, created_since),
        )

    # --- outbox -----------------------------------------------------------------------------

    # The steps of storage.common.AlertOutboxWrites (change_alert and the outbox writes).

    def _write(self) -> contextlib.AbstractContextManager[psycopg.Connection]:
        return self._tx()

    def _alert_for_update(self, n: int) -> tuple[Alert, bool] | None:
        with self._tx() as conn:
            # FOR UPDATE: another process changing the same alert waits for this one.
            row = conn.execute(
                "SELECT doc, archived FROM alerts WHERE n = %s FOR UPDATE", (n,)
            ).fetchone()
        return None if row is None else (Alert.from_dict(json.loads(row[0])), bool(row[1]))

    def _next_outbox_seqs(self, count: int) -> list[int]:
        with self._tx() as conn:
            rows = conn.execute(
                "SELECT nextval('outbox_ids') FROM generate_series(1, %s)", (count,)
            ).fetchall()
        return sorted(int(r[0]) for r in rows)

    def _put_outbox(self, rows: list[tuple[int, OutboxItem]]) -> None:
        with self._tx() as conn, conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO outbox(seq, alert_id, destination, doc) VALUES (%s,%s,%s,%s)"
                " ON CONFLICT (seq) DO UPDATE SET alert_id = excluded.alert_id,"
                " destination = excluded.destination, doc = excluded.doc",
                [
                    (seq, item.alert_id or None, item.destination, dumps(item.to_dict()))
                    for seq, item in rows
                ],
            )

    def _delete_outbox(self, seqs: list[int]) -> None:
        with self._tx() as conn:
            conn.execute("DELETE FROM outbox WHERE seq = ANY(%s)", (seqs,))

    def _put_dead_letter(self, seq: int, item: OutboxItem) -> None:
        with self._tx() as conn:
            conn.execute(
                "INSERT INTO dead_letters(seq, doc) VALUES (%s, %s) ON CONFLICT (seq)"
                " DO UPDATE SET doc = excluded.doc",
                (seq, dumps(item.to_dict())),
            )

    def _take_dead_letters(self) -> list[OutboxItem]:
        # DELETE ... RETURNING: of two processes taking them at once, each row goes to one.
        with self._tx() as conn:
            rows = conn.execute("DELETE FROM dead_letters RETURNING seq, doc").fetchall()
        return [OutboxItem.from_dict(json.loads(doc)) for _, doc in sorted(rows)]

    def _items(self, sql: str, params: Iterable[Any] = ()) -> list[OutboxItem]:
        with self._tx() as conn:
            rows = conn.execute(sql, list(params)).fetchall()
        return [OutboxItem.from_dict(json.loads(r[0])) for r in rows]

    def pending_outbox(self) -> list[OutboxItem]:
        return self._items("SELECT doc FROM outbox ORDER BY seq")

    def dead_letters(self) -> list[OutboxItem]:
        return self._items("SELECT doc FROM dead_letters ORDER BY seq")

    # --- several processes ------------------------------------------------------------------

    def claim_outbox(self, lease: timedelta) -> list[OutboxItem]:
        """The pending items of the destinations this process delivers to for `lease` from
        now: those no other process holds (or whose holder's lease ran out), in order. Two
        processes claiming at once skip each other's locked rows instead of waiting."""
        if self._ro is not None:
            return self.pending_outbox()
        with self._tx() as conn:
            now = lease_now(self.clock, conn)  # (the server's clock: see postgres_leases)
            conn.execute(
                "INSERT INTO destination_leases(destination, owner, until)"
                " SELECT DISTINCT destination, '', '' FROM outbox ON CONFLICT DO NOTHING"
            )
            mine = [
                r[0]
                for r in conn.execute(
                    "SELECT destination FROM destination_leases WHERE owner = %s OR until <= %s"
                    " OR until > %s FOR UPDATE SKIP LOCKED",
                    (self.owner, *run_out(now)),
                )
            ]
            conn.execute(
                "UPDATE destination_leases SET owner = %s, until = %s WHERE destination = ANY(%s)",
                (self.owner, (now + lease).isoformat(), mine),
            )
        return self._items(
            "SELECT doc FROM outbox WHERE destination = ANY(%s) ORDER BY seq", (mine,)
        )

    # --- small state ------------------------------------------------------------------------

    def save_file(self, relative: str, data: bytes) -> Path | None:
        """Derived files (digest charts) stay on this process's disk, under data_dir."""
        if self.data_dir is None:
            return None
        return save_derived_file(self.data_dir, relative, data, self.read_only)

    def get_state(self, key: str, default: Any = None) -> Any:
        with self._tx() as conn:
            row = conn.execute("SELECT value FROM state WHERE key = %s", (key,)).fetchone()
        return json.loads(row[0]) if row else default

    def set_state(self, key: str, value: Any) -> None:
        with self._tx() as conn:
            conn.execute(
                "INSERT INTO state(key, value) VALUES (%s, %s)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, dumps(value)),
            )

    def all_state(self) -> dict[str, Any]:
        with self._tx() as conn:
            rows = conn.execute("SELECT key, value FROM state").fetchall()
        return {k: json.loads(v) for k, v in rows}

    def close(self) -> None:
        with self._lock:
            if self._pool is not None:  # a clean stop: the others take its sources at once
                with contextlib.suppress(psycopg.Error, StorageError), self._tx() as conn:
                    for table in ("source_leases", "destination_leases"):
                        conn.execute(f"DELETE FROM {table} WHERE owner = %s", (self.owner,))
            for open_conn in (self._ro, self._lock_conn):
                if open_conn is not None:
                    open_conn.close()  # read-only: its transaction is dropped, never committed
            self._ro = self._lock_conn = None
            if self._pool is not None:
                self._pool.close()
                self._pool = None
