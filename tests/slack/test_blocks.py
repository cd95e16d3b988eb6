"""Block Kit rendering: escaping, caps, buttons by status."""

from __future__ import annotations

from core.domain.models import Status
from core.domain.notifier import Outgoing
from listeners.slack import blocks as bk
from listeners.slack.notifier import SlackNotifier
from tests.slack.helpers import INJECTIONS, live_sequences, make_alert, mrkdwn_texts
from tests.standin.slack import block_problems

NOTIFIER = SlackNotifier("slack", "C0TESTCHAN", None)


def render(action: str, message: dict, **kw) -> dict:
    return NOTIFIER.render(Outgoing(action=action, message=message, **kw))


def test_esc_escapes_exactly_the_three_characters():
    assert bk.esc("<!channel> & <@U1> * _ ~ `") == "&lt;!channel&gt; &amp; &lt;@U1&gt; * _ ~ `"
    assert bk.esc("&amp;") == "&amp;amp;"


def test_injection_texts_render_literally_and_ping_nobody():
    nasty = " ".join(INJECTIONS)
    alert = make_alert(
        title=nasty, text="text " + nasty, author=nasty, source=nasty, aspects=[nasty]
    )
    for action in ("post", "update"):
        payload = render(action, {"kind": "alert"}, alert=alert, ref={"ts": "1.2"})
        assert live_sequences(payload) == []
        assert payload["link_names"] is False
        joined = "\n".join(mrkdwn_texts(payload))
        assert "&lt;!channel&gt;" in joined and "&lt;@U123&gt;" in joined
        assert "&lt;https://evil.example|bank&gt;" in joined
        assert "&amp;amp;" in joined
        assert block_problems(payload["blocks"]) == []
    post = render("post", {"kind": "alert"}, alert=alert)
    assert post["unfurl_links"] is False and post["unfurl_media"] is False
    for kind, message in (
        ("note", {"kind": "note", "text": nasty}),
        ("text", {"kind": "text", "title": nasty, "text": nasty}),
    ):
        payload = render("post", message)
        assert live_sequences(payload) == [], kind
    batch = render("post", {"kind": "batch"}, alerts=[alert, make_alert("A2", title=nasty)])
    assert live_sequences(batch) == []


def test_bad_links_are_not_links():
    for url in ("javascript:alert(1)", "https://x.com/a|<!channel>", "ftp://x", ""):
        payload = render("post", {"kind": "alert"}, alert=make_alert(url=url))
        assert live_sequences(payload) == [], url
        buttons = [e for b in payload["blocks"] if b["type"] == "actions" for e in b["elements"]]
        opens = [e for e in buttons if e.get("action_id") == bk.OPEN]
        if url.startswith("https://x.com"):
            assert "%7C%3C!channel%3E" in payload["blocks"][0]["text"]["text"]
        else:
            assert opens == []
    ok = render("post", {"kind": "alert"}, alert=make_alert(url="https://x.com/?a=1&b=2"))
    assert "<https://x.com/?a=1&amp;b=2|" in ok["blocks"][0]["text"]["text"]


def test_huge_summary_is_capped():
    big = "食物中毒 & <!channel> " * 6000  # ~100 KB
    assert len(big.encode()) > 100_000
    payload = render("post", {"kind": "alert"}, alert=make_alert(title=big, text=big, author=big))
    assert block_problems(payload["blocks"]) == []
    assert len(payload["text"]) <= bk.FALLBACK_CHARS
    assert all(len(t) < 3000 for t in mrkdwn_texts(payload))
    assert live_sequences(payload) == []
    text = render("post", {"kind": "text", "title": big, "text": big})
    assert block_problems(text["blocks"]) == []
    assert len(text["blocks"]) <= 50
    assert text["blocks"][0]["type"] == "header"
    assert len(text["blocks"][0]["text"]["text"]) <= 150
    assert text["blocks"][-1]["text"]["text"].endswith("…")
    assert live_sequences(text) == []


