"""The PostgreSQL store's change_alert in two round trips (issue 16: an ack under load).

The general path (storage/common.AlertOutboxWrites.change_alert) waits for the server nine
times: BEGIN, the row read for update, the alert's upsert, the outbox positions, the
outbox rows, COMMIT (and a get_alert before it): each wait is a wake-up that needs a core
and the GIL again when both cores are busy. Here the statements go in psycopg's pipeline
mode, so the client waits twice:

1. BEGIN, the pipeline's advisory lock taken shared (grouping holds it exclusively while it
   reads alerts, changes them and writes them back: a change made meanwhile would be
   overwritten), and the alert's row read FOR UPDATE (two people acking at once: the
   second reads the first's change);
2. the change made in Python, then the alert's row updated, each outbox item inserted at
   a position nextval() gives it in the same statement (its id, "o<position>", written
   into its stored text there), and COMMIT.

synchronous_commit is the server's (an ack is durable when it is answered).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import TypeVar

import psycopg
from psycopg_pool import ConnectionPool

from core.domain.models import Alert, OutboxItem
from storage.atomic_json import StorageError
from storage.common import AlertOutboxWrites, alert_number, dumps, signed64
from storage.postgres_search import pg_text
from storage.store_lock import Urgent

T = TypeVar("T")

PIPELINE_LOCK = 0x42575A02  # advisory lock key: any constant the app owns

_UPDATE = (
    "UPDATE alerts SET status = %s, created_at = %s, resolved_at = %s, kind = %s,"
    " dedup_key = %s, fingerprint = %s, doc = %s WHERE n = %s"
)
# An item's stored text is its JSON with the id first (OutboxItem's first field): the id
# the position gives is written in between the head and the rest.
_NO_ID = '{"id":""'
_INSERT = (
    "INSERT INTO outbox(seq, alert_id, destination, doc)"
    " SELECT s, %s, %s, '{\"id\":\"o' || s || '\"' || %s"
    " FROM (SELECT nextval('outbox_ids') AS s) AS position RETURNING seq"
)
_PUT = (
    "INSERT INTO outbox(seq, alert_id, destination, doc) VALUES (%s, %s, %s, %s)"
    " ON CONFLICT (seq) DO UPDATE SET alert_id = excluded.alert_id,"
    " destination = excluded.destination, doc = excluded.doc RETURNING seq"
)


def alert_columns(alert: Alert, n: int) -> tuple[object, ...]:
    """The UPDATE's parameters: the alert's indexed columns and its text, then its number."""
    return (
        alert.status,
        pg_text(alert.created_at),
        pg_text(alert.resolved_at),
        alert.kind,
        pg_text(alert.dedup_key),
        signed64(alert.fingerprint),
        dumps(alert.to_dict()),
        n,
    )


def change_alert(
    conn: psycopg.Connection,
    n: int,
    change: Callable[[Alert], T],
    outbox: Callable[[Alert, T], list[OutboxItem]] | None,
    shared_lock: bool,
) -> T | None:
    """Repository.change_alert on one connection (autocommit, not in a transaction).
    `shared_lock`: take the pipeline's advisory lock shared (False when this thread holds
    it already, through locked())."""
    cursors: list[tuple[psycopg.Cursor, OutboxItem]] = []
    with conn.pipeline(), conn.transaction():
        if shared_lock:
            conn.execute("SELECT pg_advisory_xact_lock_shared(%s)", (PIPELINE_LOCK,))
        row = conn.execute(
            "SELECT doc, archived FROM alerts WHERE n = %s FOR UPDATE", (n,)
        ).fetchone()
        if row is None or row[1]:  # archived ones are not changed
            return None
        alert = Alert.from_dict(json.loads(row[0]))
        result = change(alert)  # may raise: the transaction is rolled back
        items = outbox(alert, result) if outbox else []
        conn.execute(_UPDATE, alert_columns(alert, n))
        for item in items:
            if item.id:  # given its position already
                seq = int(item.id.removeprefix("o"))
                args: tuple[object, ...] = (seq, item.alert_id or None, item.destination)
                cursors.append((conn.execute(_PUT, (*args, dumps(item.to_dict()))), item))
                continue
            text = dumps(item.to_dict())
            if not text.startswith(_NO_ID):
                raise ValueError("an outbox item's JSON must start with its id")
            args = (item.alert_id or None, item.destination, text[len(_NO_ID) :])
            cursors.append((conn.execute(_INSERT, args), item))
    for cur, item in cursors:  # (the results came with the commit's round trip)
        found = cur.fetchone()
        if found is None:
            raise psycopg.DataError("an outbox insert returned no position")
        item.id = item.id or f"o{found[0]}"
    return result


class PostgresChanges(AlertOutboxWrites):
    """PostgresRepository's change_alert (its attributes, as it sets them)."""

    _pool: ConnectionPool | None
    _local: threading.local
    _lock: threading.RLock
    _lock_depth: int
    _urgent: Urgent

    def change_alert(
        self,
        alert_id: str,
        change: Callable[[Alert], T],
        outbox: Callable[[Alert, T], list[OutboxItem]] | None = None,
    ) -> T | None:
        """In two round trips (change_alert above); read-only, or in a transaction of this
        thread, the general path (common.AlertOutboxWrites)."""
        n = alert_number(alert_id)
        if self._pool is None or getattr(self._local, "conn", None) is not None or n is None:
            return super().change_alert(alert_id, change, outbox)
        try:
            # The process's lock first: waiting for this process's grouping holds no
            # connection of the pool, which grouping may need to finish.
            with self._lock, self._urgent, self._pool.connection() as conn:
                self._local.conn = conn  # (what `change` and `outbox` read joins it)
                try:
                    mine = self._lock_depth > 0  # (this thread's: the lock is re-entrant)
                    return change_alert(conn, n, change, outbox, shared_lock=not mine)
                finally:
                    self._local.conn = None
        except psycopg.Error as err:
            raise StorageError(f"PostgreSQL store: {err}") from err
