"""The daily digest is built outside the storage lock (issue 16): an ack typed while a week
of mentions is read goes through at once; one process builds it while the others wait
(they take no storage lock meanwhile); it is queued once; one queued meanwhile wins.

Each build is made slow by a hook that waits on an Event, on every backend (PostgreSQL:
two repositories on one schema stand for two processes; SQLite and TinyDB, which one
process opens, two services on one repository stand for two scheduler threads)."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from core.alerting.lifecycle import AlertService
from core.domain.clock import FakeClock
from core.domain.repository import Repository
from core.reports.digest_service import STATE_KEY, DigestService
from tests.conftest import make_config
from tests.holds import WAIT, Hold, in_thread, slow_reader, take_the_storage_lock
from tests.storage.repository_contract import NOW, mention, store_alerts
from tests.two_stores import TwoStores

DIGEST = {"time": (NOW - timedelta(minutes=5)).strftime("%H:%M"), "timezone": "UTC"}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOW)


@pytest.fixture
def repos(two_stores: TwoStores, clock: FakeClock) -> list[Repository]:
    stores = two_stores(clock)
    stores[0].save_cycle([mention(1, when=NOW - timedelta(hours=2))], [], [], [])
    return stores


def service(repo: Repository, clock: FakeClock, tmp_path: Path) -> DigestService:
    return DigestService(make_config(tmp_path, digest=DIGEST), repo, clock, charts=False)


def digests(repo: Repository) -> list[Any]:
    return [i for i in repo.pending_outbox() if i.message.get("kind") == "text"]


def test_an_ack_goes_through_while_the_digest_is_built(
    repos: list[Repository], clock: FakeClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = repos[0]
    [alert] = store_alerts(repo, 1)
    hold = slow_reader(repo, monkeypatch)
    builder, built = in_thread(service(repo, clock, tmp_path).run_due)
    try:
        assert hold.started.wait(WAIT)  # the digest is being built, its read held
        acker, acked = in_thread(lambda: AlertService(repo, clock).ack(alert.id, "ann", "slack"))
        acker.join(WAIT)
        assert acked and acked[0].changed  # the ack did not wait for the build
        locker, locked = in_thread(take_the_storage_lock(repo))
        locker.join(WAIT)  # nor does a poll cycle's grouping (it takes the storage lock)
        assert locked == [True]
        assert builder.is_alive()  # (still building: all of that happened meanwhile)
    finally:
        hold.release.set()
        builder.join(WAIT)
    assert built == [NOW.date()]
    stored = repo.get_alert(alert.id)
    assert stored is not None and stored.acked_by == "ann"
    assert len(digests(repo)) == 1


def test_one_process_builds_the_digest_the_other_waits_and_it_is_queued_once(
    repos: list[Repository], clock: FakeClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    services = [service(r, clock, tmp_path) for r in repos]
    holds = [Hold(s.build) for s in services]
    for s, hold in zip(services, holds, strict=True):
        monkeypatch.setattr(s, "build", hold)
    first, first_result = in_thread(services[0].run_due)
    assert holds[0].started.wait(WAIT)
    second, second_result = in_thread(services[1].run_due)
    try:
        assert not holds[1].started.wait(0.5)  # it waits while the first builds
        assert take_the_storage_lock(repos[1])()  # (at the job lock: not the storage lock)
    finally:
        for hold in holds:
            hold.release.set()
        first.join(WAIT)
        second.join(WAIT)
    assert first_result == [NOW.date()] and second_result == [None]
    assert holds[1].calls == 0  # it found the digest queued: built once in all
    assert len(digests(repos[1])) == 1


def test_a_digest_queued_meanwhile_wins_and_the_one_built_is_dropped(
    repos: list[Repository], clock: FakeClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = service(repos[0], clock, tmp_path)
    build = s.build

    def build_while_another_queues(*args: Any, **kw: Any) -> Any:
        built = build(*args, **kw)
        # Another process (one not waiting at the job lock) queues that day's meanwhile.
        mark = {"sent_for": NOW.date().isoformat(), "queued_at": "elsewhere"}
        repos[1].add_outbox([], state={STATE_KEY: mark})
        return built

    monkeypatch.setattr(s, "build", build_while_another_queues)
    assert s.run_due() is None
    assert digests(repos[0]) == []
    assert repos[0].get_state(STATE_KEY)["queued_at"] == "elsewhere"
    assert s.run_due() is None  # and it stays sent
    assert s.sent_for() == date.fromisoformat(NOW.date().isoformat())
