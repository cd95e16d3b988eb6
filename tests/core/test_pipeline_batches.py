"""Sources that hand their mentions in while another batch is processed share the next batch
(one pass of the models, one transaction), and each still gets its own source's result."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from core.alerting.routing import Router
from core.domain.clock import FakeClock
from core.domain.models import Mention
from core.intake.pipeline import CycleResult, Pipeline
from rules.analyze import Analyzer
from storage.sqlite_repo import SQLiteRepository
from tests.conftest import make_config

NOW = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)
ROUTES = [{"name": "all", "match": {"brand": "Acme"}, "to": ["console"]}]


def mention(source: str, n: int, text: str = "") -> Mention:
    return Mention(
        id=f"{source}-{n}" if not text else f"shared-{n}",
        source=source,
        url=f"https://example.com/{source}/{n}",
        title="",
        text=text or f"Acme story number {n} from {source}: the burger {'x' * n} was cold",
        fetched_at=NOW,
    )


class Rig:
    def __init__(self, tmp_path: Path, encoder_rate: int = 0) -> None:
        config = make_config(
            tmp_path,
            analysis={"engine": "fast", "encoder_rate": encoder_rate},
            routes=ROUTES,
            destinations={"console": {"type": "console"}},
            grouping={"enabled": False},
        )
        self.clock = FakeClock(NOW)
        self.repo = SQLiteRepository(config.data_dir, clock=self.clock)
        self.analyzer = Analyzer(config)
        self.pipeline = Pipeline(
            config, self.repo, self.analyzer, Router(config.routes), self.clock
        )
        self.batches: list[int] = []  # mentions per call of the models' batched pass
        self.hold = threading.Event()
        self.hold.set()
        self.inside = threading.Event()
        prepare = self.analyzer.prepare

        def counting_prepare(mentions: list[Mention]) -> list[list[str]]:
            self.batches.append(len(mentions))
            self.inside.set()
            assert self.hold.wait(10)
            return prepare(mentions)

        self.analyzer.prepare = counting_prepare  # type: ignore[method-assign]

    def in_thread(self, source: str, mentions: list[Mention], out: dict[str, Any]) -> Any:
        def run() -> None:
            try:
                out[source] = self.pipeline.process(source, mentions)
            except BaseException as err:  # a stop too: the test looks at what each got
                out[source] = err

        t = threading.Thread(target=run)
        t.start()
        return t

    def while_busy(self, calls: dict[str, list[Mention]]) -> dict[str, Any]:
        """The first call starts a batch and is held in it while the others are handed in."""
        out: dict[str, Any] = {}
        self.hold.clear()
        (first, mentions), *rest = calls.items()
        threads = [self.in_thread(first, mentions, out)]
        assert self.inside.wait(10)
        for n, (source, ms) in enumerate(rest, 1):
            threads.append(self.in_thread(source, ms, out))
            deadline = time.monotonic() + 10  # handed in, in this order
            while len(self.pipeline._waiting) < n and time.monotonic() < deadline:
                time.sleep(0.01)
        self.hold.set()
        for t in threads:
            t.join(10)
        return out


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    r = Rig(tmp_path)
    yield r
    r.repo.close()


def test_calls_waiting_share_one_batch_and_get_their_own_results(rig: Rig) -> None:
    shared = "Acme burger was cold and the fries were soggy"
    out = rig.while_busy(
        {
            "a": [mention("a", 1), mention("a", 2)],
            "b": [mention("b", 1), mention("b", 2), mention("b", 3, shared)],
            "c": [mention("c", 1), mention("c", 3, shared), mention("c", 2)],
        }
    )
    # a alone (it started while nothing waited), then b and c together.
    assert rig.batches == [2, 5]
    results: dict[str, CycleResult] = out
    # (by source: the threads of one batch finish in any order)
    assert [(results[s].fetched, results[s].new, results[s].matched) for s in "abc"] == [
        (2, 2, 2),
        (3, 3, 3),
        (3, 2, 2),  # the shared entry is b's: handed in first
    ]
    for result in results.values():
        assert all(rig.repo.get_alert(a.id) is not None for a in result.alerts)
    assert {a.mention_id for a in results["a"].alerts} == {"a-1", "a-2"}
    assert {a.mention_id for a in results["b"].alerts} == {"b-1", "b-2", "shared-3"}
    assert {a.mention_id for a in results["c"].alerts} == {"c-1", "c-2"}
    assert rig.repo.unseen(["a-1", "b-3", "c-1", "shared-3"]) == ["b-3"]


def test_one_failing_source_fails_alone(rig: Rig) -> None:
    analyze = rig.analyzer.analyze

    def fussy(m: Mention, *args: Any, **kwargs: Any) -> Mention:
        if m.source == "bad":
            raise ValueError("the model choked")
        return analyze(m, *args, **kwargs)

    rig.analyzer.analyze = fussy  # type: ignore[method-assign,assignment]
    out = rig.while_busy(
        {"a": [mention("a", 1)], "bad": [mention("bad", 1)], "c": [mention("c", 1)]}
    )
    assert isinstance(out["bad"], ValueError)
    assert out["a"].new == 1 and out["c"].new == 1 and len(out["c"].alerts) == 1
    assert rig.repo.unseen(["a-1", "bad-1", "c-1"]) == ["bad-1"]


def test_a_stop_during_the_one_by_one_retry_answers_every_waiting_source(rig: Rig) -> None:
    """The batch failed, and while its sources are retried one by one the bot is stopped:
    each source still waiting gets the stop as its answer (none is left waiting on a queue
    that is empty), and nothing of theirs is marked seen (it is fetched again)."""
    analyze = rig.analyzer.analyze
    failures = iter([ValueError("the model choked"), KeyboardInterrupt()])

    def fussy(m: Mention, *args: Any, **kwargs: Any) -> Mention:
        if m.source == "bad":
            raise next(failures)
        return analyze(m, *args, **kwargs)

    rig.analyzer.analyze = fussy  # type: ignore[method-assign,assignment]
    out = rig.while_busy(
        {"a": [mention("a", 1)], "bad": [mention("bad", 1)], "c": [mention("c", 1)]}
    )
    assert out["a"].new == 1
    assert isinstance(out["bad"], KeyboardInterrupt) and isinstance(out["c"], KeyboardInterrupt)
    assert rig.repo.unseen(["a-1", "bad-1", "c-1"]) == ["bad-1", "c-1"]


@pytest.mark.parametrize(
    ("rate", "backlog", "encoder_pass"), [(400, True, False), (400, False, True), (0, True, True)]
)
def test_a_first_polls_backlog_waits_for_no_encoder_when_it_has_a_budget(
    tmp_path: Path, rate: int, backlog: bool, encoder_pass: bool
) -> None:
    rig = Rig(tmp_path, encoder_rate=rate)
    try:
        result = rig.pipeline.process("a", [mention("a", 1), mention("a", 2)], backlog=backlog)
        assert (rig.batches == [2]) is encoder_pass
        assert (result.new, result.matched, len(result.alerts)) == (2, 2, 2)  # brands all the same
    finally:
        rig.repo.close()


def test_a_poll_with_nothing_new_does_not_wait_for_a_busy_batch(rig: Rig) -> None:
    """An unchanged feed (no entries) gets its empty result at once, while another source's
    batch is being processed: it has nothing to share that batch with."""
    out: dict[str, Any] = {}
    rig.hold.clear()
    busy = rig.in_thread("a", [mention("a", 1)], out)
    assert rig.inside.wait(10)
    t0 = time.monotonic()
    result = rig.pipeline.process("quiet", [])
    assert time.monotonic() - t0 < 5  # (the batch is held for up to 10 s)
    assert (result.source, result.fetched, result.new, result.alerts) == ("quiet", 0, 0, [])
    assert "a" not in out  # the other batch is still held
    rig.hold.set()
    busy.join(10)
    assert out["a"].new == 1
