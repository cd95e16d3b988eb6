"""Workflow timelines for delivery pacing: rate limits, batches, quiet hours and a
destination that is down, as the outbox worker meets them over time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from core.commands.context import Actor
from core.domain.notifier import Delivery
from tests.core.workflow import (
    STORIES,
    World,
)


def test_critical_alerts_merged_behind_a_rate_limit_still_beat_quiet_hours(tmp_path: Path) -> None:
    dests = {"team": {"type": "console", "quiet_hours": {"start": "22:00", "end": "09:00"}}}
    w = World(
        tmp_path,
        [{"name": "all", "match": {"brand": "Acme"}, "to": ["team"], "burst": None}],
        dests,
        rate=(1, 60.0),
        grouping={"enabled": False},  # 70 look-alike texts stand for 70 different stories
    )
    w.clock.set(datetime(2026, 11, 28, 15, 0, tzinfo=UTC))  # 23:00 in Shanghai
    w.push(*[f"我在艾克米第{n}家店吃完食物中毒了，第{n}次" for n in range(70)])
    assert all(a.severity == "critical" for a in w.repo.find_alerts(lambda a: True))
    w.tick(5)
    delivered = set()
    for _, action, message in w.notifiers["team"].sent:
        if action == "post":
            delivered |= set(message.get("alert_ids", [])) | {message.get("alert_id")}
    assert len(delivered - {None}) == 70  # one alone, the rest in batches, none held till 09:00


def test_an_escalation_is_queued_once_while_its_destination_is_down(tmp_path: Path) -> None:
    route = {
        "name": "all",
        "match": {"brand": "Acme"},
        "to": ["team"],
        "respond_within": "10m",
        "escalate_to": ["boss"],
        "max_escalations": 3,
    }
    w = World(tmp_path, [route])
    w.notifiers["boss"].send = lambda out, payload: Delivery(ok=False, retryable=True, error="down")
    w.push(STORIES[8])
    w.tick(60)
    assert w.repo.get_alert("A1").escalations == 4
    posts = [o for o in w.repo.pending_outbox() if o.destination == "boss" and o.action == "post"]
    assert len(posts) == 1


def test_a_note_waiting_for_its_held_post_does_not_delay_the_next_wake(tmp_path: Path) -> None:
    dests = {
        "team": {
            "type": "console",
            "quiet_hours": {"start": "22:00", "end": "09:00", "allow_severity": "critical"},
        },
        "crisis": {"type": "console"},
    }
    routes = [
        {"name": "crisis", "match": {"brand": "Acme", "severity": "critical"}, "to": ["crisis"]},
        {"name": "all", "match": {"brand": "Acme"}, "to": ["team"], "burst": None},
    ]
    w = World(tmp_path, routes, dests, rate=(1, 1.0), grouping={"enabled": False})
    w.clock.set(datetime(2026, 11, 28, 15, 0, tzinfo=UTC))  # 23:00 in Shanghai
    w.push("Acme fries were a bit soggy")  # held until 09:00
    w.deliverer.deliver_due()
    w.clock.advance(5)
    assert w.commands.run("ack A1", Actor("u1", "ann", "console")).ok  # its note waits too
    w.push("我吃了艾克米的汉堡后食物中毒了", "艾克米的沙拉让我们全家食物中毒")  # critical
    w.deliverer.deliver_due()
    assert [m["alert_id"] for m in w.notifiers["crisis"].posts()] == ["A2"]
    # The next critical post may go when the rate limit frees up, a second from now; the
    # note cannot go before 09:00, so it must not make the worker wait a whole pass.
    assert w.deliverer.next_wake() == w.clock.now() + timedelta(seconds=1)


def test_posts_held_by_quiet_hours_go_at_the_rate_limit_once_it_ends(tmp_path: Path) -> None:
    dests = {
        "team": {
            "type": "console",
            "quiet_hours": {"start": "22:00", "end": "09:00", "allow_severity": "critical"},
        }
    }
    route = {"name": "all", "match": {"brand": "Acme"}, "to": ["team"], "burst": None}
    w = World(tmp_path, [route], dests, rate=(1, 1.0), grouping={"enabled": False})
    w.clock.set(datetime(2026, 11, 28, 15, 0, tzinfo=UTC))  # 23:00 in Shanghai
    w.push(*STORIES[1:4])  # not critical: held until 09:00
    w.deliverer.deliver_due()
    assert w.notifiers["team"].posts() == []
    w.clock.set(datetime(2026, 11, 29, 1, 0, 30, tzinfo=UTC))  # 09:00:30
    w.deliverer.deliver_due()
    assert len(w.notifiers["team"].posts()) == 1
    # The next may go in a second (the rate limit), not at the past end of quiet hours,
    # which made the worker wait a whole pass for each.
    assert w.deliverer.next_wake() == w.clock.now() + timedelta(seconds=1)


def test_the_worker_sends_again_at_once_when_a_rate_limit_freed_up_during_its_pass(
    tmp_path: Path,
) -> None:
    import threading

    routes = [
        {"name": "crisis", "match": {"brand": "Acme", "severity": "critical"}, "to": ["boss"]},
        {"name": "all", "match": {"brand": "Acme"}, "to": ["team"], "burst": None},
    ]
    w = World(tmp_path, routes, rate=(1, 1.0), grouping={"enabled": False})
    done = threading.Event()
    for notifier in w.notifiers.values():
        send = notifier.send

        def slow(out, payload, send=send):  # each send takes 1.5 s of the (fake) clock
            w.clock.advance(1.5)
            result = send(out, payload)
            if len(w.notifiers["team"].posts()) == 2:
                done.set()
            return result

        notifier.send = slow
    w.push(STORIES[1], STORIES[2])  # two posts for team: the second waits for its limit
    w.push("我吃了艾克米的汉堡后食物中毒了")  # boss's post goes meanwhile, past that limit
    w.deliverer.start(600)  # a pass every 10 minutes unless something is due sooner
    try:
        w.deliverer.kick()
        assert done.wait(30), "team's second post waited a whole pass"
    finally:
        w.deliverer.stop()
