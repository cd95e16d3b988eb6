"""The SQLite store reads a long run of mentions (the digest's week) on a connection of its
own (storage/sqlite_pages.py): an ack is not kept waiting by the page being read."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

from core.alerting.lifecycle import AlertService
from core.domain.clock import FakeClock
from storage.sqlite_repo import SQLiteRepository
from tests.holds import WAIT, in_thread
from tests.storage.repository_contract import NOW, mention, store_alerts


def test_an_ack_goes_through_while_a_page_of_mentions_is_read(tmp_path: Path) -> None:
    clock = FakeClock(NOW)
    repo = SQLiteRepository(tmp_path / "data", clock)
    try:
        repo.save_cycle(
            [mention(i, when=NOW - timedelta(minutes=i)) for i in range(50)], [], [], []
        )
        [alert] = store_alerts(repo, 1)
        assert repo._reader is not None
        reading, release = threading.Event(), threading.Event()

        def hold() -> int:  # runs inside the page's SQL statement
            reading.set()
            release.wait(WAIT * 3)
            return 0  # (go on)

        repo._reader._db.set_progress_handler(hold, 100)
        reader, read = in_thread(lambda: len(list(repo.iter_mentions(NOW - timedelta(days=1)))))
        try:
            assert reading.wait(WAIT)  # a page's statement is running
            acker, acked = in_thread(lambda: AlertService(repo, clock).ack(alert.id, "ann", "x"))
            acker.join(WAIT)
            assert acked and acked[0].changed  # not kept waiting by the read
            assert reader.is_alive()
        finally:
            release.set()
            reader.join(WAIT)
        assert read == [50]
    finally:
        repo.close()


def test_a_read_only_store_reads_its_own_mentions_too(tmp_path: Path) -> None:
    clock = FakeClock(NOW)
    SQLiteRepository(tmp_path / "data", clock).close()
    dry = SQLiteRepository(tmp_path / "data", clock, read_only=True)
    try:
        dry.save_cycle([mention(1, when=NOW - timedelta(minutes=1))], [], [], [])
        assert [d["id"] for d in dry.iter_mentions(NOW - timedelta(days=1))] == ["m1"]
    finally:
        dry.close()
