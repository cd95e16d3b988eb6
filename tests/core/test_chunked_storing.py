"""A batch's mentions are stored chunk by chunk as they are analysed, one transaction each;
a chunk that fails to store fails the cycle, with nothing seen, and the cycle is redone."""

from __future__ import annotations

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
from rules.analyze import Analyzer
from storage.sqlite_repo import SQLiteRepository
from tests.conftest import make_config


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
        assert calls == [CHUNK, CHUNK]  # one transaction per chunk, up to the failing one
        assert repo.unseen([m.id for m in batch]) == [m.id for m in batch]
        repo.save_cycle = save  # type: ignore[method-assign]
        result = pipeline.process("feed", make_mentions(3 * CHUNK))  # redone, as a crash is
        assert result.new == result.matched == 3 * CHUNK
        assert repo.count_mentions() == 3 * CHUNK
    finally:
        pipeline.close()
        repo.close()
