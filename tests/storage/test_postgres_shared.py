"""Several Buzzwatch processes on one PostgreSQL database (two repositories on one schema
stand for two processes): each source polled by one of them at a time, a dead one's
sources and destinations taken over after one lease, the storage lock shared (a digest,
a storm and an SLA reminder once), alert ids unique."""

from __future__ import annotations

import contextlib
import threading
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import psycopg
import pytest

from app.lease_keeper import RENEW_EVERY, LeaseKeeper
from core.alerting.lifecycle import new_alert
from core.alerting.sla import SlaWatcher
from core.domain.clock import FakeClock
from core.domain.models import OutboxItem
from core.intake.pipeline import CycleResult
from core.intake.polling import SOURCE_LEASE, Poller
from core.reports.digest_service import DigestService
from core.reports.storms import StormWatch
from sources.base import PollResult
from storage.postgres_jobs import JOB_LOCKS
from storage.postgres_repo import PostgresRepository
from tests.conftest import make_config
from tests.digest import test_storms as storms
from tests.storage.repository_contract import NOW, mention

EVERY = timedelta(minutes=5)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOW)


@pytest.fixture
def two(postgres_schema: str, clock: FakeClock):
    repos = [PostgresRepository(postgres_schema, clock=clock) for _ in range(2)]
    yield repos
    for r in repos:
        r.close()


class CountingPipeline:
    def __init__(self) -> None:
        self.calls = 0

    def process(self, source: str, mentions: list[Any], backlog: bool = False) -> CycleResult:
        self.calls += 1
        return CycleResult(source)


def source(name: str) -> SimpleNamespace:
    return SimpleNamespace(name=name, every=EVERY, poll=lambda state: PollResult([], state))


def test_each_source_is_polled_by_one_process_and_a_dead_ones_taken_over(
    two: list[PostgresRepository], clock: FakeClock, postgres_schema: str
) -> None:
    a, b = two
    pa, pb = CountingPipeline(), CountingPipeline()
    poll_a, poll_b = Poller(a, pa, clock), Poller(b, pb, clock)
    s1, s2 = source("s1"), source("s2")
    assert not poll_a.poll(s1).elsewhere
    assert poll_b.poll(s1).elsewhere  # a holds it
    assert not poll_b.poll(s2).elsewhere  # b takes the one no one holds
    assert poll_a.poll(s2).elsewhere
    clock.advance(SOURCE_LEASE - timedelta(seconds=1))
    assert poll_b.poll(s1).elsewhere  # a's lease still runs
    # between polls (an interval is longer than a lease) the holder renews its leases
    assert a.renew_sources(["s1", "s2"], SOURCE_LEASE) == 1  # s2 is b's: not a's to renew
    clock.advance(SOURCE_LEASE - timedelta(seconds=1))
    assert poll_b.poll(s1).elsewhere  # renewed: still a's, though a has not polled it since
    assert b.expired_sources(["s1", "s2"]) == []
    assert not poll_a.poll(s1).elsewhere  # a polls it at its interval
    assert (pa.calls, pb.calls) == (2, 1)

    # a dies (no clean close, no more renewals): one lease later b finds s1 and has it
    clock.advance(SOURCE_LEASE)
    assert b.expired_sources(["s1", "s2"]) == ["s1"]  # (s2: b's own, not "another's")
    assert not poll_b.poll(s1).elsewhere
    assert poll_a.poll(s1).elsewhere  # and a, back, does not poll it alongside
    assert b.expired_sources(["s1", "s2"]) == []

    # a clean stop gives its sources up at once
    b.close()
    c = PostgresRepository(postgres_schema, clock=clock)
    try:
        assert not Poller(c, CountingPipeline(), clock).poll(s2).elsewhere
    finally:
        c.close()


