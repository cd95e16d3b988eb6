"""Workflow timelines for grouping: which copies, reposts and near-duplicates join one alert
and which get their own (severity, titles that say nothing, the crisis route)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.core.workflow import (
    CRISIS_AND_TEAM,
    DELIVERY,
    POISONING,
    STORIES,
    World,
)


def test_near_duplicates_join_one_alert_and_the_update_waits_for_group_interval(
    tmp_path: Path,
) -> None:
    w = World(
        tmp_path,
        [{"name": "all", "match": {"brand": "Acme"}, "to": ["team"], "group_interval": "1m"}],
    )
    w.push("Food blogger reports food poisoning after Acme meal - Daily News")
    w.tick(0.5)
    assert len(w.notifiers["team"].posts()) == 1
    w.push("Food blogger reports food poisoning after Acme meal | City Times")  # syndicated copy
    w.push("Food blogger reports food poisoning after Acme meal - Metro")
    alerts = w.repo.find_alerts(lambda a: True)
    assert len(alerts) == 1 and alerts[0].count == 3 and len(alerts[0].similar) == 2  # "+2 similar"
    w.tick(0.5)
    assert not [s for s in w.notifiers["team"].sent if s[1] == "update"]
    w.tick(1)
    updates = [s for s in w.notifiers["team"].sent if s[1] == "update"]
    assert len(updates) == 1  # two joins, one update
    assert len(w.notifiers["team"].posts()) == 1


def test_copies_of_one_story_in_one_poll_make_one_alert(tmp_path: Path) -> None:
    w = World(tmp_path, [{"name": "all", "match": {"brand": "Acme"}, "to": ["team"]}])
    w.push(
        "Acme tea gave me food poisoning",
        "Acme tea gave me food poisoning",  # the same item under another guid
        "Food blogger reports food poisoning after Acme meal - Daily News",
        "Food blogger reports food poisoning after Acme meal | City Times",  # syndicated
        STORIES[2],  # a different story
    )
    alerts = sorted(w.repo.find_alerts(lambda a: True), key=lambda a: a.id)
    assert [a.count for a in alerts] == [2, 2, 1]
    w.tick(1)
    posts = w.notifiers["team"].posts()
    assert len(posts) == 3
    assert not [s for s in w.notifiers["team"].sent if s[1] == "update"]  # counted in the post


def test_reposts_with_small_edits_join_and_look_alike_short_posts_do_not(tmp_path: Path) -> None:
    w = World(tmp_path, [{"name": "all", "match": {"brand": "Acme"}, "to": ["team"]}])
    w.push("Acme tea sent me to hospital, I was sick all night after one cup")
    w.clock.advance(60)
    w.push("Acme tea sent me to hospital, I was sick the whole night after one cup")
    w.push("最近在艾克米点的奶茶喝完就拉肚子，客服也不理人，已经打了12315投诉电话")
    w.clock.advance(60)
    w.push("在艾克米点的奶茶喝完就拉肚子，客服也不理人，已经打了12315投诉电话")
    w.push("Acme staff were rude to my grandmother today")  # another story, same brand
    alerts = sorted(w.repo.find_alerts(lambda a: True), key=lambda a: int(a.id[1:]))
    assert [a.count for a in alerts] == [2, 2, 1]


@pytest.mark.parametrize("one_poll", [False, True])
def test_a_critical_repost_titled_like_a_complaint_reaches_the_crisis_route(
    tmp_path: Path, one_poll: bool
) -> None:
    w = World(tmp_path, CRISIS_AND_TEAM)
    complaint = ("转发微博", DELIVERY, "小李")
    repost = ("转发微博", POISONING, "小张")  # a repost without comment: the same title
    if one_poll:
        w.post(complaint, repost)
    else:
        w.post(complaint)
        w.tick(1)
        w.post(repost)
    w.tick(1)
    alerts = sorted(w.repo.find_alerts(lambda a: True), key=lambda a: a.id)
    assert [(a.route, a.severity, a.count) for a in alerts] == [
        ("team", "medium", 1),
        ("crisis", "critical", 1),
    ]
    [posted] = w.notifiers["boss"].posts()
    assert w.repo.get_alert(posted["alert_id"]).summary["text"] == POISONING


def test_titles_that_say_nothing_are_no_grouping_key(tmp_path: Path) -> None:
    w = World(tmp_path, [{"name": "all", "match": {"brand": "Acme"}, "to": ["team"]}])
    w.post(
        ("Repost", "Acme delivery arrived two hours late and cold", "ann"),
        ("Repost", "Acme staff were rude to my grandmother today", "bob"),
        ("分享图片", "艾克米的新店装修得真好看，周末去打卡", "cat"),
        ("分享图片", "艾克米的薯条太贵了，一小份要二十块", "dan"),
        ("foodie_jane", "Acme app keeps crashing when I try to pay", "foodie_jane"),
        ("foodie_jane", "Acme charged my card twice for one meal", "foodie_jane"),
        ("", "Acme restroom was filthy and out of soap", "eve"),
        ("", "Acme loyalty points vanished from my account", "fay"),
    )
    alerts = w.repo.find_alerts(lambda a: True)
    assert len(alerts) == 8 and all(a.count == 1 for a in alerts)
    # The text is the key instead: a repost of the same post still joins its alert.
    w.post(("转发微博", "Acme charged my card twice for one meal", "gus"))
    assert len(w.repo.find_alerts(lambda a: True)) == 8
    assert max(a.count for a in w.repo.find_alerts(lambda a: True)) == 2
    # And the alert shows what was said, not the placeholder.
    w.tick(1)
    printed = w.notifiers["team"].stream.getvalue()
    assert "Acme staff were rude to my grandmother today" in printed
    assert "   Repost\n" not in printed and "   分享图片\n" not in printed


def test_a_less_severe_copy_joins_the_alert_its_audience_already_has(tmp_path: Path) -> None:
    crisis = {**CRISIS_AND_TEAM[0], "continue": True}  # critical posts go to boss and team
    w = World(tmp_path, [crisis, CRISIS_AND_TEAM[1]])
    w.push("Acme burger tasted off last night, my family got food poisoning after one bite")
    w.push("Acme burger tasted off last night, my family felt sick after one bite")
    [alert] = w.repo.find_alerts(lambda a: True)
    assert (alert.route, alert.severity, alert.count) == ("crisis", "critical", 2)
    w = World(tmp_path / "apart", CRISIS_AND_TEAM)  # team never saw the critical one
    w.push("Acme burger tasted off last night, my family got food poisoning after one bite")
    w.push("Acme burger tasted off last night, my family felt sick after one bite")
    alerts = sorted(w.repo.find_alerts(lambda a: True), key=lambda a: a.id)
    assert [(a.route, a.count) for a in alerts] == [("crisis", 1), ("team", 1)]


def test_a_more_severe_near_duplicate_gets_its_own_alert(tmp_path: Path) -> None:
    w = World(tmp_path, [{"name": "all", "match": {"brand": "Acme"}, "to": ["team"]}])
    w.push("Acme burger tasted off last night, my family felt sick after one bite")
    w.push("Acme burger tasted off last night, my family got food poisoning after one bite")
    w.push("Acme burger tasted off last night, my family felt sick after one bite!!")
    alerts = sorted(w.repo.find_alerts(lambda a: True), key=lambda a: a.id)
    assert [(a.severity, a.count) for a in alerts] == [("medium", 2), ("critical", 1)]


@pytest.mark.parametrize("one_poll", [False, True])
def test_a_copy_joins_its_own_alert_after_a_more_severe_copy_took_the_same_title(
    tmp_path: Path, one_poll: bool
) -> None:
    # Grouping by text is off: the title is the only key, shared by a delivery complaint
    # (team) and a critical copy (crisis). Later team-level copies still join the team's
    # alert: they must not post again because the key now also names the crisis alert.
    w = World(tmp_path, CRISIS_AND_TEAM, grouping={"enabled": False})
    title = "Acme Main Street branch this week"
    posts = [(title, DELIVERY, "a"), (title, POISONING, "b"), (title, DELIVERY + "！", "c")]
    if one_poll:
        w.post(*posts)
    else:
        for post in posts:
            w.post(post)
            w.tick(1)
    alerts = sorted(w.repo.find_alerts(lambda a: True), key=lambda a: a.id)
    assert [(a.route, a.severity, a.count) for a in alerts] == [
        ("team", "medium", 2),
        ("crisis", "critical", 1),
    ]
