"""The Bolt app end to end: signed slash commands and button clicks through the real App,
the command layer, the outbox and the Web API stand-in."""

from __future__ import annotations

import json
import re
import threading
import time
from datetime import timedelta
from itertools import pairwise

import pytest

from core.domain.models import Mention
from core.domain.query import MAX_LIMIT
from listeners.slack import blocks as bk
from listeners.slack.app import HttpListener, start_slack
from tests.slack.rig import (
    SECRET,
    Rig,
    answers,
    button,
    click,
    free_port,
    post_signed,
    slash,
    text_of,
    wait_for,
)
from tests.standin.slack import CHANNEL, block_problems


def test_slash_ack_updates_the_message_and_notes_it_in_the_thread(rig, slack_api):
    rig.push(1)
    [post] = slack_api.calls("chat.postMessage")
    ts = rig.alert().messages["slack"]["ts"]
    resp = rig.dispatch(slash(slack_api, "/ack", "a1"))
    assert resp.status == 200
    [answer] = answers(slack_api)
    assert answer["response_type"] == "ephemeral" and "A1 acked by ann" in answer["text"]
    wait_for(lambda: rig.alert().status == "acked")
    rig.settle()
    [update] = slack_api.calls("chat.update")
    assert update.body["ts"] == ts and update.body["channel"] == CHANNEL
    assert "acked by ann" in text_of(update.body)
    assert bk.ACK not in json.dumps(update.body["blocks"])  # no Ack button once acked
    note = slack_api.calls("chat.postMessage")[-1]
    assert note.body["thread_ts"] == ts and note.body["text"] == "A1 acked by ann."
    assert post.body["link_names"] is False


@pytest.mark.parametrize("kind", ["forged", "missing", "stale"])
def test_bad_signatures_get_401_and_change_nothing(rig, slack_api, kind):
    rig.push(1)
    calls = len(slack_api.calls())
    for body in (slash(slack_api, "/ack", "A1"), click(slack_api, button(bk.ACK))):
        if kind == "forged":
            resp = rig.dispatch(body, secret="not-the-secret")
        elif kind == "missing":
            resp = rig.dispatch(body, sign=False)
        else:
            resp = rig.dispatch(body, ts=str(int(rig.now()) - 301))
        assert resp.status == 401
    time.sleep(0.2)
    assert rig.alert().status == "open" and rig.alert().acked_by == ""
    assert slack_api.responses() == [] and len(slack_api.calls()) == calls
    assert rig.bw.repo.pending_outbox() == []


def test_buttons_ack_resolve_assign_snooze(rig, slack_api):
    slack_api.state.users["U777"] = {
        "id": "U777",
        "name": "jd",
        "profile": {"display_name": "Jane D"},
    }
    rig.push(3)
    assert rig.dispatch(click(slack_api, button(bk.ACK))).status == 200
    wait_for(lambda: rig.alert("A1").acked_by == "bob")
    rig.settle()
    # A second Ack on the same alert: told who did it, nothing changes.
    rig.dispatch(click(slack_api, button(bk.ACK), user="U3", name="cat"))
    [refusal] = answers(slack_api)
    assert "already acked by bob" in refusal["text"]
    assert refusal["response_type"] == "ephemeral" and refusal["replace_original"] is False

    assign = {
        "action_id": bk.ASSIGN,
        "block_id": "buzz_alert:A2",
        "type": "users_select",
        "selected_user": "U777",
    }
    rig.dispatch(click(slack_api, assign))
    wait_for(lambda: rig.alert("A2").assignee == "Jane D")
    snooze = {
        "action_id": bk.SNOOZE,
        "block_id": "buzz_alert:A3",
        "type": "overflow",
        "selected_option": {"value": "A3 4h", "text": {"type": "plain_text", "text": "Snooze 4h"}},
    }
    rig.dispatch(click(slack_api, snooze))
    wait_for(lambda: rig.alert("A3").status == "snoozed")
    assert rig.alert("A3").snoozed_until.startswith(
        (rig.clock.now() + timedelta(hours=4)).isoformat()[:16]
    )
    rig.dispatch(click(slack_api, button(bk.RESOLVE, "A2")))
    wait_for(lambda: rig.alert("A2").status == "resolved")
    rig.settle()
    ts2 = rig.alert("A2").messages["slack"]["ts"]
    last = [c for c in slack_api.calls("chat.update") if c.body["ts"] == ts2][-1]
    assert "resolved by bob" in text_of(last.body)
    assert not any(b["type"] == "actions" for b in last.body["blocks"])
    notes = [c.body["text"] for c in slack_api.calls("chat.postMessage") if "thread_ts" in c.body]
    assert notes[:4] == [
        "A1 acked by bob.",
        "A2 assigned to Jane D by bob.",
        notes[2],
        "A2 resolved by bob.",
    ] and notes[2].startswith("A3 snoozed by bob until")
    assert len(slack_api.responses()) == 1  # successes answer in the channel, not privately
    assert (
        rig.dispatch(
            click(slack_api, {"action_id": bk.OPEN, "type": "button", "url": "https://x"})
        ).status
        == 200
    )


