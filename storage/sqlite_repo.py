"""The embedded store on SQLite (stdlib sqlite3): one file, data_dir/buzzwatch.sqlite3.

- WAL while a writer has it open (readers next to the running bot never block it); a clean
  close checkpoints and switches the file back to a plain rollback journal, so a dry run or a
  `mentions` query next to no running bot creates no file at all.
- Every write is a transaction: a poll cycle's alerts, outbox items and seen ids are stored
  together or not at all, its mentions in slices before them (kill -9: the cycle is redone).
- Mention text is searched through FTS5 with the trigram tokenizer (any substring of 3+
  characters, Chinese or Latin) plus an index of Chinese 1- and 2-character grams; the
  search column marks Latin word starts, so a query's "word start" rule is an exact
  substring test and the whole query (text, time, brand, source, flags, sentiment, count,
  page) runs in SQL.
- The schema is versioned by PRAGMA user_version (storage/sqlite_schema.py); the search
  plan is storage/sqlite_search.py's, the rows storage/mention_search.py's, the mention
  writes and full-text index rows (with their filter tags and time) storage/sqlite_mentions.py's.
- One connection, guarded by one re-entrant lock (also `locked()`), shared by the bot's
  threads: SQLite serialises writers anyway, and every call here is short.

Read-only (dry run, queries next to a running bot): the file is opened with mode=ro; the
first write copies the small tables (alerts, outbox, dead letters, state) into TEMP tables
that shadow them, and mentions and seen ids "stored" then live in memory. Nothing reaches
the disk, and the run still sees its own changes, as TinyDBRepository(read_only=True) does.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from core.domain.clock import Clock, SystemClock
from core.domain.models import Alert, Mention, OutboxItem
from core.domain.query import MentionQuery
from core.reports.query import search_records
from storage.alert_cache import ParsedAlerts
from storage.atomic_json import StorageError, save_derived_file
from storage.common import (
    AlertOutboxWrites,
    OneProcessLeases,
    SQLOnceKeys,
    alert_number,
    dumps,
    reserve_from_state,
    scalar,
    signed64,
    unsigned64,
)
from storage.process_lock import ProcessLock
from storage.sqlite_alerts import SQLiteReads
from storage.sqlite_checkpoints import Checkpointer
from storage.sqlite_mentions import CHUNK, prepare_mentions, put_mentions, store_ahead
from storage.sqlite_pages import PageReader
from storage.sqlite_schema import INDEXES, TABLES, connect
from storage.sqlite_search import mentions_said_since, plan_search
from storage.store_lock import JobLocks, StoreLock

DB_NAME = "buzzwatch.sqlite3"


class SQLiteRepository(SQLiteReads, AlertOutboxWrites, OneProcessLeases, SQLOnceKeys, JobLocks):
    stores_mentions_ahead = True  # see Repository.stores_mentions_ahead

    def __init__(self, data_dir: Path, clock: Clock | None = None, read_only: bool = False) -> None:
        self.data_dir = Path(data_dir)
        self.path = self.data_dir / DB_NAME
        self.clock = clock or SystemClock()
        self.read_only = read_only
        self._lock = StoreLock()
        self._synchronous = "FULL"  # (sqlite_schema.connect's)
        self._depth = 0
        self._overlay = False  # read-only: the small tables are shadowed by TEMP copies
        self._new_mentions: dict[str, dict[str, Any]] = {}  # read-only: mentions "stored"
        self._new_seen: set[str] = set()
        self._alert_cache = ParsedAlerts()
        self._near: tuple[list[int], int] = ([], 0)
        self._process_lock = None if read_only else ProcessLock(self.data_dir)
        try:
            self._db = connect(self.path, self.read_only)
        except BaseException:
            if self._process_lock is not None:
                self._process_lock.release()
            raise
        self.fts = self._has_table("mention_text")
        self._checkpoints: Checkpointer | None = None
        if not read_only and self.path.exists():  # (sqlite_checkpoints.py)
            self._db.execute("PRAGMA wal_autocheckpoint = 0")
            self._db.execute("PRAGMA journal_size_limit = 0")  # its size: what is due
            self._checkpoints = Checkpointer(self.path)
        self._reader = PageReader(self.path) if self._checkpoints else None  # (sqlite_pages.py)
        self._db.create_function(
            "bw_near", 1, lambda fp: self._is_near(unsigned64(fp)), deterministic=True
        )

    # --- opening and schema ----------------------------------------------------------------

    def _has_table(self, name: str) -> bool:
        row = self._db.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)
        ).fetchone()
        return row is not None

    def locked(self) -> StoreLock:
        """The repository's lock, for a read-modify-write that spans several calls."""
        return self._lock

    @contextlib.contextmanager
    def _tx(self, durable: bool = True) -> Iterator[sqlite3.Connection]:
        """One write transaction (nested calls join the outer one); any error rolls it back.
        Not `durable`: a cycle's mentions stored ahead, committed without waiting for the
        disk (a crash may lose them, and the cycle, not seen yet, is redone); the WAL is
        written in order, so the cycle's last, durable commit brings them to disk too."""
        with self._lock:
            if self.read_only and not self._overlay:
                self._start_overlay()
            if self._depth:
                self._depth += 1
                try:
                    yield self._db
                finally:
                    self._depth -= 1
                return
            self._depth = 1
            try:
                level = "FULL" if durable or self.read_only else "NORMAL"
                if level != self._synchronous:  # (not allowed inside a transaction)
                    self._db.execute(f"PRAGMA synchronous = {level}")
                    self._synchronous = level
                # Read-only writes go to TEMP tables only: no lock on the file is wanted.
                self._db.execute("BEGIN" if self.read_only else "BEGIN IMMEDIATE")
                try:
                    yield self._db
                    self._db.execute("COMMIT")
                    if self._checkpoints is not None:
                        self._checkpoints.committed()
                except BaseException:
                    # A full disk (SQLITE_FULL) may have rolled back already: a second
                    # ROLLBACK would fail and hide that error behind "no transaction is
                    # active"; a COMMIT that failed leaves one to end.
                    if self._db.in_transaction:
                        self._db.execute("ROLLBACK")
                    raise
            except sqlite3.DatabaseError as err:
                raise StorageError(f"could not write {self.path}: {err}") from err
            finally:
                self._depth = 0

    def _start_overlay(self) -> None:
        """Read-only: shadow the small tables with TEMP copies that take this run's writes."""
        if self.path.exists():
            for name, ddl in TABLES.items():
                self._db.execute(ddl.format(s="temp."))
                self._db.execute(f"INSERT INTO temp.{name} SELECT * FROM main.{name}")
            for ddl in INDEXES:
                self._db.execute(ddl.format(s="temp."))
        self._overlay = True

    # --- mentions ---------------------------------------------------------------------------

    def unseen(self, ids: Iterable[str]) -> list[str]:
        wanted = list(dict.fromkeys(ids))
        known: set[str] = set()
        with self._lock:
            for i in range(0, len(wanted), CHUNK):
                chunk = wanted[i : i + CHUNK]
                marks = ",".join("?" * len(chunk))
                rows = self._db.execute(f"SELECT id FROM seen WHERE id IN ({marks})", chunk)
                known.update(r[0] for r in rows)
            known |= self._new_seen
        return [i for i in wanted if i not in known]

    def save_cycle(
        self,
        mentions: list[Mention],
        seen_ids: list[str],
        alerts: list[Alert],
        outbox: list[OutboxItem],
    ) -> None:
        """A cycle's mentions go first, in short transactions (sqlite_mentions.store_ahead),
        then the seen ids, alerts and outbox items in one. The lock (and SQLite's one writer)
        is so held for a short while at a time, and an ack typed meanwhile waits for a few
        mentions' write, not for the cycle (issue 16: 1.8 s p95 under load before). A crash
        before the last transaction leaves mentions stored but not seen: the cycle is redone
        and stores them again (replaced by id), as the protocol asks."""
        docs = [m.to_dict() for m in mentions]
        if self.read_only:
            with self._lock:
                self._new_mentions.update((d["id"], d) for d in docs)
            docs = []
        store_ahead(lambda: self._tx(durable=False), self._lock, docs, self.fts)
        if seen_ids or alerts or outbox:
            self._lock.give_way()
            with self._tx() as db:
                self._put_alerts(alerts)
                self._insert_outbox(outbox)
                self._add_seen(seen_ids, self.clock.now().date().isoformat(), db)

    def _put_mentions(self, docs: list[dict[str, Any]]) -> None:
        if not docs:
            return
        if self.read_only:
            for doc in docs:
                self._new_mentions[doc["id"]] = doc
            return
        put_mentions(self._db, prepare_mentions(docs, self.fts), self.fts)

    def _add_seen(self, ids: Iterable[str], day: str, db: sqlite3.Connection) -> None:
        if self.read_only:
            self._new_seen.update(ids)
            return
        db.executemany("INSERT OR IGNORE INTO seen(id, day) VALUES (?, ?)", ((i, day) for i in ids))

    def iter_mentions(self, since: datetime | None) -> Iterable[dict[str, Any]]:
        """Records said (published, else fetched: the `at` the queries use) on or after
        `since`'s UTC day, newest first, read a page at a time (sqlite_search.ITER_ROWS): the
        digest reads a week, which would not fit in memory at once; on a connection of its own
        (sqlite_pages.py), not under the store's lock: an ack waits for none of it."""
        day = since.astimezone(UTC).date().isoformat() if since else ""
        with self._lock:
            overlay = dict(self._new_mentions)  # read-only: this run's "stored" mentions
        read = self._reader.page if self._reader is not None else self._page
        return mentions_said_since(read, day, overlay)

    def _page(self, sql: str, params: tuple[Any, ...]) -> list[tuple[str, int, str]]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    def search_mentions(
        self,
        query: MentionQuery,
        now: datetime,
        negative_threshold: float,
        positive_threshold: float,
    ) -> tuple[list[dict[str, Any]], int]:
        """Matching records, newest first: the page asked for and the total count."""
        want = query.offset + query.limit
        skip = 0 if self._new_mentions else query.offset
        with self._lock:
            plan = plan_search(
                self._db, self.fts, query, now, negative_threshold, positive_threshold
            )
            total = plan.count(self._db, want)
            rids = plan.page(self._db, total, want - skip, skip)
            docs = dict(
                self._db.execute(
                    f"SELECT rid, doc FROM mention_docs WHERE rid IN ({','.join('?' * len(rids))})",
                    rids,
                ).fetchall()
            )
            # (read-only: a mention the bot replaced between the two reads is left out)
            page = [json.loads(docs[r]) for r in rids if r in docs]
            if not self._new_mentions:
                return page, total
            # A dry run's own mentions are matched in Python and merged in.
            extra, n = search_records(
                list(self._new_mentions.values()),
                MentionQuery(**{**query.__dict__, "offset": 0, "limit": want}),
                now,
                negative_threshold,
                positive_threshold,
            )
        page = [d for d in page if d["id"] not in self._new_mentions] + extra
        page.sort(key=lambda d: d.get("published") or d.get("fetched_at") or "", reverse=True)
        return page[query.offset : want], total + n

    def count_mentions(self) -> int:
        with self._lock:
            n = scalar(self._db.execute("SELECT count(*) FROM mentions").fetchone())
            return int(n) + len(self._new_mentions)

    # --- alerts -----------------------------------------------------------------------------

    def next_alert_ids(self, count: int) -> list[str]:
        with self._tx():
            return [f"A{n}" for n in reserve_from_state(self, "alert_seq", count)]

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
                    alert.created_at,
                    alert.resolved_at,
                    alert.kind,
                    alert.dedup_key,
                    signed64(alert.fingerprint),
                    int(archived),
                    dumps(alert.to_dict()),
                )
            )
        self._db.executemany(
            "INSERT INTO alerts(n, status, created_at, resolved_at, kind, dedup_key, fingerprint,"
            " archived, doc) VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT(n) DO UPDATE SET"
            " status = excluded.status, fingerprint = excluded.fingerprint,"
            " created_at = excluded.created_at, resolved_at = excluded.resolved_at,"
            " kind = excluded.kind, dedup_key = excluded.dedup_key,"
            " archived = excluded.archived, doc = excluded.doc",
            rows,
        )

    def _alerts(self, sql: str, params: Iterable[Any] = ()) -> list[Alert]:
        """Alerts from `SELECT n, doc ...`, each a fresh copy."""
        return [self._alert_cache.parse(n, doc) for n, doc in self._db.execute(sql, tuple(params))]

    def get_alert(self, alert_id: str) -> Alert | None:
        n = alert_number(alert_id)
        if n is None:
            return None
        with self._lock:
            found = self._alerts("SELECT n, doc FROM alerts WHERE n = ?", (n,))
        return found[0] if found else None

    def archive_alerts(self, resolved_before: datetime) -> int:
        """Mark alerts resolved before then (with nothing left to send) archived: find_alerts
        and active_alerts skip them, get_alert still finds them. Nothing moves: an index
        keeps open alerts fast whatever the table holds."""
        stamp = resolved_before.astimezone(UTC).isoformat()
        with self._tx() as db:
            cur = db.execute(
                "UPDATE alerts SET archived = 1 WHERE archived = 0 AND status = 'resolved'"
                " AND resolved_at > '' AND resolved_at < ?"
                " AND 'A' || n NOT IN (SELECT alert_id FROM outbox WHERE alert_id IS NOT NULL)",
                (stamp,),
            )
            return cur.rowcount

    def find_alerts(self, predicate: Callable[[Alert], bool]) -> list[Alert]:
        with self._lock:
            alerts = self._alerts("SELECT n, doc FROM alerts WHERE archived = 0 ORDER BY n")
        return [a for a in alerts if predicate(a)]

    def active_alerts(self, created_since: str = "") -> list[Alert]:
        """Alerts not resolved, and (with `created_since`) resolved ones created at or after
        it; archived ones left out. In id order."""
        with self._lock:
            alerts = self._alerts(
                "SELECT n, doc FROM alerts WHERE status != 'resolved' AND archived = 0"
            )
            if created_since:
                alerts += self._alerts(
                    "SELECT n, doc FROM alerts WHERE created_at >= ? AND status = 'resolved'"
                    " AND archived = 0",
                    (created_since,),
                )
        alerts.sort(key=lambda a: alert_number(a.id) or 0)
        return alerts

    # --- outbox -----------------------------------------------------------------------------

    # The steps of storage.common.AlertOutboxWrites (change_alert and the outbox writes).

    def _write(self) -> AbstractContextManager[sqlite3.Connection]:
        return self._tx()

    def _alert_for_update(self, n: int) -> tuple[Alert, bool] | None:
        row = self._db.execute("SELECT doc, archived FROM alerts WHERE n = ?", (n,)).fetchone()
        return None if row is None else (self._alert_cache.parse(n, row[0]), bool(row[1]))

    def _next_outbox_seqs(self, count: int) -> list[int]:
        return reserve_from_state(self, "outbox_seq", count)

    def _put_outbox(self, rows: list[tuple[int, OutboxItem]]) -> None:
        self._db.executemany(
            "INSERT OR REPLACE INTO outbox(seq, alert_id, doc) VALUES (?,?,?)",
            [(seq, item.alert_id or None, dumps(item.to_dict())) for seq, item in rows],
        )

    def _delete_outbox(self, seqs: list[int]) -> None:
        self._db.executemany("DELETE FROM outbox WHERE seq = ?", ((s,) for s in seqs))

    def _put_dead_letter(self, seq: int, item: OutboxItem) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO dead_letters(seq, doc) VALUES (?,?)",
            (seq, dumps(item.to_dict())),
        )

    def _take_dead_letters(self) -> list[OutboxItem]:
        rows = self._db.execute("SELECT doc FROM dead_letters ORDER BY seq").fetchall()
        self._db.execute("DELETE FROM dead_letters")
        return [OutboxItem.from_dict(json.loads(r[0])) for r in rows]

    def pending_outbox(self) -> list[OutboxItem]:
        with self._lock:
            rows = self._db.execute("SELECT doc FROM outbox ORDER BY seq").fetchall()
        return [OutboxItem.from_dict(json.loads(r[0])) for r in rows]

    def dead_letters(self) -> list[OutboxItem]:
        with self._lock:
            rows = self._db.execute("SELECT doc FROM dead_letters ORDER BY seq").fetchall()
        return [OutboxItem.from_dict(json.loads(r[0])) for r in rows]

    # --- small state: one row per key, so a source's state saves only that source -----------

    def save_file(self, relative: str, data: bytes) -> Path | None:
        return save_derived_file(self.data_dir, relative, data, self.read_only)

    def get_state(self, key: str, default: Any = None) -> Any:
        with self._lock:
            row = self._db.execute("SELECT value FROM state WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else default

    def set_state(self, key: str, value: Any) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT INTO state(key, value) VALUES (?, ?)"
                " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, dumps(value)),
            )

    def all_state(self) -> dict[str, Any]:
        with self._lock:
            rows = self._db.execute("SELECT key, value FROM state").fetchall()
        return {k: json.loads(v) for k, v in rows}

    def close(self) -> None:
        with self._lock:
            if self._db is None:
                return
            for side in (self._reader, self._checkpoints):  # (before the journal mode)
                if side is not None:
                    side.close()
            if not self.read_only:
                # Back to a rollback journal when no one else has the file open: readers
                # (dry runs, queries) then create no -wal/-shm files next to it.
                with contextlib.suppress(sqlite3.DatabaseError):
                    self._db.execute("PRAGMA busy_timeout = 0")
                    self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                    self._db.execute("PRAGMA journal_mode = DELETE")
            self._db.close()
            self._db = None  # type: ignore[assignment]
            if self._process_lock is not None:
                self._process_lock.release()
                self._process_lock = None