def test_the_lease_keeper_renews_what_it_polls_and_takes_over_a_dead_process(
    two: list[PostgresRepository], clock: FakeClock
) -> None:
    """The running bot's keeper (app/lease_keeper.py), on two real repositories: it renews
    the leases of the sources its process polls, lets go of one whose poll hangs, and polls
    a dead process's sources once their lease has run out."""
    a, b = two
    s1, s2 = source("s1"), source("s2")
    taken: dict[str, list[str]] = {"a": [], "b": []}

    def seconds() -> float:
        return clock.now().timestamp()

    keeper_a = LeaseKeeper(a, [s1, s2], lambda s: taken["a"].append(s.name), clock=seconds)
    keeper_b = LeaseKeeper(b, [s1, s2], lambda s: taken["b"].append(s.name), clock=seconds)
    poll_a, poll_b = Poller(a, CountingPipeline(), clock), Poller(b, CountingPipeline(), clock)
    for keeper, poller, s in ((keeper_a, poll_a, s1), (keeper_b, poll_b, s2)):
        keeper.polling(s.name)
        assert not poller.poll(s).elsewhere
        keeper.polling(s.name, held=True)
    keeper_b.polling("s1")  # b's regular poll of s1, refused: nothing of b's to renew
    assert poll_b.poll(s1).elsewhere
    keeper_b.polling("s1", held=False)
    for _ in range(6):  # two minutes of ticks: both alive, nothing changes hands
        clock.advance(RENEW_EVERY * 2)
        assert keeper_a.tick() == [] and keeper_b.tick() == []
    assert poll_b.poll(s1).elsewhere and poll_a.poll(s2).elsewhere

    # b dies: a takes s2 over within a lease and a tick, claimed at once (its poll may wait
    # for a thread): no other process can take it meanwhile, and no second hand-over
    clock.advance(SOURCE_LEASE)
    assert keeper_a.tick() == ["s2"] and taken["a"] == ["s2"]
    assert Poller(b, CountingPipeline(), clock).poll(s2).elsewhere
    clock.advance(RENEW_EVERY)
    assert keeper_a.tick() == [] and taken["a"] == ["s2"]
    keeper_a.polling("s2")
    assert not poll_a.poll(s2).elsewhere

    # a's poll of s1 hangs (no poll of it starts or ends for an interval and a lease): a
    # stops renewing s1, and another process may take it (b stands in for one)
    clock.advance(EVERY + SOURCE_LEASE + RENEW_EVERY)
    keeper_a.polling("s2")  # (s2 is polled on time)
    assert a.expired_sources(["s1", "s2"]) == []  # (its own leases are not "another's")
    keeper_a.tick()
    clock.advance(RENEW_EVERY)
    assert keeper_b.tick() == ["s1"] and taken["b"] == ["s1"]  # s2, renewed, stays a's
    assert not poll_b.poll(s1).elsewhere


def item(destination: str, n: int) -> OutboxItem:
    return OutboxItem("", destination, "post", {"kind": "text", "n": n}, NOW.isoformat())


def test_the_outbox_is_claimed_by_destination_and_taken_over_after_the_lease(
    two: list[PostgresRepository], clock: FakeClock, postgres_schema: str
) -> None:
    a, b = two
    a.add_outbox([item("team", 0), item("boss", 1), item("team", 2)])
    lease = timedelta(minutes=1)
    got = a.claim_outbox(lease)
    assert [(o.destination, o.message["n"]) for o in got] == [("team", 0), ("boss", 1), ("team", 2)]
    assert b.claim_outbox(lease) == []  # a delivers to both
    b.add_outbox([item("ops", 3)])
    assert [o.message["n"] for o in b.claim_outbox(lease)] == [3]
    clock.advance(lease)  # a stopped renewing: b takes the rest, in order
    assert [o.message["n"] for o in b.claim_outbox(lease)] == [0, 1, 2, 3]
    assert a.claim_outbox(lease) == []

    # a claim in progress elsewhere is skipped, not waited for
    clock.advance(lease)
    with psycopg.connect(postgres_schema) as other:
        other.execute("SELECT 1 FROM destination_leases WHERE destination = 'team' FOR UPDATE")
        assert {o.destination for o in a.claim_outbox(lease)} == {"boss", "ops"}


def test_the_storage_lock_is_shared_by_processes(two: list[PostgresRepository]) -> None:
    a, b = two
    inside = threading.Event()
    release = threading.Event()

    def hold_b() -> None:
        with b.locked():
            inside.set()
            release.wait(30)

    with a.locked():
        thread = threading.Thread(target=hold_b)
        thread.start()
        assert not inside.wait(0.5)  # b waits while a holds it
    assert inside.wait(30)  # and gets it once a lets go
    release.set()
    thread.join()


def test_a_job_lock_is_held_by_one_process_and_a_dead_holders_is_taken_over(
    two: list[PostgresRepository], postgres_schema: str
) -> None:
    a, b = two
    inside, got = threading.Event(), threading.Event()

    def hold_a() -> None:
        with contextlib.suppress(Exception), a.job_lock("digest"):
            inside.set()
            threading.Event().wait(30)  # until its session is killed (the process dies)

    def take_b() -> None:
        with b.job_lock("digest"):
            got.set()

    holder = threading.Thread(target=hold_a, daemon=True)
    holder.start()
    assert inside.wait(30)
    waiter = threading.Thread(target=take_b, daemon=True)
    waiter.start()
    assert not got.wait(0.5)  # b waits while a holds it
    with psycopg.connect(postgres_schema, autocommit=True) as admin:
        killed = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_locks"
            " WHERE locktype = 'advisory' AND classid = %s AND granted",
            (JOB_LOCKS,),
        ).fetchall()
    assert killed == [(True,)]
    assert got.wait(30)  # a's connection gone, its lock with it: b takes the job over
    waiter.join(30)