def test_cap_never_splits_an_entity_or_a_link():
    escaped = bk.esc("&" * 5000)
    capped = bk.cap_mrkdwn(escaped, 100)
    assert capped.endswith("…") and len(capped) <= 100
    assert capped[:-1].replace("&amp;", "") == ""
    linked = "x" * 80 + "<https://a.example/" + "p" * 50 + "|label>"
    capped = bk.cap_mrkdwn(linked, 100, more_url="https://a.example/full")
    assert capped.startswith("x" * 60) and "<https://a.example/p" not in capped
    assert len(capped) <= 100
    assert capped.endswith("<https://a.example/full|read more>")


def test_buttons_follow_the_status():
    def elements(alert) -> list[str]:
        payload = render("post", {"kind": "alert"}, alert=alert)
        return [
            e["action_id"]
            for b in payload["blocks"]
            if b["type"] == "actions"
            for e in b["elements"]
        ]

    alert = make_alert()
    assert elements(alert) == [bk.OPEN, bk.ACK, bk.ASSIGN, bk.RESOLVE, bk.SNOOZE]
    alert.status, alert.acked_by, alert.acked_at = Status.ACKED.value, "ann", "2026-11-28T08:00:00"
    assert elements(alert) == [bk.OPEN, bk.ASSIGN, bk.RESOLVE, bk.SNOOZE]
    payload = render("update", {"kind": "alert"}, alert=alert, ref={"channel": "C1", "ts": "9.9"})
    assert (payload["channel"], payload["ts"]) == ("C1", "9.9")
    assert "acked by ann" in mrkdwn_texts(payload)[-1]
    alert.status, alert.resolved_by = Status.RESOLVED.value, "bob"
    assert elements(alert) == []


def test_replies_thread_under_the_alert_or_stand_alone():
    reply = render(
        "reply", {"kind": "note", "text": "A1 acked by ann."}, ref={"channel": "C1", "ts": "5.5"}
    )
    assert reply["thread_ts"] == "5.5" and reply["channel"] == "C1"
    alone = render("reply", {"kind": "note", "text": "hi"}, ref=None)
    assert "thread_ts" not in alone and alone["channel"] == "C0TESTCHAN"


def test_batch_of_many_alerts_fits():
    alerts = [make_alert(f"A{i}", title=f"complaint {i} " + "x" * 140) for i in range(200)]
    payload = render("post", {"kind": "batch"}, alerts=alerts)
    assert block_problems(payload["blocks"]) == []
    assert len(payload["blocks"]) <= 50
    joined = "\n".join(mrkdwn_texts(payload))
    assert "200 alerts" in joined
    assert all(f"`A{i}`" in joined for i in range(0, 200, 7))


def test_a_storm_of_many_members_fits_and_escapes_every_one():
    nasty = " ".join(INJECTIONS)
    members = [
        make_alert(
            f"A{i}", title=f"{nasty} {i} " + "x" * 140, author=nasty, url=f"https://x.example/{i}"
        )
        for i in range(1, 120)
    ]
    for m in members:
        m.severity, m.storm_of = "medium", "A500"
    storm = make_alert("A500", title="Storm on route all: 119 alerts")
    storm.kind, storm.severity, storm.members = "storm", "medium", [m.id for m in members]
    storm.count = len(members)
    for action in ("post", "update"):
        payload = render(action, {"kind": "alert"}, alert=storm, alerts=members, ref={"ts": "1.2"})
        assert block_problems(payload["blocks"]) == [] and len(payload["blocks"]) <= 50
        assert live_sequences(payload) == []
        joined = "\n".join(mrkdwn_texts(payload))
        assert "similar" not in joined and "&lt;!channel&gt;" in joined
        assert "<https://x.example/1|" in joined and "`A1`" in joined and "*MEDIUM*" in joined
        shown = len([b for b in payload["blocks"] if b.get("accessory")])
        assert shown >= 30 and f"… {119 - shown} more not shown" in joined
        assert "`/buzz status all`" in joined  # the command that lists every open alert
