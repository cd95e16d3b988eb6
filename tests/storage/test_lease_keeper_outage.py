"""The lease keepers of two live processes when their PostgreSQL store was unreachable for
longer than a lease (a database restart): every lease ran out meanwhile, and neither
process takes the other's sources once the store is back; a process that died during the
outage still has its sources taken over."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from app.lease_keeper import RENEW_EVERY, LeaseKeeper
from core.domain.clock import FakeClock
from core.intake.polling import SOURCE_LEASE
from sources.base import PollResult
from storage.atomic_json import StorageError
from storage.postgres_repo import PostgresRepository
from tests.storage.repository_contract import NOW

EVERY = timedelta(minutes=5)


class Flaky:
    """A repository whose calls fail while `down` (the server restarting)."""

    def __init__(self, repo: PostgresRepository) -> None:
        self.repo, self.down = repo, False

    def __getattr__(self, name: str) -> Any:
        if self.down:
            raise StorageError("PostgreSQL store: couldn't get a connection after 30.00 sec")
        return getattr(self.repo, name)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOW)


@pytest.fixture
def two(postgres_schema: str, clock: FakeClock) -> Iterator[list[PostgresRepository]]:
    repos = [PostgresRepository(postgres_schema, clock=clock) for _ in range(2)]
    yield repos
    for r in repos:
        r.close()


def keepers(two: list[PostgresRepository], clock: FakeClock) -> tuple[Any, ...]:
    sources = [
        SimpleNamespace(name=n, every=EVERY, poll=lambda st: PollResult([], st))
        for n in ("s1", "s2")
    ]
    taken: dict[str, list[str]] = {"a": [], "b": []}
    flaky = [Flaky(r) for r in two]
    made = []
    for who, repo, name in (("a", flaky[0], "s1"), ("b", flaky[1], "s2")):
        keeper = LeaseKeeper(
            repo,  # type: ignore[arg-type]
            sources,
            lambda s, who=who: taken[who].append(s.name),
            clock=lambda: clock.now().timestamp(),
        )
        assert repo.claim_source(name, SOURCE_LEASE)
        keeper.polling(name)
        made.append(keeper)
    return made[0], made[1], flaky, taken


def outage(flaky: list[Flaky], keepers: list[LeaseKeeper], clock: FakeClock) -> None:
    for f in flaky:
        f.down = True
    for _ in range(4):  # 40 s: every lease runs out
        clock.advance(RENEW_EVERY)
        for k in keepers:
            with pytest.raises(StorageError):
                k.tick()
    for f in flaky:
        f.down = False


def test_after_an_outage_live_processes_keep_their_sources(
    two: list[PostgresRepository], clock: FakeClock
) -> None:
    a, b, flaky, taken = keepers(two, clock)
    outage(flaky, [a, b], clock)
    for _ in range(6):  # a minute of ticks after it, a first each time
        clock.advance(RENEW_EVERY)
        a.tick()
        b.tick()
    assert taken == {"a": [], "b": []}
    assert not two[0].claim_source("s2", SOURCE_LEASE)  # still b's
    assert not two[1].claim_source("s1", SOURCE_LEASE)  # still a's


def test_after_an_outage_a_process_that_died_in_it_is_taken_over(
    two: list[PostgresRepository], clock: FakeClock
) -> None:
    a, b, flaky, taken = keepers(two, clock)
    outage(flaky, [a, b], clock)  # b dies during it: it never ticks again
    ticks = 0
    while not taken["a"]:
        clock.advance(RENEW_EVERY)
        a.tick()
        ticks += 1
        assert ticks < 10
    assert taken["a"] == ["s2"]
    assert RENEW_EVERY * ticks >= SOURCE_LEASE  # not before a lease after the store came back
