"""Workflow timelines for bursts: a burst of alerts on a route becomes one storm message
that grows, never swallows high or critical alerts, and follows what is done to members."""

from __future__ import annotations

from pathlib import Path

from core.commands.context import Actor
from tests.core.workflow import (
    BURSTY,
    POISONINGS,
    STORIES,
    World,
)


def test_a_burst_becomes_one_storm_message_that_grows(tmp_path: Path) -> None:
    w = World(
        tmp_path,
        [
            {
                "name": "complaints",
                "match": {"brand": "Acme"},
                "to": ["team"],
                "burst": {"threshold": 3, "window": "5m"},
                "group_interval": "30s",
            }
        ],
    )
    for story in STORIES:  # twelve different stories within two minutes
        w.push(story)
        w.tick(10 / 60)
    w.tick(2)
    posts = w.notifiers["team"].posts()
    assert len(posts) == 4  # three alerts on their own, then one storm message
    storm = w.repo.find_alerts(lambda a: a.kind == "storm")
    assert len(storm) == 1 and storm[0].count == 9 and len(storm[0].members) == 9
    assert "Storm on route complaints: 9 alerts" in storm[0].summary["title"]
    updates = [s for s in w.notifiers["team"].sent if s[1] == "update"]
    assert 1 <= len(updates) < 9  # it grew in place, fewer updates than members
    # Members stay individually ackable, with no message of their own.
    member = storm[0].members[0]
    assert w.commands.run(f"ack {member}", Actor("u1", "ann", "console")).ok
    # After the window passes quietly, a new story is an ordinary alert again.
    w.tick(6)
    before = len(w.notifiers["team"].posts())
    w.push("Acme cashier was lovely and helpful")
    w.tick(0.5)
    assert len(w.notifiers["team"].posts()) == before + 1


def test_copies_in_one_poll_neither_delay_the_post_nor_leak_out_of_a_storm(tmp_path: Path) -> None:
    route = {"name": "all", "match": {"brand": "Acme"}, "to": ["team"], "group_interval": "5m"}
    w = World(tmp_path, [route])
    w.push(STORIES[0], STORIES[0])
    w.tick(0.5)
    assert len(w.notifiers["team"].posts()) == 1  # not held back by a queued update

    storm = {**route, "burst": {"threshold": 3, "window": "10m"}}
    w = World(tmp_path / "storm", [storm])
    w.push(*[text for story in STORIES[1:7] for text in (story, story)])
    w.tick(10)
    stormed = {a.id for a in w.repo.find_alerts(lambda a: bool(a.storm_of))}
    assert stormed
    posted = {m.get("alert_id") for m in w.notifiers["team"].posts()}
    assert not posted & stormed  # storm members appear only inside the storm message


def test_a_sources_first_poll_is_a_backlog_not_a_burst(tmp_path: Path) -> None:
    w = World(tmp_path, [BURSTY])
    assert not w.poller.poll(w.source).ok  # no feed yet: a failed poll is not the first one
    first = [(s, f"user{i}") for i, s in enumerate(STORIES[1:8])] + [(p, "x") for p in POISONINGS]
    w.poll_feed(*first)  # ten posts that piled up before Buzzwatch looked, three critical
    w.tick(1)
    assert w.repo.find_alerts(lambda a: a.kind == "storm") == []
    posts = w.notifiers["team"].posts()
    assert len(posts) == 10 and {p["alert_id"] for p in posts} == {f"A{n}" for n in range(1, 11)}
    # The backlog does not count towards a burst on the next polls either.
    w.clock.advance(60)
    w.poll_feed((STORIES[8], "y"), (STORIES[9], "z"))
    w.tick(1)
    assert w.repo.find_alerts(lambda a: a.kind == "storm") == []
    assert len(w.notifiers["team"].posts()) == 12
    # A real burst later still folds.
    w.poll_feed((STORIES[10], "p"), (STORIES[11], "q"), (STORIES[0] + " again", "r"))
    [storm] = w.repo.find_alerts(lambda a: a.kind == "storm")
    assert len(storm.members) == 1


def test_high_and_critical_alerts_are_never_folded_into_a_storm(tmp_path: Path) -> None:
    w = World(tmp_path, [BURSTY], kols=[{"name": "bigmouth", "followers": 50000}])
    w.push(*STORIES[1:6])  # a burst: the fourth and fifth fold into a storm
    w.push(*POISONINGS)  # critical
    w.push("Acme fries were cold and soggy again today", author="bigmouth")  # a KOL: high
    w.push(STORIES[6])
    storm = w.repo.find_alerts(lambda a: a.kind == "storm")[0]
    severe = w.repo.find_alerts(lambda a: a.severity in ("high", "critical") and a.kind != "storm")
    assert len(severe) == 4 and not any(a.storm_of for a in severe)
    assert len(storm.members) == 3 and storm.severity == "medium"
    w.tick(1)
    posted = {m["alert_id"] for m in w.notifiers["team"].posts()}
    assert {a.id for a in severe} <= posted


def test_a_storm_message_lists_its_members_and_acting_on_one_updates_it(tmp_path: Path) -> None:
    w = World(tmp_path, [BURSTY])
    w.push(*STORIES[1:7], author="jo <b>")
    [storm] = w.repo.find_alerts(lambda a: a.kind == "storm")
    w.tick(1)
    printed = w.notifiers["team"].stream.getvalue()
    assert "similar" not in printed
    for member_id in storm.members:
        member = w.repo.get_alert(member_id)
        line = f"[{member_id}] {member.severity.upper()} · {member.summary['title']}"
        assert line in printed
        assert member.summary["url"] in printed
    assert printed.count("jo <b>") >= len(storm.members)
    before = len(w.notifiers["team"].sent)
    shown = len(w.notifiers["team"].stream.getvalue())
    member = storm.members[1]
    assert w.commands.run(f"assign {member} bob", Actor("u1", "ann", "console")).ok
    w.tick(1)
    sent = w.notifiers["team"].sent[before:]
    assert [(action, m.get("alert_id")) for _, action, m in sent if action == "update"] == [
        ("update", storm.id)
    ]
    notes = [m["text"] for _, action, m in sent if action == "reply"]
    assert notes == [f"{member} assigned to bob by ann."]
    redrawn = w.notifiers["team"].stream.getvalue()[shown:]
    assert f"[{member}] MEDIUM" in redrawn and "assigned to bob (by ann)" in redrawn


def test_a_storm_member_reopened_by_a_new_mention_updates_the_storm_message(
    tmp_path: Path,
) -> None:
    w = World(tmp_path, [BURSTY])
    w.push(*STORIES[1:7])
    [storm] = w.repo.find_alerts(lambda a: a.kind == "storm")
    member = storm.members[0]
    w.tick(1)
    assert w.commands.run(f"resolve {member}", Actor("u1", "ann", "console")).ok
    w.tick(1)
    before = len(w.notifiers["team"].sent)
    story = w.repo.get_alert(member).summary["title"]
    w.push(story + " - Metro")  # the resolved story comes back
    assert w.repo.get_alert(member).status == "open"
    w.tick(1)
    sent = w.notifiers["team"].sent[before:]
    assert ("update", storm.id) in [(action, m.get("alert_id")) for _, action, m in sent]
    notes = [m["text"] for _, action, m in sent if action == "reply"]
    assert any(f"{member} reopened" in n for n in notes)
