"""`python bot.py migrate`: a TinyDB data folder (state.json, mentions/ day files, seen/
files, alerts-archive/) into the SQLite store in the same folder.

The old files are only read, never changed: the user deletes them once satisfied.
Idempotent: mentions and seen ids are merged by id on every run; alerts, the outbox, dead
letters and state go in once, in one transaction with a mark, so a second run can never
bring back an outbox item the bot has sent since (it would be sent twice).

A new store is built in a folder of its own (MIGRATING) and moved into place only once
complete: a run cut off half way, or one that could not read the TinyDB store, leaves no
buzzwatch.sqlite3 behind, so the bot still refuses to start on the SQLite backend (it would
have run on a part of the mentions and none of the alerts, alert ids from A1 again, and
every later run of `migrate` refused the store as holding alerts of its own); the next run
carries on from the part built.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.domain.models import Alert
from storage.atomic_json import StorageError, fsync_dir
from storage.common import alert_number, dumps, outbox_seq
from storage.mention_log import MentionLog
from storage.process_lock import ProcessLock
from storage.sqlite_repo import DB_NAME, SQLiteRepository
from storage.tinydb_repo import CYCLE_SEEN, TinyDBRepository

MARK_KEY = "migrated_from_tinydb"
BATCH = 5000
MIGRATING = ".migrating"  # under the data folder: a new store until it is complete


@dataclass
class MigrationReport:
    mentions: int = 0
    seen: int = 0
    alerts: int = 0
    archived: int = 0
    outbox: int = 0
    dead: int = 0
    state_keys: int = 0
    already: str = ""  # when an earlier run moved alerts/outbox/state: its time

    def summary(self, where: Path | str) -> str:
        """The counts, naming `where` they now are (a data folder, or PostgreSQL's DSN variable)."""
        lines = [
            f"{self.mentions:,} mention(s) and {self.seen:,} seen id(s) in {where}",
        ]
        if self.already:
            lines.append(
                f"alerts, outbox and state were moved by an earlier run ({self.already}); "
                "left as they are"
            )
        else:
            lines.append(
                f"{self.alerts:,} alert(s) ({self.archived:,} archived), {self.outbox:,} "
                f"outbox item(s), {self.dead:,} dead letter(s), {self.state_keys:,} state key(s)"
            )
        return "\n".join(lines)


def _seen_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.txt")) if folder.exists() else []


def _count_lines(paths: list[Path]) -> int:
    """Non-empty lines: about one record each (a torn line is counted, then skipped)."""
    return sum(sum(1 for line in p.read_bytes().split(b"\n") if line.strip()) for p in paths)


def migrate_tinydb_folder(
    data_dir: Path,
    now_iso: str,
    progress: Callable[[int], None] | None = None,
    on_total: Callable[[int], None] | None = None,
    start_empty: bool = False,
) -> MigrationReport:
    """Copy everything; the SQLite store takes the folder's lock, so the bot must be stopped.
    `start_empty`: a state file and its backup both unreadable, move the mentions and seen ids
    and no alerts or queued messages (`migrate --start-empty`; alert ids still carry on)."""
    data_dir = Path(data_dir)
    if not (data_dir / "state.json").exists() and not (data_dir / "mentions").exists():
        raise StorageError(f"{data_dir} holds no TinyDB store (no state.json, no mentions/)")
    report = MigrationReport()
    # The source opens first: a TinyDB store that cannot be read leaves nothing behind.
    source = TinyDBRepository(data_dir, read_only=True, start_empty=start_empty)
    try:
        new = not (data_dir / DB_NAME).exists()
        # The folder's lock (the bot must be stopped): the store in it takes it, else here.
        lock = ProcessLock(data_dir) if new else None
        try:
            target = SQLiteRepository(data_dir / MIGRATING if new else data_dir)
            try:
                _copy(data_dir, source, target, report, now_iso, progress, on_total)
            finally:
                target.close()
            if new:
                _into_place(data_dir / MIGRATING, data_dir)
        finally:
            if lock is not None:
                lock.release()
    finally:
        source.close()
    return report


def _into_place(built: Path, data_dir: Path) -> None:
    """The complete store moved from `built` into the data folder."""
    wal = built / (DB_NAME + "-wal")
    if wal.exists() and wal.stat().st_size:  # (its close folds the log into the file)
        raise StorageError(f"could not finish {built / DB_NAME}: run `migrate` again")
    os.replace(built / DB_NAME, data_dir / DB_NAME)
    fsync_dir(data_dir)  # the rename is on disk before the old files are deleted by anyone
    shutil.rmtree(built, ignore_errors=True)


def _copy(
    data_dir: Path,
    source: TinyDBRepository,
    target: SQLiteRepository,
    report: MigrationReport,
    now_iso: str,
    progress: Callable[[int], None] | None,
    on_total: Callable[[int], None] | None,
) -> None:
    day_files = sorted((data_dir / "mentions").glob("*.jsonl"))
    seen_files = _seen_files(data_dir / "seen")
    if on_total:
        on_total(_count_lines(day_files) + _count_lines(seen_files))
    _mentions(target, data_dir, report, progress)
    _seen(target, seen_files, source, report, progress)
    done = target.get_state(MARK_KEY)
    if done:
        report.already = str(done)
    else:
        _small_tables(target, source, report, now_iso)


def _mentions(
    target: SQLiteRepository,
    data_dir: Path,
    report: MigrationReport,
    progress: Callable[[int], None] | None,
) -> None:
    folder = data_dir / "mentions"
    if not folder.exists():
        return
    log = MentionLog(folder, read_only=True)  # read-only: nothing created or changed
    batch: list[dict[str, Any]] = []
    for day in log.days_on_disk():
        docs = list(log.read_day(day).values())
        for doc in docs:
            batch.append(doc)
            if len(batch) >= BATCH:
                report.mentions += _flush(target, batch, progress)
    report.mentions += _flush(target, batch, progress)


def _flush(
    target: SQLiteRepository,
    batch: list[dict[str, Any]],
    progress: Callable[[int], None] | None,
) -> int:
    n = len(batch)
    if n:
        with target._tx():
            target._put_mentions(batch)
        if progress:
            progress(n)
        batch.clear()
    return n


def _seen(
    target: SQLiteRepository,
    files: list[Path],
    source: TinyDBRepository,
    report: MigrationReport,
    progress: Callable[[int], None] | None,
) -> None:
    ids: set[str] = set()
    for path in files:
        month = path.stem  # YYYY-MM
        found = [i for i in path.read_text("utf-8", errors="replace").split("\n") if i]
        with target._tx() as db:
            target._add_seen(found, f"{month}-01", db)
        ids.update(found)
        if progress:
            progress(len(found))
    # ids of a cycle whose seen-file append a crash cut off
    cycle = [i for i in source.get_state(CYCLE_SEEN, []) or [] if i not in ids]
    if cycle:
        with target._tx() as db:
            target._add_seen(cycle, "", db)
    report.seen = len(ids) + len(cycle)


def _small_tables(
    target: SQLiteRepository, source: TinyDBRepository, report: MigrationReport, now_iso: str
) -> None:
    if target.find_alerts(lambda a: True) or target.pending_outbox() or target.all_state():
        raise StorageError(
            f"{target.path} already holds alerts or state of its own: migrate into a new store "
            "(move that file away first)"
        )
    hot = source.find_alerts(lambda a: True)
    hot_ids = {a.id for a in hot}
    # A crash between the archive's append and the removal leaves a copy in both: hot wins.
    archived = [Alert.from_dict(d) for d in source.archived_alerts() if d.get("id") not in hot_ids]
    outbox = source.pending_outbox()
    dead = source.dead_letters()
    state = {k: v for k, v in source.all_state().items() if k != CYCLE_SEEN}
    numbers = [alert_number(a.id) or 0 for a in [*hot, *archived]]
    seqs = [outbox_seq(o) for o in [*outbox, *dead]]
    # Also every id issued from the folder (its alert-ids mark): a state recovered from its
    # backup knows fewer, and the ids issued after it were handed out again (A3 twice).
    issued = source._id_mark.mark
    state["alert_seq"] = max([int(state.get("alert_seq", 0)), issued, *numbers])
    state["outbox_seq"] = max([int(state.get("outbox_seq", 0)), *seqs])
    with target._tx():
        target._put_alerts(hot)
        target._put_alerts(archived, archived=True)
        target._put_outbox([(outbox_seq(o), o) for o in outbox])
        for o in dead:
            target._put_dead_letter(outbox_seq(o), o)
        for key, value in state.items():
            target.set_state(key, json.loads(dumps(value)))
        target.set_state(MARK_KEY, now_iso)
    report.alerts = len(hot) + len(archived)
    report.archived = len(archived)
    report.outbox = len(outbox)
    report.dead = len(dead)
    report.state_keys = len(state)
