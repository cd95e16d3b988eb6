"""Ctrl-C or SIGTERM while a big batch is being analysed: the batch is left at its next chunk
(it took seconds to finish: 4-7 s for a first poll of 8 feeds on a loaded 2-core machine),
as a deferral, with nothing marked seen; the next start processes it again and the store
ends as if the stop had never happened."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from core.alerting.routing import Router
from core.intake.health import state_key
from core.intake.offload import CHUNK, OFFLOAD_FROM
from core.intake.pipeline import Pipeline, PipelineStopped
from core.intake.polling import Poller
from rules.analyze import Analyzer
from tests.analysis_rig import Rig, batches, same


@pytest.mark.parametrize("workers", [0, 1])
def test_a_stop_leaves_a_big_batch_between_chunks_and_the_next_start_redoes_it(
    tmp_path: Path, workers: int
) -> None:
    here, there = Rig(tmp_path / "here", workers=0), Rig(tmp_path / "there", workers=workers)
    try:
        size = OFFLOAD_FROM + 4 * CHUNK
        [batch] = batches(size, size)
        expected = here.run(batches(size, size))
        save_cycle = there.repo.save_cycle
        saved: list[int] = []

        def stop_after_the_first_chunk(mentions: list[Any], *args: Any) -> Any:
            saved.append(len(mentions))
            if len(saved) == 1:
                there.pipeline.stop()  # the signal's watcher thread does this
            return save_cycle(mentions, *args)

        there.repo.save_cycle = stop_after_the_first_chunk  # type: ignore[method-assign]
        with pytest.raises(PipelineStopped) as stopped:
            there.pipeline.process("feed", batch)
        assert getattr(stopped.value, "deferred", False)  # the poller: not a failing source
        assert saved == [CHUNK]  # one chunk stored ahead, no more analysed
        assert there.repo.unseen({m.id: m for m in batch}) == [m.id for m in batch]
        there.repo.save_cycle = save_cycle  # type: ignore[method-assign]
        there.pipeline.close()

        # The next start: the same entries again, all of them processed, each once.
        c = there.config
        there.pipeline = Pipeline(c, there.repo, Analyzer(c), Router(c.routes), there.clock)
        assert there.run(batches(size, size)) == expected
        same(here.stored(), there.stored())
    finally:
        here.close()
        there.close()


def test_a_stopped_batch_is_a_deferral_for_the_poller(tmp_path: Path) -> None:
    rig = Rig(tmp_path, workers=0)
    try:
        [batch] = batches(OFFLOAD_FROM, OFFLOAD_FROM)

        class Source:
            name, every = "feed", None

            def poll(self, state: dict[str, Any]) -> Any:
                rig.pipeline.stop()
                return type("Polled", (), {"mentions": batch})()

        outcome = Poller(rig.repo, rig.pipeline, rig.clock).poll(Source())
        assert outcome.deferred and not outcome.ok and not outcome.storage
        state = rig.repo.get_state(state_key("feed")) or {}
        assert "stopped" in state["last_deferred"]
        assert not state.get("error_streak") and not state.get("polls")  # a backlog next time
    finally:
        rig.close()
