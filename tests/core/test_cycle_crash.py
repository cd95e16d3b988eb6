"""A crash while a poll cycle is stored, after its mentions and before its seen ids and
alerts: the cycle is redone and its alerts made, on every store (the SQL stores write the
mentions ahead; TinyDB, which counts a stored mention as seen, takes the cycle in one call)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from core.alerting.routing import Router
from core.domain.clock import FakeClock
from core.domain.models import Mention
from core.intake.pipeline import Pipeline
from rules.analyze import Analyzer
from storage.sqlite_repo import SQLiteRepository
from storage.tinydb_repo import TinyDBRepository
from tests.conftest import make_config

NOW = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)
STORES = {"sqlite": SQLiteRepository, "tinydb": TinyDBRepository}


def mentions() -> list[Mention]:
    return [
        Mention(
            id=f"m{i}",
            source="feed",
            url=f"https://example.com/{i}",
            title=f"Acme story {i}",
            text=f"Acme burger number {i} was cold and the staff were rude",
            fetched_at=NOW,
        )
        for i in range(3)
    ]


@pytest.mark.parametrize("store", list(STORES))
def test_a_crash_before_the_seen_ids_redoes_the_cycle_with_its_alerts(
    store: str, tmp_path: Path
) -> None:
    config = make_config(
        tmp_path,
        analysis={"engine": "fast"},
        routes=[{"name": "all", "match": {"brand": "Acme"}, "to": ["console"]}],
        destinations={"console": {"type": "console"}},
        grouping={"enabled": False},
    )
    clock = FakeClock(NOW)
    repo = STORES[store](config.data_dir, clock=clock)
    pipeline = Pipeline(config, repo, Analyzer(config), Router(config.routes), clock)
    save = repo.save_cycle
    calls: list[tuple[int, int]] = []

    def crash_at_the_seen_ids(ms: list[Mention], seen: list[str], *rest: Any) -> None:
        calls.append((len(ms), len(seen)))
        if seen:  # the call that would store them (each store's one call is atomic)
            raise RuntimeError("the process died here")
        save(ms, seen, *rest)

    repo.save_cycle = crash_at_the_seen_ids  # type: ignore[method-assign]
    with pytest.raises(RuntimeError):
        pipeline.process("feed", mentions())
    # SQL stores: the mentions ahead, then the rest; TinyDB: one call with everything.
    assert calls == ([(3, 0), (0, 3)] if repo.stores_mentions_ahead else [(3, 3)])
    repo.close()
    repo = STORES[store](config.data_dir, clock=clock)  # the bot started again
    pipeline = Pipeline(config, repo, Analyzer(config), Router(config.routes), clock)
    redone = pipeline.process("feed", mentions())
    assert redone.new == 3 and len(redone.alerts) == 3
    assert repo.unseen(["m0", "m1", "m2"]) == []
    assert sorted(d["id"] for d in repo.iter_mentions(None)) == ["m0", "m1", "m2"]
    repo.close()
