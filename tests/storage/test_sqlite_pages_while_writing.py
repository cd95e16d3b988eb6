"""The SQLite store's long read (the digest's week, a storm's day) runs page by page on a
connection of its own while polls write, and while checkpoints run: every record there
when it started is read exactly once, whatever is stored between two pages."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest

import storage.sqlite_search as search
from core.domain.clock import FakeClock
from storage.sqlite_repo import SQLiteRepository
from tests.storage.repository_contract import NOW, mention


def test_records_stored_between_pages_neither_double_nor_hide_others(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(search, "ITER_ROWS", 7)  # many pages
    repo = SQLiteRepository(tmp_path, FakeClock(NOW))
    try:
        # several records share each time (a page boundary falls inside a run of them)
        before = [mention(i, when=NOW - timedelta(minutes=i // 3)) for i in range(60)]
        repo.save_cycle(before, [m.id for m in before], [], [])
        assert repo._checkpoints is not None and repo._reader is not None
        repo._checkpoints.limit = 0  # a checkpoint after every commit
        read: list[str] = []
        later = iter(range(1000, 1060))
        for record in repo.iter_mentions(NOW - timedelta(days=1)):
            read.append(record["id"])
            if len(read) % 5 == 0:  # a poll stores more: newer, older and the same times
                i = next(later)
                when = NOW - timedelta(minutes=(i % 40) - 10)
                repo.save_cycle([mention(i, when=when)], [f"m{i}"], [], [])
        counts = Counter(read)
        assert [k for k, n in counts.items() if n > 1] == []
        assert {m.id for m in before} <= set(counts)
    finally:
        repo.close()
