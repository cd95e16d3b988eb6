"""The daily digest is built outside the storage lock (issue 16): an ack typed while a week
of mentions is read goes through at once; one process builds it while the others wait
(they take no storage lock meanwhile); it is queued once; one queued meanwhile wins.

Each build is made slow by a hook that waits on an Event, on every backend (PostgreSQL:
two repositories on one schema stand for two processes; SQLite and TinyDB, which one
process opens, two services on one repository stand for two scheduler threads)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from core.alerting.lifecycle import AlertService
from core.domain.clock import FakeClock
from core.domain.repository import Repository
from core.reports.digest_service import STATE_KEY, DigestService
from tests.conftest import make_config
from tests.storage.repository_contract import BACKENDS, NOW, mention, store_alerts

WAIT = 10  # seconds: a generous bound, reached only when something waits that should not
DIGEST = {"time": (NOW - timedelta(minutes=5)).strftime("%H:%M"), "timezone": "UTC"}


@pytest.fixture(params=list(BACKENDS))
def backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "postgres":
        monkeypatch.setenv("BUZZWATCH_DATABASE_URL", request.getfixturevalue("postgres_schema"))
    return request.param


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOW)


@pytest.fixture
def repos(backend: str, tmp_path: Path, clock: FakeClock) -> Iterator[list[Repository]]:
    """Two stores for two processes: PostgreSQL's share one schema; an embedded store is
    opened by one process only, so both are the same repository."""
    first = BACKENDS[backend](tmp_path / "data", clock, False)
    second = BACKENDS[backend](tmp_path / "data", clock, False) if backend == "postgres" else first
    first.save_cycle([mention(1, when=NOW - timedelta(hours=2))], [], [], [])
    yield [first, second]
    for repo in {id(r): r for r in (first, second)}.values():
        repo.close()


def service(repo: Repository, clock: FakeClock, tmp_path: Path) -> DigestService:
    return DigestService(make_config(tmp_path, digest=DIGEST), repo, clock, charts=False)


class Hold:
    """Wraps a function: each call says it started, then waits until `release` is set."""

    def __init__(self, wrapped: Callable[..., Any]) -> None:
        self.wrapped = wrapped
        self.started = threading.Event()
        self.release = threading.Event()
        self.calls = 0

    def __call__(self, *args: Any, **kw: Any) -> Any:
        self.calls += 1
        self.started.set()
        assert self.release.wait(WAIT * 3)
        return self.wrapped(*args, **kw)


def slow_reader(repo: Repository, monkeypatch: pytest.MonkeyPatch) -> Hold:
    """The digest's read of a week of mentions, started and then held in the middle."""
    read = repo.iter_mentions
    hold = Hold(lambda it: it)

    def reads(since: datetime | None) -> Iterable[dict[str, Any]]:
        records = iter(read(since))
        first = next(records, None)  # (a page read: the store answered once)
        yield from hold([] if first is None else [first])
        yield from records

    monkeypatch.setattr(repo, "iter_mentions", reads)
    return hold


def in_thread(job: Callable[[], Any]) -> tuple[threading.Thread, list[Any]]:
    result: list[Any] = []
    thread = threading.Thread(target=lambda: result.append(job()), daemon=True)
    thread.start()
    return thread, result


def take_the_storage_lock(repo: Repository) -> Callable[[], bool]:
    def take() -> bool:
        with repo.locked():
            return True

    return take


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