def test_two_people_ack_at_once_exactly_one_wins(rig, slack_api):
    rig.push(1)
    barrier = threading.Barrier(2)
    statuses = []

    def press(user: str, name: str) -> None:
        body = click(slack_api, button(bk.ACK), user=user, name=name)
        barrier.wait()
        statuses.append(rig.dispatch(body).status)

    threads = [threading.Thread(target=press, args=u) for u in (("U2", "bob"), ("U3", "cat"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses == [200, 200]
    [loser] = answers(slack_api)
    winner = wait_for(lambda: rig.alert().acked_by)
    assert f"already acked by {winner}" in loser["text"]
    time.sleep(0.2)
    assert [h["action"] for h in rig.alert().history].count("acked") == 1
    assert len(slack_api.responses()) == 1


def test_ack_unknown_id_and_junk(rig, slack_api):
    rig.push(1)
    rig.dispatch(slash(slack_api, "/ack", "A999"))
    rig.dispatch(slash(slack_api, "/ack", "<!channel> " + "x&<>" * 2500))  # 10 KB of junk
    rig.dispatch(slash(slack_api, "/ack", "DROP TABLE; <@U1>"))
    got = answers(slack_api, 3)
    texts = sorted(b["text"] for b in got)
    assert any("No alert A999" in t for t in texts)
    assert any("too long" in t for t in texts)
    assert any("is not an alert id" in t for t in texts)
    for body in got:
        assert block_problems(body["blocks"]) == []
        assert "<!channel>" not in text_of(body) and "<@U1>" not in text_of(body)
    assert rig.alert().status == "open" and slack_api.calls("chat.update") == []


def test_assign_takes_a_slack_mention(rig, slack_api):
    slack_api.state.users["U777"] = {
        "id": "U777",
        "name": "jd",
        "profile": {"real_name": "Jane Doe"},
    }
    rig.push(1)
    rig.dispatch(slash(slack_api, "/assign", "A1 <@U777|jd>"))
    [answer] = answers(slack_api)
    assert "A1 assigned to Jane Doe by ann" in answer["text"]
    assert rig.alert().assignee == "Jane Doe"
    assert slack_api.calls("users.info")[0].body["user"] == "U777"
    rig.dispatch(slash(slack_api, "/buzz", "assign A1 <@U888|ghost>"))  # unknown: the name given
    wait_for(lambda: rig.alert().assignee == "ghost")


def test_mentions_pages_with_a_more_button(rig, slack_api):
    rig.push(5, word="<!channel>")
    rig.dispatch(slash(slack_api, "/mentions", "acme limit:2"))
    [first] = answers(slack_api)
    assert first["response_type"] == "ephemeral"
    assert block_problems(first["blocks"]) == []
    flat = json.dumps(first["blocks"])
    assert "<https://example.com/4|" in flat and "<https://example.com/3|" in flat  # newest first
    assert "<!channel>" not in flat and "&lt;!channel&gt;" in flat
    more = next(e for b in first["blocks"] if b["type"] == "actions" for e in b["elements"])
    assert more["action_id"] == bk.MORE
    rig.dispatch(click(slack_api, {"action_id": bk.MORE, "type": "button", "value": more["value"]}))
    second = answers(slack_api, 2)[1]
    assert second["replace_original"] is True
    assert "<https://example.com/2|" in json.dumps(second["blocks"])
    assert "showing 3-4" in second["text"]
    rig.dispatch(slash(slack_api, "/buzz", "help"))
    assert "Buzzwatch commands" in answers(slack_api, 3)[2]["text"]
    rig.dispatch(slash(slack_api, "/mentions", "since:forever"))
    assert "not a duration" in answers(slack_api, 4)[3]["text"]


def test_permissions_refuse_quietly(tmp_path, slack_api, clock, monkeypatch):
    slack_api.state.usergroups = [{"id": "S1", "users": ["U_G"]}]
    rig = Rig(
        tmp_path,
        slack_api,
        clock,
        monkeypatch,
        permissions={
            "default": {"users": ["U_OK"]},
            "brands": {"Acme": {"users": ["U_OK"], "groups": ["S1"]}},
        },
    )
    try:
        rig.push(2)
        rig.dispatch(slash(slack_api, "/ack", "A1", user="U_NO", name="eve"))
        rig.dispatch(click(slack_api, button(bk.RESOLVE, "A2"), user="U_NO", name="eve"))
        got = answers(slack_api, 2)
        assert all("not on the list" in b["text"] for b in got)
        assert rig.alert("A1").status == "open" and rig.alert("A2").status == "open"
        assert rig.bw.repo.pending_outbox() == [] and slack_api.calls("chat.update") == []
        rig.dispatch(slash(slack_api, "/ack", "A1", user="U_G", name="gina"))
        wait_for(lambda: rig.alert("A1").acked_by == "gina")
        rig.dispatch(click(slack_api, button(bk.RESOLVE, "A2"), user="U_OK", name="olga"))
        wait_for(lambda: rig.alert("A2").status == "resolved")
        # The console (the local operator) is not bound by Slack's list.
        assert rig.bw.run_command("snooze A1 1h").ok
    finally:
        rig.close()


def test_http_mode_over_a_real_socket(rig, slack_api):
    rig.push(1)
    server = HttpListener(rig.app, "127.0.0.1", 0, "/slack/events").start()
    url = f"http://127.0.0.1:{server.port}/slack/events"

    def post(body: str, secret: str = SECRET, ts: str | None = None) -> int:
        return post_signed(url, body, ts or rig.now(), secret)

    try:
        assert post(slash(slack_api, "/ack", "A1"), secret="forged") == 401
        assert post(slash(slack_api, "/ack", "A1"), ts=str(int(rig.now()) - 600)) == 401
        time.sleep(0.2)
        assert rig.alert().status == "open"
        assert post("x" * 1_100_000) == 413
        assert post(slash(slack_api, "/ack", "A1")) == 200
        wait_for(lambda: rig.alert().acked_by == "ann")
        assert "A1 acked by ann" in answers(slack_api)[0]["text"]
    finally:
        server.stop()


def test_listener_starter_follows_config_and_env(tmp_path, slack_api, clock, monkeypatch, caplog):
    rig = Rig(tmp_path, slack_api, clock, monkeypatch)
    try:
        assert start_slack(rig.bw) is None  # http mode, no signing secret
        assert "SLACK_SIGNING_SECRET is not set" in caplog.text
        monkeypatch.setenv("SLACK_SIGNING_SECRET", SECRET)
        rig.bw.config.slack.port = free_port()
        rig.bw.config.slack.host = "127.0.0.1"
        stop = start_slack(rig.bw)
        assert stop is not None
        assert slack_api.calls("auth.test")  # the token was checked at start
        stop()
        rig.bw.config.slack.mode = "socket"
        assert start_slack(rig.bw) is None
        assert "SLACK_APP_TOKEN is not set" in caplog.text
    finally:
        rig.close()


def test_two_hundred_alerts_in_one_cycle_all_arrive_at_one_a_second(rig, slack_api):
    rig.push(200, settle=False)
    rig.settle(seconds=400)
    assert rig.bw.repo.pending_outbox() == [] and rig.bw.repo.dead_letters() == []
    posts = slack_api.calls("chat.postMessage")
    seen: list[str] = []
    for call in posts:
        assert block_problems(call.body["blocks"]) == []
        seen += re.findall(r"`(A\d+)`", json.dumps(call.body["blocks"]))
    assert sorted(seen, key=lambda a: int(a[1:])) == [f"A{i}" for i in range(1, 201)]  # each once
    times = [c.at for c in posts]
    assert all(b - a >= timedelta(seconds=1) for a, b in pairwise(times))
    assert len(posts) < 200  # the backlog behind the rate limit went out in batches


def test_a_storm_lists_its_members_and_a_members_menu_updates_it(
    tmp_path, slack_api, clock, monkeypatch
):
    rig = Rig(tmp_path, slack_api, clock, monkeypatch, burst={"threshold": 2, "window": "10m"})
    texts = [
        "Acme delivery arrived two hours late and cold",
        "Acme app keeps crashing when I try to pay",
        "Acme staff were rude <!channel> to my grandmother today",
        "Acme charged my card twice for one meal",
        "Acme restroom was filthy and out of soap",
    ]
    rig.bw.pipeline.process(
        "feed",
        [
            Mention(
                id=f"m{i}",
                source="feed",
                url=f"https://example.com/{i}",
                title=t,
                text=t,
                author=f"writer{i} <@U1>",
                fetched_at=rig.clock.now(),
            )
            for i, t in enumerate(texts)
        ],
    )
    rig.settle()
    [storm] = rig.bw.repo.find_alerts(lambda a: a.kind == "storm")
    assert storm.members == ["A3", "A4", "A5"]
    [post] = [c for c in slack_api.calls("chat.postMessage") if "Storm" in c.body["text"]]
    blocks = post.body["blocks"]
    assert block_problems(blocks) == []
    shown = text_of(post.body)
    assert "similar" not in shown and "<!channel>" not in shown and "<@U1>" not in shown
    assert "&lt;!channel&gt;" in shown
    for n, member in ((2, "A3"), (3, "A4"), (4, "A5")):
        [block] = [b for b in blocks if b.get("block_id") == f"buzz_alert:{member}"]
        line = block["text"]["text"]
        assert f"<https://example.com/{n}|" in line and f"`{member}`" in line
        assert rig.alert(member).severity.upper() in line and f"writer{n} &lt;@U1&gt;" in line
        assert block["accessory"]["action_id"] == bk.MEMBER

    def choose(member: str, value: str) -> None:
        option = {"value": value, "text": {"type": "plain_text", "text": value}}
        action = {
            "action_id": bk.MEMBER,
            "block_id": f"buzz_alert:{member}",
            "type": "overflow",
            "selected_option": option,
        }
        assert rig.dispatch(click(slack_api, action)).status == 200

    choose("A4", "forget everything")  # not a choice the menu offers: nothing happens
    choose("A4", "resolve")
    wait_for(lambda: rig.alert("A4").status == "resolved")
    rig.settle()
    ts = storm.messages["slack"]["ts"]
    [update] = [c for c in slack_api.calls("chat.update") if c.body["ts"] == ts]
    [block] = [b for b in update.body["blocks"] if b.get("block_id") == "buzz_alert:A4"]
    assert "resolved by bob" in block["text"]["text"] and "accessory" not in block
    listed = [
        b["block_id"] for b in update.body["blocks"] if "buzz_alert:" in b.get("block_id", "")
    ]
    assert listed[-2:] == ["buzz_alert:A4", "buzz_alert:A6"]  # open members first; the storm's
    notes = [c.body for c in slack_api.calls("chat.postMessage") if c.body.get("thread_ts") == ts]
    assert [n["text"] for n in notes] == ["A4 resolved by bob."]
    rig.close()


def test_a_full_page_of_mentions_fits_one_message_with_its_more_button(rig, slack_api):
    # limit: beyond the page cap shows a whole page; Slack's 50-block cap used to cut the last
    # mentions and the More button of a 50-mention page, and the next page skipped two.
    rig.push(MAX_LIMIT + 3)
    rig.dispatch(slash(slack_api, "/mentions", "acme limit:100"))
    [first] = answers(slack_api)
    assert block_problems(first["blocks"]) == []
    flat = json.dumps(first["blocks"])
    assert "not shown" not in flat
    assert sum(b["type"] == "section" for b in first["blocks"]) == MAX_LIMIT + 1  # + the header
    more = next(e for b in first["blocks"] if b["type"] == "actions" for e in b["elements"])
    rig.dispatch(click(slack_api, {"action_id": bk.MORE, "type": "button", "value": more["value"]}))
    assert f"showing {MAX_LIMIT + 1}-{MAX_LIMIT + 3}" in answers(slack_api, 2)[1]["text"]


@pytest.mark.parametrize("paging", ["offset:1", "page:2"])
def test_more_after_a_query_that_pages_shows_the_next_page(rig, slack_api, paging):
    # The button runs the query as typed plus offset:N; a typed offset: or page: must not
    # make that a refused repeat.
    rig.push(7)
    rig.dispatch(slash(slack_api, "/mentions", f"acme limit:2 {paging}"))
    [first] = answers(slack_api)
    start = 2 if paging == "offset:1" else 3
    assert f"showing {start}-{start + 1}" in first["text"]
    more = next(e for b in first["blocks"] if b["type"] == "actions" for e in b["elements"])
    rig.dispatch(click(slack_api, {"action_id": bk.MORE, "type": "button", "value": more["value"]}))
    assert f"showing {start + 2}-{start + 3}" in answers(slack_api, 2)[1]["text"]