def test_alert_ids_are_unique_across_processes(two: list[PostgresRepository]) -> None:
    ids: list[list[str]] = [[], []]

    def take(i: int) -> None:
        for _ in range(30):
            ids[i] += two[i].next_alert_ids(3)

    threads = [threading.Thread(target=take, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    every = ids[0] + ids[1]
    assert len(set(every)) == len(every) == 180


def meet_after(repo: PostgresRepository, name: str, barrier: threading.Barrier, mp) -> None:
    """`repo.name` returns only once the other process has read too (or the barrier timed
    out: the other waits on the shared lock)."""
    read = getattr(repo, name)

    def read_then_meet(*args: Any, **kw: Any) -> Any:
        found = read(*args, **kw)
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait()
        return found

    mp.setattr(repo, name, read_then_meet)


def run_both(*jobs: Any) -> None:
    threads = [threading.Thread(target=job) for job in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def test_the_daily_digest_goes_out_once_when_two_processes_find_it_due(
    two: list[PostgresRepository], clock: FakeClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    digest = {"time": (NOW - timedelta(minutes=5)).strftime("%H:%M"), "timezone": "UTC"}
    config = make_config(tmp_path, digest=digest)
    two[0].save_cycle([mention(1, when=NOW - timedelta(hours=2))], [], [], [])
    barrier = threading.Barrier(2, timeout=1)
    for repo in two:
        meet_after(repo, "get_state", barrier, monkeypatch)
    services = [DigestService(config, r, clock, charts=False) for r in two]
    run_both(*(s.run_due for s in services))
    assert len(two[0].pending_outbox()) == 1
    assert two[1].get_state("digest")["sent_for"] == NOW.date().isoformat()


def test_a_storm_is_raised_once_when_two_processes_see_it(
    postgres_schema: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = FakeClock(storms.NOW)
    repos = [PostgresRepository(postgres_schema, clock=clock) for _ in range(2)]
    try:
        surge = storms.burst(40, timedelta(0), "s", 30, "食物中毒 food poisoning")
        found = storms.baseline([4, 6, 5, 4, 6, 5, 5]) + surge
        repos[0].save_cycle(found, [], [], [])
        config = make_config(tmp_path, storms=storms.STORMS, rules=storms.RULES)
        barrier = threading.Barrier(2, timeout=1)
        for repo in repos:
            meet_after(repo, "get_state", barrier, monkeypatch)
        run_both(*(StormWatch(config, r, clock).check for r in repos))
        assert len(storms.storm_messages(repos[1])) == 1
    finally:
        for r in repos:
            r.close()


def test_an_sla_reminder_goes_out_once_when_two_processes_find_it_due(
    two: list[PostgresRepository], clock: FakeClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    route = {"name": "all", "to": ["team"], "respond_within": "15m"}
    config = make_config(tmp_path, routes=[route], destinations={"team": {"type": "console"}})
    a = two[0]
    [aid] = a.next_alert_ids(1)
    a.save_cycle([], [], [new_alert(aid, mention(1), "all", ["team"], NOW)], [])
    clock.advance(timedelta(minutes=16))
    # Both read the due alert before either changes it (unless each change re-checked
    # that the alert is still due, they would both act on it: a reminder and an escalation).
    barrier = threading.Barrier(2, timeout=1)
    for repo in two:
        meet_after(repo, "sla_candidates", barrier, monkeypatch)
    run_both(*(SlaWatcher(config, r, clock).check for r in two))
    alert = a.get_alert(aid)
    assert alert is not None and alert.escalations == 1
    assert [h["action"] for h in alert.history] == ["opened", "reminded"]
    assert [o.action for o in a.pending_outbox()] == ["reply"]


def test_a_request_key_is_taken_by_one_process_only(two, clock) -> None:
    """Two processes answering the same signed request (a replay sent to both): one acts."""
    answers: list[bool] = []
    start = threading.Barrier(2)

    def claim(repo: PostgresRepository) -> None:
        start.wait()
        answers.extend(
            repo.remember_once("sign", f"k{i}", NOW + timedelta(hours=1)) for i in range(20)
        )

    threads = [threading.Thread(target=claim, args=(r,)) for r in two]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert answers.count(True) == 20 and len(answers) == 40
    assert not two[1].remember_once("sign", "k0", NOW + timedelta(hours=1))
