"""Links and titles a feed controls: none may make the renderer raise (which would hold up
every later alert to the channel), and none may hide where a link really goes."""

from __future__ import annotations

import json

from slack_sdk.models.blocks import SectionBlock

from core.domain.notifier import Outgoing
from listeners.slack import blocks as bk
from listeners.slack.notifier import SlackNotifier
from sources.rss import parse_feed
from tests.slack.helpers import live_sequences, make_alert, mrkdwn_texts
from tests.slack.rig import Rig, answers, slash
from tests.standin.slack import block_problems

NOTIFIER = SlackNotifier("slack", "C0TESTCHAN", None)
# Passes the feed reader's URL check; Slack escaping turns each `|` into `%7C` (3 chars).
PIPES_URL = "https://e.example/" + "|" * 1980


def render(message: dict, **kw) -> dict:
    return NOTIFIER.render(Outgoing(action="post", message=message, **kw))


def buttons(payload: dict) -> list[dict]:
    return [e for b in payload["blocks"] if b["type"] == "actions" for e in b["elements"]]


def test_a_link_too_long_once_escaped_is_shown_unlinked():
    alert = make_alert(title="Acme food poisoning", text="details " * 600, url=PIPES_URL)
    payload = render({"kind": "alert"}, alert=alert)
    assert block_problems(payload["blocks"]) == []
    assert live_sequences(payload) == []
    texts = mrkdwn_texts(payload)
    assert "Acme food poisoning" in texts[1]
    assert not any("<https://e.example" in t for t in texts)
    assert bk.OPEN not in [e["action_id"] for e in buttons(payload)]
    batch = render({"kind": "batch"}, alerts=[alert] * 30)
    assert block_problems(batch["blocks"]) == []
    # The same link is fine as long as its escaped form stays short enough.
    ok = make_alert(url="https://e.example/" + "|" * 300)
    assert (
        "<https://e.example/%7C" in render({"kind": "alert"}, alert=ok)["blocks"][0]["text"]["text"]
    )


def test_a_read_more_tail_longer_than_the_room_left_is_a_plain_ellipsis():
    url = "https://a.example/" + "p" * 60
    capped = bk.cap_mrkdwn("x" * 500, 100, more_url=url)
    assert len(capped) <= 100 and capped.endswith("x…")
    assert "<https://" not in capped


def test_the_real_host_is_shown_next_to_a_title_that_looks_like_a_link():
    for url in (
        "https://evil.example/phish",
        "https://paypal.com@evil.example/phish",
        "https://evil.example\\@paypal.com/phish",
    ):
        alert = make_alert(title="https://paypal.com/security-check", url=url)
        payload = render({"kind": "alert"}, alert=alert)
        # The first context block (the excerpt before it is left out when it would only
        # repeat the headline, as here: a title that is only a link says nothing).
        context = next(b for b in payload["blocks"] if b["type"] == "context")
        context = context["elements"][0]["text"]
        assert " · evil.example · " in context, url
        assert "paypal" not in context
        batch = render({"kind": "batch"}, alerts=[alert])
        assert "(evil.example)" in batch["blocks"][1]["text"]["text"]
        found = bk.mentions_blocks(
            "1 mention",
            [
                {
                    "id": "m1",
                    "source": "feed",
                    "url": url,
                    "title": "https://paypal.com/x",
                    "text": "",
                }
            ],
            None,
        )
        assert " · evil.example · " in found[1]["text"]["text"]
    # A look-alike letter (a Cyrillic "а") is shown in the form that gives it away.
    lookalike = render({"kind": "alert"}, alert=make_alert(url="https://pаypal.com/"))
    assert "xn--pypal-4ve.com" in lookalike["blocks"][2]["elements"][0]["text"]


def test_the_fallback_text_never_ends_in_half_an_entity():
    for title in ("&" * 5000, "x" + "<" * 4000, "ab&" * 2000):
        payload = render({"kind": "alert"}, alert=make_alert(title=title))
        assert len(payload["text"]) <= bk.FALLBACK_CHARS
        assert live_sequences(payload) == [], payload["text"][-12:]
        note = render({"kind": "note", "text": title})
        assert live_sequences(note) == [], note["text"][-12:]


def test_a_blank_title_makes_no_header_and_a_bad_block_is_replaced_not_raised():
    payload = render({"kind": "text", "title": "   \n ", "text": "body"})
    assert payload["blocks"][0]["type"] == "section"
    assert block_problems(payload["blocks"]) == []
    built = bk.finish([SectionBlock(text=bk.mrkdwn("x" * 3500)), bk.section("fine")])
    assert block_problems(built) == []
    assert built[0]["type"] == "context" and built[1]["text"]["text"] == "fine"


def test_a_hostile_feed_link_does_not_hold_up_the_channel(tmp_path, slack_api, clock, monkeypatch):
    rig = Rig(tmp_path, slack_api, clock, monkeypatch)
    try:
        feed = (
            '<rss version="2.0"><channel><title>t</title>'
            f"<item><title>Acme food poisoning (hostile)</title><link>{PIPES_URL}</link></item>"
            "<item><title>Acme food poisoning, a real complaint</title>"
            "<link>https://ok.example/2</link></item>"
            "</channel></rss>"
        )
        mentions = parse_feed(feed.encode(), "feed", clock.now())
        assert mentions[0].url == PIPES_URL  # the feed reader lets it through
        rig.bw.pipeline.process("feed", mentions)
        rig.settle(seconds=10)
        posted = slack_api.calls("chat.postMessage")
        assert len(posted) == 2
        assert rig.bw.repo.pending_outbox() == [] and rig.bw.repo.dead_letters() == []
        for call in posted:
            assert block_problems(call.body["blocks"]) == []
        rig.dispatch(slash(slack_api, "/mentions", "acme"))
        [answer] = answers(slack_api)
        assert block_problems(answer["blocks"]) == []
        flat = json.dumps(answer["blocks"], ensure_ascii=False)
        assert "Acme food poisoning (hostile)" in flat
        assert "<https://ok.example/2|" in flat and "ok.example" in flat
    finally:
        rig.close()
