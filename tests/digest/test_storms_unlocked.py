"""A storm's message is worked out outside the storage lock (issue 16): an ack typed while
the storm's records are read goes through at once, and of two processes that both see the
storm, the one that stores it first raises it; the other drops what it wrote. On every
backend (tests/digest/conftest.py: two_stores)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from core.alerting.lifecycle import AlertService
from core.domain.clock import FakeClock
from core.reports.storms import StormWatch
from tests.conftest import make_config
from tests.digest import test_storms as storms
from tests.holds import WAIT, Hold, in_thread
from tests.storage.repository_contract import store_alerts
from tests.two_stores import TwoStores


def storm_store(two_stores: TwoStores, clock: FakeClock) -> list:
    repos = two_stores(clock)
    surge = storms.burst(40, timedelta(0), "s", 30, "食物中毒 food poisoning")
    repos[0].save_cycle(storms.baseline([4, 6, 5, 4, 6, 5, 5]) + surge, [], [], [])
    return repos


def config(tmp_path: Path):
    return make_config(tmp_path, storms=storms.STORMS, rules=storms.RULES)


def test_an_ack_goes_through_while_a_storms_records_are_read(
    two_stores: TwoStores, tmp_path: Path, monkeypatch
) -> None:
    clock = FakeClock(storms.NOW)
    repo = storm_store(two_stores, clock)[0]
    [alert] = store_alerts(repo, 1)
    watch = StormWatch(config(tmp_path), repo, clock)
    hold = Hold(watch.current_docs)  # (the counts come first, under no lock before either)
    monkeypatch.setattr(watch, "current_docs", hold)
    checker, raised = in_thread(watch.check)
    try:
        assert hold.started.wait(WAIT)  # the storm's records being read
        acker, acked = in_thread(lambda: AlertService(repo, clock).ack(alert.id, "ann", "slack"))
        acker.join(WAIT)
        assert acked and acked[0].changed  # did not wait for the storm check
        assert checker.is_alive()
    finally:
        hold.release.set()
        checker.join(WAIT)
    assert len(raised[0]) == 1 and len(storms.storm_messages(repo)) == 1


def test_a_storm_seen_by_two_processes_is_raised_by_the_first_to_store_it(
    two_stores: TwoStores, tmp_path: Path, monkeypatch
) -> None:
    clock = FakeClock(storms.NOW)
    a, b = storm_store(two_stores, clock)
    slow, fast = StormWatch(config(tmp_path), a, clock), StormWatch(config(tmp_path), b, clock)
    hold = Hold(slow.current_docs)
    monkeypatch.setattr(slow, "current_docs", hold)
    held, held_result = in_thread(slow.check)
    try:
        assert hold.started.wait(WAIT)  # `slow` found the storm and reads its records
        quick, quick_result = in_thread(fast.check)
        quick.join(WAIT)
        assert quick_result and len(quick_result[0]) == 1  # `fast` raised it meanwhile
    finally:
        hold.release.set()
        held.join(WAIT)
    assert held_result == [[]]  # `slow` saw the state changed under the lock: dropped
    assert len(storms.storm_messages(a)) == 1
    assert b.get_state("storm:Acme")["active"] is True
    # and the clear is said once, by whichever checks first
    clock.advance(timedelta(hours=2))
    a.save_cycle(storms.burst(3, timedelta(hours=2, minutes=1), "q"), [], [], [])
    assert len(slow.check()) == 1 and fast.check() == []
    assert len(storms.storm_messages(b)) == 2
