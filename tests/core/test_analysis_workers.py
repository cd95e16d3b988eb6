"""A big batch analysed partly in a worker process stores the same mentions, alerts and
outbox items as analysed in the bot's process; a worker that dies loses nothing; small
batches and the default engine never start one."""

from __future__ import annotations

import logging
import os
import signal
from pathlib import Path
from typing import Any

import pytest

from core.domain.models import Mention
from core.intake import offload
from core.intake.offload import CHUNK, OFFLOAD_FROM, AnalysisWorkers
from rules.analyze import Analyzer
from tests.analysis_rig import Rig, batches, gone, same
from tests.conftest import make_config


def test_a_worker_shares_big_batches_and_the_store_is_the_same(rigs: tuple[Rig, Rig]) -> None:
    here, there = rigs
    size = OFFLOAD_FROM + 3 * CHUNK + 7  # a last chunk shorter than the others
    stolen: list[int] = []
    take = there.pipeline.workers._here

    def spy(mentions: list[Mention], inputs: list[Any], lo: int, hi: int) -> None:
        stolen.append(hi - lo)
        take(mentions, inputs, lo, hi)

    there.pipeline.workers._here = spy  # type: ignore[method-assign]
    there.pipeline.workers._chunk_s = (
        60.0  # however loaded the machine, the worker's are waited for
    )
    sent: list[int] = []
    submit = there.pipeline.workers.start().submit

    def counting(fn: Any, *args: Any) -> Any:
        sent.append(len(args[0]))
        return submit(fn, *args)

    there.pipeline.workers.start().submit = counting  # type: ignore[method-assign]
    assert here.run(batches(2 * size, size)) == there.run(batches(2 * size, size))
    # Every chunk was handed to the worker; those the worker had not started, this process
    # took: between them, each mention analysed once (the two a worker holds
    # at once at least, the one it runs and the next, are the worker's).
    assert sent and sum(sent) == 2 * size
    assert sum(stolen) < 2 * size
    a, b = here.stored(), there.stored()
    assert len(a["mentions"]) == 2 * size and a["alerts"] and a["outbox"]
    same(a, b)


def test_small_batches_stay_in_process(rigs: tuple[Rig, Rig], tmp_path: Path) -> None:
    rig = Rig(tmp_path / "small", workers=1)
    try:
        rig.run(batches(2 * (OFFLOAD_FROM - 1), OFFLOAD_FROM - 1))
        assert rig.pipeline.workers._pool is None  # never started
        here, _ = rigs
        here.run(batches(2 * (OFFLOAD_FROM - 1), OFFLOAD_FROM - 1))
        same(here.stored(), rig.stored())
    finally:
        rig.close()


def test_a_big_batch_before_the_worker_is_up_is_analysed_here(tmp_path: Path) -> None:
    rig = Rig(tmp_path / "cold", workers=1)
    here = Rig(tmp_path / "here", workers=0)
    try:
        # The first big batch starts the pool and does not wait for it.
        rig.run(batches(OFFLOAD_FROM, OFFLOAD_FROM))
        here.run(batches(OFFLOAD_FROM, OFFLOAD_FROM))
        assert rig.pipeline.workers._pool is not None
        same(here.stored(), rig.stored())
    finally:
        rig.close()
        here.close()


def test_a_worker_that_dies_loses_nothing(
    rigs: tuple[Rig, Rig], caplog: pytest.LogCaptureFixture
) -> None:
    here, there = rigs
    [pid] = there.pipeline.workers.pids()
    os.kill(pid, signal.SIGKILL)
    gone([pid])
    size = OFFLOAD_FROM + CHUNK
    with caplog.at_level(logging.WARNING, logger="buzzwatch.pipeline"):
        assert there.run(batches(size, size)) == here.run(batches(size, size))
    died = [r for r in caplog.records if "worker process died" in r.getMessage()]
    assert len(died) == 1  # once, not once per chunk
    same(here.stored(), there.stored())
    # The next big batch starts a new pool.
    there.run(batches(2 * size, size)[1:])
    assert there.pipeline.workers._pool is not None


def test_a_worker_short_of_cpu_does_not_hold_a_batch(rigs: tuple[Rig, Rig]) -> None:
    here, there = rigs
    [pid] = there.pipeline.workers.pids()
    os.kill(pid, signal.SIGSTOP)  # the worker gets no CPU: chunks it started never finish
    try:
        size = OFFLOAD_FROM + CHUNK
        assert there.run(batches(size, size)) == here.run(batches(size, size))
    finally:
        os.kill(pid, signal.SIGCONT)
    same(here.stored(), there.stored())
    assert there.pipeline.workers.pids() == [pid]  # the same worker, still there


def test_close_stops_the_workers(tmp_path: Path) -> None:
    rig = Rig(tmp_path, workers=1)
    rig.pipeline.workers.start(wait=True)
    [pid] = rig.pipeline.workers.pids()
    rig.close()
    assert gone([pid])


def test_the_workers_stop_when_no_big_batch_comes(tmp_path: Path) -> None:
    rig = Rig(tmp_path, workers=1)
    try:
        rig.pipeline.workers.idle_stop_s = 0.5
        rig.pipeline.workers.start(wait=True)
        [pid] = rig.pipeline.workers.pids()
        rig.run(batches(OFFLOAD_FROM, OFFLOAD_FROM))  # a big batch: the timer starts again
        assert gone([pid]) and rig.pipeline.workers._pool is None
        rig.run(batches(2 * OFFLOAD_FROM, OFFLOAD_FROM)[1:])  # the next one starts them again
        assert rig.pipeline.workers._pool is not None
    finally:
        rig.close()


def test_which_engines_and_batches_use_workers(tmp_path: Path) -> None:
    fast = Analyzer(make_config(tmp_path, analysis={"engine": "fast"}))
    assert fast.analysis.workers == 1  # the default: one, next to the bot's process
    assert AnalysisWorkers(fast).takes(OFFLOAD_FROM)
    assert not AnalysisWorkers(fast).takes(OFFLOAD_FROM - 1)
    assert not AnalysisWorkers(fast, workers=0).takes(10 * OFFLOAD_FROM)
    # The default engine's encoder runs in the bot's process: never in a worker.
    default = Analyzer(make_config(tmp_path, analysis={"engine": "default"}))
    assert not AnalysisWorkers(default).takes(10 * OFFLOAD_FROM)


def test_a_worker_is_sent_no_chat_or_source_settings(tmp_path: Path) -> None:
    config = make_config(
        tmp_path,
        sources=[{"name": "f", "type": "rss", "url": "https://x.example/feed"}],
        slack={"mode": "socket"},
    )
    sent = offload.analysis_sections(config)
    assert sent.sources == [] and sent.slack is None and sent.destinations == {}
    assert sent.brands == config.brands and sent.analysis == config.analysis
