"""Two pipelines on their own stores, one analysing in-process and one with a worker pool, for
the tests that hold the pool's store to the in-process one (tests/core/test_analysis_workers.py,
tests/attacks/); tests/conftest.py loads it as a plugin, which makes `rigs` every test's."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bench.corpus import make_mentions
from core.alerting.routing import Router
from core.domain.clock import FakeClock
from core.domain.models import Mention
from core.intake.pipeline import Pipeline
from rules.analyze import Analyzer
from storage.sqlite_repo import SQLiteRepository
from tests.conftest import make_config

ROUTES = [
    {"name": "people", "match": {"flags": ["negative", "critical", "kol"]}, "to": ["console"]}
]


class Rig:
    def __init__(self, tmp_path: Path, workers: int, engine: str = "fast") -> None:
        self.config = make_config(
            tmp_path, analysis={"engine": engine, "workers": workers}, routes=ROUTES
        )
        self.clock = FakeClock(datetime(2026, 11, 28, 8, 0, tzinfo=UTC))
        self.repo = SQLiteRepository(self.config.data_dir, clock=self.clock)
        self.pipeline = Pipeline(
            self.config, self.repo, Analyzer(self.config), Router(self.config.routes), self.clock
        )

    def run(self, batches: list[list[Mention]]) -> list[int]:
        made = []
        for batch in batches:
            made.append(len(self.pipeline.process("feed", batch).alerts))
            self.clock.advance(timedelta(minutes=5))
        return made

    def stored(self) -> dict[str, Any]:
        rows = [dict(r) for r in self.repo.iter_mentions(None)]
        alerts = [a.to_dict() for a in self.repo.iter_alerts()]
        outbox = [o.to_dict() for o in self.repo.pending_outbox()]
        # The rows' order on disk too (the stores' own row ids).
        order = [r[0] for r in self.repo._db.execute("SELECT id FROM mentions ORDER BY rid")]
        return {"mentions": rows, "alerts": alerts, "outbox": outbox, "order": order}

    def close(self) -> None:
        self.pipeline.close()
        self.repo.close()


@pytest.fixture
def rigs(tmp_path: Path) -> Iterator[tuple[Rig, Rig]]:
    """(in-process, one worker whose pool is up)."""
    here, there = Rig(tmp_path / "here", workers=0), Rig(tmp_path / "there", workers=1)
    there.pipeline.workers.start(wait=True)
    yield here, there
    here.close()
    there.close()


def batches(n: int, size: int) -> list[list[Mention]]:
    """The same mentions each call (fresh objects: analysis fills them in)."""
    ms = make_mentions(n)
    return [ms[i : i + size] for i in range(0, n, size)]


def same(a: Any, b: Any) -> None:
    """Equal, floats to 1e-12 (n-gram weights are summed in set order, which follows each
    process's string hash seed: two runs of the bot differ as much)."""
    if isinstance(a, float) and isinstance(b, float):
        assert a == pytest.approx(b, rel=1e-12, abs=1e-12)
    elif isinstance(a, dict) and isinstance(b, dict):
        assert a.keys() == b.keys()
        for k in a:
            same(a[k], b[k])
    elif isinstance(a, list) and isinstance(b, list):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            same(x, y)
    else:
        assert a == b


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a dead child not yet reaped is a zombie
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


def gone(pids: list[int]) -> bool:
    """Whether every one of `pids` has ended, waiting up to 10 s for them."""
    deadline = time.monotonic() + 10
    while any(alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not any(alive(p) for p in pids)
