"""The analysis worker pool attacked: closed while a big batch is on its way or in flight,
hostile text in a batch. Nothing is lost or stored twice, no worker is left behind, and the
store is the one in-process analysis makes."""

from __future__ import annotations

import logging
import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from core.domain.models import Mention
from core.intake import offload
from core.intake.offload import CHUNK, OFFLOAD_FROM
from rules.analyze import Analyzer
from tests.analysis_rig import Rig, batches, gone, same
from tests.conftest import make_config


def test_a_big_batch_after_close_starts_no_worker(rigs: tuple[Rig, Rig]) -> None:
    here, there = rigs
    pids = there.pipeline.workers.pids()
    there.pipeline.close()  # a shutdown, while a poll thread is about to store a big batch
    size = OFFLOAD_FROM + CHUNK
    assert there.run(batches(size, size)) == here.run(batches(size, size))
    # It started a new pool, whose worker then lived until the idle timer (10 minutes).
    assert there.pipeline.workers._pool is None
    assert gone(pids)
    same(here.stored(), there.stored())


def test_close_in_the_middle_of_a_big_batch_loses_nothing(rigs: tuple[Rig, Rig]) -> None:
    here, there = rigs
    pids = there.pipeline.workers.pids()
    workers = there.pipeline.workers
    there.pipeline.workers._chunk_s = 60.0  # the worker's chunks are waited for
    analyse = workers.analyse

    def closed_after_the_first_chunk(mentions: list[Mention], analysed: Any) -> None:
        def first_then_close(chunk: list[Mention]) -> None:
            analysed(chunk)
            workers.close()

        analyse(mentions, first_then_close)

    workers.analyse = closed_after_the_first_chunk  # type: ignore[method-assign]
    size = OFFLOAD_FROM + 3 * CHUNK
    assert there.run(batches(size, size)) == here.run(batches(size, size))
    assert workers._pool is None and workers._idle is None and gone(pids)
    same(here.stored(), there.stored())


HOSTILE = [
    "Acme " + "x" * 1_000_000,
    "Acme \x00 nul \x00",
    "Acme \ud800 lone \udfff surrogates",
    "Acme " + "".join(chr(i) for i in range(32)),
    "Acme \u202e\u200f RTL \u202d",
    "Acme " + "😀" * 100_000,
    "Acme \ufeff\u200b zero width",
    "Acme 食物中毒 \ud83d",
]


def test_hostile_text_is_analysed_in_a_worker_as_here(tmp_path: Path) -> None:
    config = make_config(tmp_path, analysis={"engine": "fast", "workers": 1})
    analyzer = Analyzer(config)
    workers = offload.AnalysisWorkers(analyzer)
    try:
        pool = workers.start(wait=True)
        inputs = []
        for text in HOSTILE:
            m = Mention(id=f"m{len(inputs)}", source="s", title=text[:300], text=text, url="")
            m.brands = ["Acme"]
            m.author, m.metrics = "\udcff" + text[:50], {"followers": 10**30}
            inputs.append(analyzer.inputs(m))
        got = pool.submit(offload._analyse, inputs).result(timeout=60)
        expected = [analyzer.findings(i, encode=False) for i in inputs]
        same([list(f) for f in got], [list(f) for f in expected])
    finally:
        workers.close()


def test_a_worker_is_sent_only_what_analysis_reads(tmp_path: Path) -> None:
    config = make_config(
        tmp_path,
        analysis={"engine": "fast", "workers": 1},
        rsshub={"base_url": "https://ops:hunter2@rsshub.internal.example"},
        fetch={"user_agent": "secret-agent hunter2", "allow_hosts": ["10.0.0.0/8"]},
        health={"failures": 5, "to": ["console"]},
        service={"port": 9000},
    )
    sent = offload.analysis_sections(config)
    assert "hunter2" not in sent.model_dump_json()  # was sent: rsshub, fetch
    assert sent.data_dir != config.data_dir and sent.service.port is None
    # What analysis reads is all there, and analyses as the full config does.
    assert (sent.brands, sent.kols, sent.rules, sent.analysis) == (
        config.brands,
        config.kols,
        config.rules,
        config.analysis,
    )
    m = Mention(id="m1", source="s", title="", text="Acme 食物中毒 food poisoning", url="")
    m.brands = ["Acme"]
    full, part = Analyzer(config), Analyzer(sent)
    assert part.findings(part.inputs(m), encode=False) == full.findings(full.inputs(m))


@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGSTOP])
def test_a_worker_killed_or_stopped_mid_batch_loses_nothing(
    rigs: tuple[Rig, Rig], signum: int
) -> None:
    here, there = rigs
    workers = there.pipeline.workers
    [pid] = workers.pids()
    workers._chunk_s = 0.2  # (a stopped worker is given up on after PATIENCE chunks' time)
    analyse = workers.analyse

    def hit_after_the_first_chunk(mentions: list[Mention], analysed: Any) -> None:
        def first_then_hit(chunk: list[Mention]) -> None:
            analysed(chunk)
            if chunk is not None and mentions and chunk[0] is mentions[0]:
                os.kill(pid, signum)

        analyse(mentions, first_then_hit)

    workers.analyse = hit_after_the_first_chunk  # type: ignore[method-assign]
    size = OFFLOAD_FROM + 4 * CHUNK
    try:
        assert there.run(batches(size, size)) == here.run(batches(size, size))
    finally:
        if signum == signal.SIGSTOP:
            os.kill(pid, signal.SIGCONT)
    same(here.stored(), there.stored())
    a = there.stored()
    assert len(a["mentions"]) == len(set(a["order"])) == size  # each once


def noticed(workers: offload.AnalysisWorkers) -> bool:
    """Whether the worker pool has seen its worker die (a submit now refuses), waiting up to
    10 s: its manager thread watches each worker's process."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        pool = workers._pool
        if pool is None or getattr(pool, "_broken", False):
            return True
        time.sleep(0.01)
    return False


def test_workers_that_keep_dying_are_given_up_on(
    rigs: tuple[Rig, Rig], caplog: pytest.LogCaptureFixture
) -> None:
    here, there = rigs
    workers = there.pipeline.workers
    size = OFFLOAD_FROM + CHUNK
    expected = here.run(batches(5 * size, size))
    made = []
    with caplog.at_level(logging.WARNING, logger="buzzwatch.pipeline"):
        for n, batch in enumerate(batches(5 * size, size)):
            if n < offload.GIVE_UP_AFTER:  # each new worker is killed (an OOM killer's way)
                [pid] = workers.start(wait=True) and workers.pids()
                os.kill(pid, signal.SIGKILL)
                assert gone([pid])
                # The pool has seen it die before the batch: else a batch whose chunks this
                # process all took before the pool's threads ran (a loaded machine) notices
                # nothing, the next batch does, and the next start() handed back this pool
                # and its dead pid (a flake: ProcessLookupError, 1 run in ~11).
                assert noticed(workers)
            made += there.run([batch])
    assert made == expected  # nothing lost on the way
    same(here.stored(), there.stored())
    # Was: a new worker spawned (and its models loaded) for every other big batch, for ever.
    assert workers._pool is None and not workers.takes(size)
    warnings = [r.getMessage() for r in caplog.records]
    assert sum("in a row" in w for w in warnings) == 1
