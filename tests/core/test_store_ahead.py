"""A batch's chunks are stored in a thread, in order, one transaction each; the pipeline
waits for them all, and a chunk that fails to store fails the cycle, with nothing seen."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bench.corpus import make_mentions
from core.alerting.routing import Router
from core.domain.clock import FakeClock
from core.domain.models import Mention
from core.intake.offload import CHUNK
from core.intake.pipeline import Pipeline
from core.intake.store_ahead import StoreAhead
from rules.analyze import Analyzer
from storage.sqlite_repo import SQLiteRepository
from tests.conftest import make_config


class Recording:
    """save_cycle calls, slow, and failing for a chosen chunk."""

    def __init__(self, fail_at: int = -1) -> None:
        self.calls: list[tuple[list[str], str]] = []
        self.fail_at = fail_at

    def save_cycle(self, mentions: list[Mention], *rest: Any) -> None:
        time.sleep(0.01)
        self.calls.append(([m.id for m in mentions], threading.current_thread().name))
        if len(self.calls) - 1 == self.fail_at:
            raise OSError("disk full")


def chunks(n: int) -> list[list[Mention]]:
    ms = make_mentions(n * 3)
    return [ms[i : i + 3] for i in range(0, len(ms), 3)]


def test_chunks_are_stored_in_order_in_a_thread() -> None:
    repo = Recording()
    storer = StoreAhead(repo)  # type: ignore[arg-type]
    parts = chunks(5)
    for part in parts:
        storer.submit(part)
    storer.wait()
    assert [ids for ids, _ in repo.calls] == [[m.id for m in p] for p in parts]
    assert {name for _, name in repo.calls} != {threading.current_thread().name}
    storer.close()


def test_a_failed_chunk_is_raised_once_all_are_done() -> None:
    repo = Recording(fail_at=1)
    storer = StoreAhead(repo)  # type: ignore[arg-type]
    for part in chunks(4):
        storer.submit(part)
    with pytest.raises(OSError, match="disk full"):
        storer.wait()
    assert len(repo.calls) == 4  # the later chunks were stored too (replaced by id on retry)
    storer.submit(chunks(1)[0])
    storer.wait(quiet=True)  # nothing pending fails now
    storer.close()


def test_a_cycle_whose_chunk_fails_to_store_fails_and_sees_nothing(tmp_path: Path) -> None:
    config = make_config(tmp_path, analysis={"engine": "fast", "workers": 0})
    clock = FakeClock(datetime(2026, 11, 28, 8, 0, tzinfo=UTC))
    repo = SQLiteRepository(config.data_dir, clock=clock)
    pipeline = Pipeline(config, repo, Analyzer(config), Router(config.routes), clock)
    save = repo.save_cycle
    calls: list[int] = []

    def failing_second(mentions: list[Mention], *rest: Any) -> None:
        calls.append(len(mentions))
        if len(calls) == 2:
            raise OSError("disk full")
        save(mentions, *rest)

    repo.save_cycle = failing_second  # type: ignore[method-assign]
    batch = make_mentions(3 * CHUNK)
    try:
        with pytest.raises(OSError, match="disk full"):
            pipeline.process("feed", batch)
        assert calls == [CHUNK, CHUNK, CHUNK]  # one transaction per chunk, all waited for
        assert repo.unseen([m.id for m in batch]) == [m.id for m in batch]
        repo.save_cycle = save  # type: ignore[method-assign]
        result = pipeline.process("feed", make_mentions(3 * CHUNK))  # redone, as a crash is
        assert result.new == result.matched == 3 * CHUNK
        assert repo.count_mentions() == 3 * CHUNK
    finally:
        pipeline.close()
        repo.close()
