"""The embedded default repository.

Two kinds of data, kept apart on purpose:
- small, hot state (alerts, the outbox, counters, per-source fetch state) in one TinyDB file
  written atomically; an ack rewrites only this file;
- the bulk of mentions in append-only day files (storage.mention_log), plus the ids of
  entries already seen (storage.seen_log).
One re-entrant lock guards every call: TinyDB is not thread-safe.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import MISSING, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tinydb import TinyDB
from tinydb.table import Document, Table

from core.domain.clock import Clock, SystemClock
from core.domain.models import Alert, Mention, OutboxItem, Status
from core.domain.query import MentionQuery
from core.reports.query import search_records
from storage.alert_ids import AlertIdMark, highest_archived_id
from storage.atomic_json import (
    AtomicJSONStorage,
    remove_orphaned_temps,
    save_derived_file,
)
from storage.common import (
    AlertOutboxWrites,
    OneProcessLeases,
    alert_number,
    once_key,
    reserve_from_state,
    utc_stamp,
)
from storage.mention_log import MentionLog, append_jsonl
from storage.narrow_reads import ScanReads
from storage.process_lock import ProcessLock
from storage.seen_log import SeenLog
from storage.store_lock import JobLocks

log = logging.getLogger("buzzwatch.storage")

CYCLE_SEEN = "cycle_seen_ids"


def _bulk_upsert(table: Table, docs: dict[int, dict[str, Any]]) -> None:
    """Insert or replace many documents by id in one table update.

    TinyDB's upsert() rebuilds the whole table once per document; a poll cycle can bring
    hundreds of alerts. Table._update_table is TinyDB's own single-update primitive.
    """
    if not docs:
        return

    def put(table_docs: dict[int, Any]) -> None:
        table_docs.update(docs)

    table._update_table(put)


# The fields a stored record cannot do without (those with no default).
_REQUIRED = {
    model: frozenset(
        f.name for f in fields(model) if f.default is MISSING and f.default_factory is MISSING
    )
    for model in (Alert, OutboxItem)
}


def check_records(data: dict[str, Any]) -> None:
    """Raise ValueError unless the state file's records are ones this repository wrote: a
    hand-edited or damaged record ("garbage" for an alert) is corruption, found at load
    (then the backup is used), not a crash in every poll and `status` afterwards."""
    for table, model in (("alerts", Alert), ("outbox", OutboxItem), ("dead_letters", OutboxItem)):
        required = _REQUIRED[model]
        for doc_id, doc in data.get(table, {}).items():
            if not required <= doc.keys():
                missing = ", ".join(sorted(required - doc.keys()))
                raise ValueError(f"{table}/{doc_id} is not a stored record (no {missing})")
            if not isinstance(doc["id"], str) or not isinstance(doc["created_at"], str):
                raise ValueError(f"{table}/{doc_id} has an id or time that is not text")
            if table == "alerts" and alert_number(doc["id"]) != int(doc_id):
                raise ValueError(f"alerts/{doc_id} holds alert {doc['id'][:20]!r}")
    state = data.get("state", {})
    for doc in state.values():
        for key in ("alert_seq", "outbox_seq"):
            if not isinstance(doc.get(key, 0), int):
                raise ValueError(f"state/{key} is not a number: {str(doc.get(key))[:20]!r}")


class TinyDBRepository(ScanReads, AlertOutboxWrites, OneProcessLeases, JobLocks):
    stores_mentions_ahead = False  # see Repository.stores_mentions_ahead

    def __init__(
        self,
        data_dir: Path,
        clock: Clock | None = None,
        read_only: bool = False,
        start_empty: bool = False,
    ) -> None:
        """`start_empty`: when the state file and its backup are both unreadable (or gone
        while alert ids were issued), start with no alerts and no queued messages instead
        of refusing to start. Alert ids still carry on above every id issued."""
        self.data_dir = Path(data_dir)
        self.clock = clock or SystemClock()
        self.read_only = read_only
        self.start_empty = start_empty
        self._lock = threading.RLock()
        self._process_lock = None if read_only else ProcessLock(self.data_dir)
        try:
            self._open()
        except BaseException:
            if self._process_lock is not None:
                self._process_lock.release()
            raise

    def _open(self) -> None:
        read_only = self.read_only
        self._storage: AtomicJSONStorage
        if self._process_lock is not None:  # the lock: no other writer owns a temp file now
            remove_orphaned_temps(self.data_dir / "state.json")
        self._db = TinyDB(self.data_dir / "state.json", storage=self._make_storage)
        self._alerts = self._db.table("alerts", cache_size=0)
        self._outbox = self._db.table("outbox", cache_size=0)
        self._dead = self._db.table("dead_letters", cache_size=0)
        self._state = self._db.table("state", cache_size=0)
        self._once = self._db.table("once_keys", cache_size=0)
        self._archive_dir = self.data_dir / "alerts-archive"
        self._id_mark = AlertIdMark(self.data_dir / "alert-ids", read_only=read_only)
        self._storage.read()  # now: a state that cannot be used is said at start
        self._keep_alert_ids_above_issued()
        self.mentions = MentionLog(self.data_dir / "mentions", read_only=read_only)
        self.seen = SeenLog(self.data_dir / "seen", self.clock.now().date(), read_only=read_only)
        self._seen_checked = False
        if not read_only:
            # ids of the last cycle that stored alerts; already in the seen log unless the
            # process died between the two writes (adding them again is a no-op)
            self.seen.add(self.get_state(CYCLE_SEEN, []) or [], self.clock.now().date())

    def _keep_alert_ids_above_issued(self) -> None:
        """The counter carries on above every id issued from this folder, also when the
        state came from an older backup, an older copy put back by hand, or nothing (state
        and backup deleted; or a crash between the first reservation and the first write
        of a new folder, which is why a missing state alone is not refused)."""
        seq = int(self.get_state("alert_seq", 0))
        mark = self._id_mark.mark
        floor = mark
        if self._storage.recovered or not mark:  # the archive knows ids the state forgot
            floor = max(floor, highest_archived_id(self._archive_dir))
        if floor > seq:
            log.warning(
                "the state knows alert ids up to A%d, but up to A%d were issued from this "
                "folder (a state recovered from its backup, put back from an older copy, or "
                "started empty): ids carry on from A%d, none is reused",
                seq,
                floor,
                floor + 1,
            )
            if not self.read_only:
                with self._storage.transaction():
                    self.set_state("alert_seq", floor)

    def locked(self) -> threading.RLock:
        """The repository's lock, for a read-modify-write that spans several calls (the
        pipeline's grouping must not overwrite an ack made in between)."""
        return self._lock

    def _make_storage(self, path: Path) -> AtomicJSONStorage:
        self._storage = AtomicJSONStorage(
            path, read_only=self.read_only, validate=check_records, allow_empty=self.start_empty
        )
        return self._storage

    # --- mentions ---------------------------------------------------------------------------

    def unseen(self, ids: Iterable[str]) -> list[str]:
        with self._lock:
            if not self._seen_checked:
                self._restore_seen_from_mentions()
            return [i for i in dict.fromkeys(ids) if i not in self.seen]

    def _restore_seen_from_mentions(self) -> None:
        """Every stored mention's id belongs in the seen log. If the seen file was lost or
        damaged, old entries would come back as new and count again on their alerts (or
        post again): put the stored ones back, once per process (a fast scan of the ids)."""
        today = self.clock.now().date()
        oldest = self.seen.oldest_month(today)
        missing = [i for i in self.mentions.iter_ids(oldest) if i not in self.seen]
        if missing:
            log.warning(
                "the seen log (%s) lacked %d id(s) of stored mentions (a lost or damaged "
                "file); restored them from the mention log, so they do not count again",
                self.seen.folder,
                len(missing),
            )
            self.seen.add(missing, today)
        self._seen_checked = True

    def save_cycle(
        self,
        mentions: list[Mention],
        seen_ids: list[str],
        alerts: list[Alert],
        outbox: list[OutboxItem],
    ) -> None:
        with self._lock:
            if mentions:
                self.mentions.append(m.to_dict() for m in mentions)
            if alerts or outbox:
                with self._storage.transaction():
                    self._put_alerts(alerts)
                    self._insert_outbox(outbox)
                    # The cycle's ids go into the same write as its alerts: a crash before
                    # they reach the seen log cannot make the next run count them again.
                    self.set_state(CYCLE_SEEN, list(seen_ids))
            if seen_ids:  # (the pipeline stores its mentions first, with none)
                self.seen.add(seen_ids, self.clock.now().date())

    def iter_mentions(self, since: datetime | None) -> Iterable[dict[str, Any]]:
        with self._lock:
            return list(self.mentions.iter_since(since))

    def search_mentions(
        self,
        query: MentionQuery,
        now: datetime,
        negative_threshold: float,
        positive_threshold: float,
    ) -> tuple[list[dict[str, Any]], int]:
        records = self.iter_mentions(now - query.since)
        return search_records(records, query, now, negative_threshold, positive_threshold)

    def count_mentions(self) -> int:
        with self._lock:
            return sum(1 for _ in self.mentions.iter_since(None))

    # --- alerts -----------------------------------------------------------------------------

    def next_alert_ids(self, count: int) -> list[str]:
        """Reserve `count` alert ids (A1, A2, ...) with one write."""
        with self._lock:
            first = int(self.get_state("alert_seq", 0)) + 1
            self._id_mark.cover(first + count - 1)  # first: the mark outlives the state
            self.set_state("alert_seq", first + count - 1)
            return [f"A{n}" for n in range(first, first + count)]

    def _put_alerts(self, alerts: list[Alert], archived: bool = False) -> None:
        """(`archived`: always False here, archived alerts live in alerts-archive/.)"""
        docs = {}
        for alert in alerts:
            n = alert_number(alert.id)
            if n is None:
                raise ValueError(f"bad alert id {alert.id!r}")
            docs[n] = alert.to_dict()
        _bulk_upsert(self._alerts, docs)

    def get_alert(self, alert_id: str) -> Alert | None:
        n = alert_number(alert_id)
        if n is None:
            return None
        with self._lock:
            doc: dict[str, Any] | None = self._alerts.get(doc_id=n)
            if doc is None and n <= int(self.get_state("alert_seq", 0)):
                doc = self._archived(f"A{n}")
            return Alert.from_dict(doc) if doc else None

    # --- archive: resolved alerts leave the hot file, so an ack stays cheap for months --------

    def archive_alerts(self, resolved_before: datetime) -> int:
        """Move alerts resolved before then (with nothing left to send) to
        alerts-archive/YYYY-MM.jsonl. Archived first, removed second: a crash in between
        leaves a copy in both places, never in neither."""
        stamp = resolved_before.astimezone(UTC).isoformat()
        with self._lock:
            waiting = {o.get("alert_id") for o in self._outbox.all()}
            old = [
                d
                for d in self._alerts.all()
                if d.get("status") == Status.RESOLVED
                and "" < d.get("resolved_at", "") < stamp
                and d.get("id") not in waiting
            ]
            if not old:
                return 0
            if not self.read_only:
                by_month: dict[str, list[dict[str, Any]]] = {}
                for d in old:
                    by_month.setdefault(d["resolved_at"][:7], []).append(dict(d))
                self._archive_dir.mkdir(parents=True, exist_ok=True)
                for month, docs in by_month.items():
                    append_jsonl(self._archive_dir / f"{month}.jsonl", docs)
            with self._storage.transaction():
                self._alerts.remove(doc_ids=[d.doc_id for d in old])
            return len(old)

    def _archived(self, alert_id: str) -> dict[str, Any] | None:
        if not self._archive_dir.exists():
            return None
        needle = f'"id":"{alert_id}"'.encode()
        for path in sorted(self._archive_dir.glob("*.jsonl"), reverse=True):
            for line in path.read_bytes().splitlines():
                if needle in line:
                    try:
                        found: dict[str, Any] = json.loads(line)
                    except ValueError:
                        continue  # a torn line from a crash mid-append
                    return found
        return None

    def find_alerts(self, predicate: Callable[[Alert], bool]) -> list[Alert]:
        with self._lock:
            alerts = [Alert.from_dict(d) for d in self._alerts.all()]
        return [a for a in alerts if predicate(a)]

    def active_alerts(self, created_since: str = "") -> list[Alert]:
        return self.find_alerts(
            lambda a: (
                a.status != Status.RESOLVED or bool(created_since and a.created_at >= created_since)
            )
        )

    def grouping_candidates(
        self,
        keys: Iterable[str],
        created_since: str,
        active_since: str,
        near: tuple[list[int], int] | None = None,
    ) -> list[Alert]:
        wanted = set(keys)
        fps, distance = near or ([], 0)

        def close(a: Alert) -> bool:
            return bool(a.fingerprint) and any(
                (a.fingerprint ^ f).bit_count() <= distance for f in fps if f
            )

        def wanted_alert(a: Alert) -> bool:
            if a.status != Status.RESOLVED and (a.kind == "storm" or a.created_at >= active_since):
                return True
            if a.created_at < created_since:
                return a.status != Status.RESOLVED and a.dedup_key in wanted
            return near is None or a.created_at >= active_since or a.dedup_key in wanted or close(a)

        return self.find_alerts(wanted_alert)

    def archived_alerts(self) -> Iterable[dict[str, Any]]:
        """Every archived alert record (for migrations); a torn line is skipped."""
        for path in sorted(self._archive_dir.glob("*.jsonl")) if self._archive_dir.exists() else ():
            for line in path.read_bytes().splitlines():
                with contextlib.suppress(ValueError):
                    yield json.loads(line)

    # --- outbox -----------------------------------------------------------------------------

    # The steps of storage.common.AlertOutboxWrites (change_alert and the outbox writes).

    @contextlib.contextmanager
    def _write(self) -> Iterator[None]:
        with self._lock, self._storage.transaction():
            yield

    def _read_for_change(self) -> threading.RLock:
        return self._lock

    def _alert_for_update(self, n: int) -> tuple[Alert, bool] | None:
        doc = self._alerts.get(doc_id=n)
        return None if doc is None else (Alert.from_dict(doc), False)  # archived: not here

    def _next_outbox_seqs(self, count: int) -> list[int]:
        return reserve_from_state(self, "outbox_seq", count)

    def _put_outbox(self, rows: list[tuple[int, OutboxItem]]) -> None:
        _bulk_upsert(self._outbox, {seq: item.to_dict() for seq, item in rows})

    def _delete_outbox(self, seqs: list[int]) -> None:
        self._outbox.remove(doc_ids=[i for i in seqs if self._outbox.contains(doc_id=i)])

    def _put_dead_letter(self, seq: int, item: OutboxItem) -> None:
        self._dead.upsert(Document(item.to_dict(), doc_id=seq))

    def _take_dead_letters(self) -> list[OutboxItem]:
        docs = sorted(self._dead.all(), key=lambda d: d.doc_id)
        self._dead.truncate()
        return [OutboxItem.from_dict(d) for d in docs]

    def pending_outbox(self) -> list[OutboxItem]:
        with self._lock:
            docs = sorted(self._outbox.all(), key=lambda d: d.doc_id)
        return [OutboxItem.from_dict(d) for d in docs]

    def dead_letters(self) -> list[OutboxItem]:
        with self._lock:
            return [OutboxItem.from_dict(d) for d in self._dead.all()]

    # --- requests that act at most once -------------------------------------------------------

    def remember_once(self, kind: str, key: str, until: datetime) -> bool:
        """The keys are one document of the state file (a few hundred at most: each lives
        an hour or less), written with the key before the request is acted on."""
        now, name = utc_stamp(self.clock.now()), once_key(kind, key)
        with self._lock:
            keys = {k: u for k, u in (self._once.get(doc_id=1) or {}).items() if u > now}
            if name in keys:
                return False
            keys[name] = utc_stamp(until)
            self._once.upsert(Document(keys, doc_id=1))
            return True

    # --- derived files ----------------------------------------------------------------------

    def save_file(self, relative: str, data: bytes) -> Path | None:
        return save_derived_file(self.data_dir, relative, data, self.read_only)

    # --- small state ------------------------------------------------------------------------

    def get_state(self, key: str, default: Any = None) -> Any:
        with self._lock:
            doc = self._state.get(doc_id=1)
            return doc.get(key, default) if doc else default

    def set_state(self, key: str, value: Any) -> None:
        with self._lock:
            doc = dict(self._state.get(doc_id=1) or {})
            doc[key] = value
            self._state.upsert(Document(doc, doc_id=1))

    def all_state(self) -> dict[str, Any]:
        with self._lock:
            return dict(self._state.get(doc_id=1) or {})

    def close(self) -> None:
        with self._lock:
            self._db.close()
            if self._process_lock is not None:
                self._process_lock.release()
                self._process_lock = None
