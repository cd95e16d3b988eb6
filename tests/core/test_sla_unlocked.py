"""The SLA check holds no storage lock (issue 16): an ack goes through while it reads, and
of two processes that both find an alert due, one reminds it, once (each step re-checks,
inside change_alert, that the alert is still due). On every backend (tests/two_stores.py)."""

from __future__ import annotations

import contextlib
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from core.alerting.lifecycle import AlertService, new_alert
from core.alerting.sla import SlaWatcher
from core.domain.clock import FakeClock
from core.domain.repository import Repository
from tests.conftest import make_config
from tests.holds import WAIT, Hold, in_thread
from tests.storage.repository_contract import NOW, mention
from tests.two_stores import TwoStores

ROUTE = {"name": "all", "to": ["team"], "respond_within": "15m", "escalate_to": ["boss"]}
DESTINATIONS = {"team": {"type": "console"}, "boss": {"type": "console"}}


def due_alerts(two_stores: TwoStores, clock: FakeClock, count: int) -> tuple[list, list[str]]:
    """Two stores holding `count` open alerts, each 16 minutes old (a reminder due)."""
    repos = two_stores(clock)
    ids = repos[0].next_alert_ids(count)
    alerts = [new_alert(a, mention(i), "all", ["team"], NOW) for i, a in enumerate(ids)]
    repos[0].save_cycle([], [], alerts, [])
    clock.advance(timedelta(minutes=16))
    return repos, ids


def watcher(repo: Repository, clock: FakeClock, tmp_path: Path) -> SlaWatcher:
    config = make_config(tmp_path, routes=[ROUTE], destinations=DESTINATIONS)
    return SlaWatcher(config, repo, clock)


def test_an_ack_goes_through_while_the_sla_check_reads(
    two_stores: TwoStores, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = FakeClock(NOW)
    [repo, _], [first, second] = due_alerts(two_stores, clock, 2)
    hold = Hold(repo.sla_candidates)
    monkeypatch.setattr(repo, "sla_candidates", hold)
    checker, report = in_thread(watcher(repo, clock, tmp_path).check)
    try:
        assert hold.started.wait(WAIT)  # the check is reading what is due
        acker, acked = in_thread(lambda: AlertService(repo, clock).ack(first, "ann", "slack"))
        acker.join(WAIT)
        assert acked and acked[0].changed  # did not wait for the check
        assert checker.is_alive()
    finally:
        hold.release.set()
        checker.join(WAIT)
    # It had read both as due; the acked one is not reminded (its change re-checks).
    assert report[0].reminded == 1
    acked_alert, reminded = repo.get_alert(first), repo.get_alert(second)
    assert acked_alert is not None and acked_alert.escalations == 0
    assert reminded is not None and reminded.escalations == 1


def test_two_processes_that_find_an_alert_due_remind_it_once(
    two_stores: TwoStores, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = FakeClock(NOW)
    repos, [aid] = due_alerts(two_stores, clock, 1)
    # Both read the due alert before either changes it.
    barrier = threading.Barrier(2, timeout=WAIT)
    for repo in {id(r): r for r in repos}.values():
        read = repo.sla_candidates

        def read_then_meet(*args: Any, read: Any = read) -> Any:
            found = read(*args)
            with contextlib.suppress(threading.BrokenBarrierError):
                barrier.wait()
            return found

        monkeypatch.setattr(repo, "sla_candidates", read_then_meet)
    jobs = [in_thread(watcher(r, clock, tmp_path).check) for r in repos]
    for thread, _ in jobs:
        thread.join(WAIT)
    assert not barrier.broken  # (both had read it)
    assert sorted(report[0].reminded for _, report in jobs) == [0, 1]
    assert sum(report[0].escalated for _, report in jobs) == 0
    alert = repos[1].get_alert(aid)
    assert alert is not None and alert.escalations == 1
    assert [h["action"] for h in alert.history] == ["opened", "reminded"]
    assert [o.action for o in repos[1].pending_outbox()] == ["reply"]
    # 15 minutes on, the escalation is due: it goes out once too
    clock.advance(timedelta(minutes=15))
    reports = [watcher(r, clock, tmp_path).check() for r in repos]
    assert sorted(r.escalated for r in reports) == [0, 1]
