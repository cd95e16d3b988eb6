"""Alertmanager-style timeline tests: mentions pushed at given times, messages expected
within windows (group_wait, quiet hours, SLAs, snooze, silences, reopening, the archive)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from core.alerting.routing import Router
from core.commands.context import Actor
from core.domain.models import Mention
from core.intake.pipeline import Pipeline
from rules.analyze import Analyzer
from storage.tinydb_repo import TinyDBRepository
from tests.core.workflow import (
    START,
    STORIES,
    World,
)


def test_group_wait_holds_the_first_post(tmp_path: Path) -> None:
    w = World(
        tmp_path, [{"name": "all", "match": {"brand": "Acme"}, "to": ["team"], "group_wait": "2m"}]
    )
    w.push(STORIES[0])
    w.tick(1.5)
    assert w.notifiers["team"].posts() == []
    w.push(STORIES[0] + " - Daily News")  # joins while the post waits
    w.tick(1)
    assert len(w.notifiers["team"].posts()) == 1
    sent_at = w.notifiers["team"].sent[0][0]
    assert timedelta(minutes=2) <= sent_at - START <= timedelta(minutes=2, seconds=20)
    assert not [
        s for s in w.notifiers["team"].sent if s[1] == "update"
    ]  # the post already showed count 2


def test_quiet_hours_hold_all_but_critical(tmp_path: Path) -> None:
    dests = {
        "team": {
            "type": "console",
            "quiet_hours": {"start": "22:00", "end": "09:00", "allow_severity": "critical"},
        }
    }
    w = World(tmp_path, [{"name": "all", "match": {"brand": "Acme"}, "to": ["team"]}], dests)
    w.clock.set(datetime(2026, 11, 28, 15, 0, tzinfo=UTC))  # 23:00 in Shanghai
    w.push("Acme fries were a bit soggy")  # not critical: waits
    w.push("我吃了艾克米的汉堡后食物中毒了")  # critical aspect: goes now
    w.tick(1)
    posts = w.notifiers["team"].posts()
    assert len(posts) == 1
    critical = w.repo.get_alert(posts[0]["alert_id"])
    assert critical is not None and critical.severity == "critical"
    w.clock.set(datetime(2026, 11, 29, 0, 58, tzinfo=UTC))  # 08:58
    w.tick(1)
    assert len(w.notifiers["team"].posts()) == 1
    w.tick(2)  # 09:00 has passed
    assert len(w.notifiers["team"].posts()) == 2


def test_sla_reminds_then_escalates_a_bounded_number_of_times(tmp_path: Path) -> None:
    route = {
        "name": "all",
        "match": {"brand": "Acme"},
        "to": ["team"],
        "respond_within": "15m",
        "escalate_to": ["boss"],
        "max_escalations": 2,
    }
    w = World(tmp_path, [route])
    w.push(STORIES[0])
    w.tick(14)
    assert [s[1] for s in w.notifiers["team"].sent] == ["post"]
    w.tick(2)  # 16 min: re-announced in its thread
    notes = [m["text"] for _, a, m in w.notifiers["team"].sent if a == "reply"]
    assert len(notes) == 1 and "no response for 15m" in notes[0]
    assert w.notifiers["boss"].sent == []
    w.tick(15)  # 31 min: escalated to the boss
    assert [a for _, a, _ in w.notifiers["boss"].sent] == ["post", "reply"]
    w.tick(15)  # 46 min: second escalation, a note only (the boss has the alert already)
    w.tick(60)  # no more after max_escalations
    boss = [a for _, a, _ in w.notifiers["boss"].sent]
    assert boss == ["post", "reply", "reply"]
    alert = w.repo.find_alerts(lambda a: True)[0]
    assert alert.escalations == 3
    assert [h["action"] for h in alert.history] == ["opened", "reminded", "escalated", "escalated"]


def test_ack_stops_the_sla_and_updates_every_destination(tmp_path: Path) -> None:
    route = {
        "name": "all",
        "match": {"brand": "Acme"},
        "to": ["team"],
        "respond_within": "15m",
        "escalate_to": ["boss"],
    }
    w = World(tmp_path, [route])
    w.push(STORIES[1])
    w.tick(10)
    reply = w.commands.run("ack A1", Actor("u1", "ann", "slack"))
    assert reply.ok and "acked by ann" in reply.text
    w.tick(60)
    assert w.notifiers["boss"].sent == []
    assert [a for _, a, _ in w.notifiers["team"].sent] == ["post", "update", "reply"]


def test_snooze_wakes_up_and_the_sla_clock_restarts(tmp_path: Path) -> None:
    route = {"name": "all", "match": {"brand": "Acme"}, "to": ["team"], "respond_within": "15m"}
    w = World(tmp_path, [route])
    w.push(STORIES[2])
    assert w.commands.run("snooze A1 1h", Actor("u1", "ann", "console")).ok
    w.tick(59)
    assert w.repo.get_alert("A1").status == "snoozed"
    assert not [
        m
        for _, a, m in w.notifiers["team"].sent
        if a == "reply" and "no response" in m.get("text", "")
    ]
    w.tick(2)
    alert = w.repo.get_alert("A1")
    assert alert.status == "open" and "snooze ended" in [h["action"] for h in alert.history]
    w.tick(10)
    assert alert.escalations == 0 and w.repo.get_alert("A1").escalations == 0
    w.tick(6)  # 15 minutes after the snooze ended
    assert w.repo.get_alert("A1").escalations == 1


def test_silence_stops_new_alerts_until_it_expires(tmp_path: Path) -> None:
    w = World(tmp_path, [{"name": "all", "match": {"brand": "Acme"}, "to": ["team"]}])
    actor = Actor("u1", "ann", "console")
    assert w.commands.run("silence source feed 30m", actor).ok
    assert "source feed" in w.commands.run("silence", actor).text
    w.push(STORIES[3])
    assert w.repo.find_alerts(lambda a: True) == []
    assert len(list(w.repo.iter_mentions(None))) == 1  # still stored
    w.clock.advance(timedelta(minutes=31))
    w.push(STORIES[4])
    assert len(w.repo.find_alerts(lambda a: True)) == 1
    assert not w.commands.run("silence planet mars 1h", actor).ok


def test_resolved_story_reopens_on_a_new_mention(tmp_path: Path) -> None:
    w = World(tmp_path, [{"name": "all", "match": {"brand": "Acme"}, "to": ["team"]}])
    w.push(STORIES[5])
    w.tick(1)
    assert w.commands.run("resolve A1", Actor("u1", "ann", "console")).ok
    w.tick(1)
    w.push(STORIES[5] + " - Metro")
    alert = w.repo.get_alert("A1")
    assert alert.status == "open" and alert.count == 2
    assert [h["action"] for h in alert.history][-1] == "reopened"


@pytest.mark.parametrize("quiet", [("22:00", "09:00"), ("12:00", "14:00")])
def test_quiet_until(quiet: tuple[str, str]) -> None:
    from zoneinfo import ZoneInfo

    from core.config import QuietHours
    from core.delivery.hold import quiet_until

    tz = ZoneInfo("Asia/Shanghai")
    q = QuietHours(start=quiet[0], end=quiet[1])
    inside = datetime(2026, 11, 28, int(quiet[0][:2]), 30, tzinfo=tz)
    outside = (
        datetime(2026, 11, 28, 10, 0, tzinfo=tz)
        if quiet[0] == "22:00"
        else datetime(2026, 11, 28, 15, 0, tzinfo=tz)
    )
    assert quiet_until(q, outside, tz) is None
    end = quiet_until(q, inside, tz)
    assert end is not None and end > inside and end.astimezone(tz).strftime("%H:%M") == quiet[1]


def test_resolved_alerts_move_to_the_archive_and_stay_findable(tmp_path: Path) -> None:
    w = World(tmp_path, [{"name": "all", "match": {"brand": "Acme"}, "to": ["team"]}])
    w.push(STORIES[6], STORIES[7])
    w.tick(1)
    assert w.commands.run("resolve A1", Actor("u1", "ann", "console")).ok
    w.tick(1)
    w.clock.advance(timedelta(days=13))
    assert w.repo.archive_alerts(w.clock.now() - timedelta(days=14)) == 0
    assert {a.id for a in w.repo.find_alerts(lambda a: True)} == {"A1", "A2"}
    w.clock.advance(timedelta(days=2))
    assert w.repo.archive_alerts(w.clock.now() - timedelta(days=14)) == 1
    assert {a.id for a in w.repo.find_alerts(lambda a: True)} == {"A2"}  # the open one stays
    assert '"A1"' not in (w.config.data_dir / "state.json").read_text(encoding="utf-8")
    archived = w.repo.get_alert("A1")
    assert archived is not None and archived.status == "resolved" and archived.resolved_by == "ann"
    reply = w.commands.run("ack A1", Actor("u2", "bob", "console"))
    assert not reply.ok and "was resolved by ann" in reply.text and "archived" in reply.text


def test_a_crash_after_storing_alerts_does_not_count_the_cycle_twice(tmp_path: Path) -> None:
    w = World(tmp_path, [{"name": "all", "match": {"brand": "Acme"}, "to": ["team"]}])
    w.push(STORIES[0])
    mention = Mention(
        id="again",
        source="feed",
        url="https://example.com/again",
        title=STORIES[0],
        text=STORIES[0],
        fetched_at=w.clock.now(),
    )

    def die(*_args, **_kwargs):
        raise KeyboardInterrupt("killed between the state write and the seen log")

    w.repo.seen.add = die
    with pytest.raises(KeyboardInterrupt):
        w.pipeline.process("feed", [mention])
    w.repo.close()

    # The next run sees the same entry again: it was counted once and must not be again.
    repo = TinyDBRepository(w.config.data_dir, clock=w.clock)
    pipeline = Pipeline(w.config, repo, Analyzer(w.config), Router(w.config.routes), w.clock)
    assert repo.unseen(["again"]) == []
    result = pipeline.process("feed", [mention])
    assert result.new == 0
    [alert] = repo.find_alerts(lambda a: True)
    assert alert.count == 2
    repo.close()
