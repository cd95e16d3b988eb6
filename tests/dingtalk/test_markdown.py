"""Untrusted text renders as inert DingTalk markdown; bodies stay under 20,000 bytes."""

from __future__ import annotations

import json
import re

import pytest

from core.commands.context import Reply
from core.domain.clock import FakeClock
from core.domain.models import Alert, Status
from core.domain.notifier import Outgoing
from listeners.dingtalk import markdown as md
from listeners.dingtalk.notifier import DingTalkNotifier
from tests.dingtalk.helpers import INJECTIONS, NOW, assert_inert, make_alert

# `!` is left out: it opens nothing without `[` (an image is `![`), which is always swapped.
MARKUP = set("[]<>@#*_`|~&\\")


def _notifier(**kw) -> DingTalkNotifier:
    return DingTalkNotifier("ops", "http://127.0.0.1:9/robot/send", None, FakeClock(NOW), **kw)


def _text(payload: dict) -> str:
    return (payload.get("markdown") or payload.get("actionCard"))["text"]


@pytest.mark.parametrize("evil", INJECTIONS)
def test_injection_in_title_text_author_renders_inert(evil: str) -> None:
    alert = make_alert(title=evil, text=f"正文 {evil} 正文", author=evil)
    for style in ("markdown", "actioncard"):
        out = Outgoing("post", {"kind": "alert"}, alert=alert)
        payload = _notifier(style=style).render(out)
        assert_inert(_text(payload))
        assert "at" not in payload  # nothing configured: nobody is ever mentioned
        title = (payload.get("markdown") or payload.get("actionCard"))["title"]
        assert not MARKUP & set(title), title


def test_escape_keeps_the_words_readable() -> None:
    assert md.escape("[x](javascript:alert(1))") == "［x］(javascript：alert(1))"
    assert md.escape("@13800000000") == "＠13800000000"
    assert md.escape("# 标题") == "＃ 标题"
    assert md.escape("<b>&amp;</b>") == "＜b＞＆amp;＜/b＞"
    assert md.escape("a\u202eb\u200bc") == "abc"  # bidi overrides and zero-width gone
    assert md.escape("see http://t.example/x") == "see http：//t.example/x"


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("foodie_jane", "foodie_jane"),  # inside a word: no markdown makes it emphasis
        ("吃货_小李_2024", "吃货_小李_2024"),
        ("snake__case", "snake__case"),
        ("Wow! 太好喝了!", "Wow! 太好喝了!"),
        ("_斜体_ and __bold__", "＿斜体＿ and ＿＿bold＿＿"),  # could open or close emphasis
        ("jane_ _jane", "jane＿ ＿jane"),
        ("![](http://t.example/p.gif)", "!［］(http：//t.example/p.gif)"),  # no image
    ],
)
def test_only_what_could_open_markup_is_swapped(text: str, shown: str) -> None:
    assert md.escape(text) == shown


def test_an_author_with_underscores_reads_as_written() -> None:
    payload = _notifier().render(
        Outgoing("post", {"kind": "alert"}, alert=make_alert(author="foodie_jane"))
    )
    assert "foodie_jane" in _text(payload) and "＿" not in _text(payload)
    assert_inert(_text(payload))


def test_feed_phone_numbers_never_reach_the_at_field() -> None:
    alert = make_alert(title="@13800000000 速来", text="@13900000000 @all")
    payload = _notifier(at_mobiles=["13700000000"]).render(
        Outgoing("post", {"kind": "alert"}, alert=alert)
    )
    assert payload["at"] == {"atMobiles": ["13700000000"], "atUserIds": [], "isAtAll": False}
    text = _text(payload)
    assert re.findall(r"@(\d+)", text) == ["13700000000"]  # only the configured on-call phone


def test_at_only_on_critical_alerts() -> None:
    alert = make_alert(severity="high", flags=["negative"])
    payload = _notifier(at_mobiles=["13700000000"]).render(
        Outgoing("post", {"kind": "alert"}, alert=alert)
    )
    assert "at" not in payload and "@137" not in _text(payload)


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "data:text/html,<b>x</b>",
        "https://weibo.com@evil.example/x",
        "http://",
        "https://a.example/" + "x" * 3000,
        "https://a.example/a b",
    ],
)
def test_unsafe_links_are_dropped(url: str) -> None:
    assert md.safe_url(url) == ""
    payload = _notifier().render(Outgoing("post", {"kind": "alert"}, alert=make_alert(url=url)))
    assert "打开原文" not in _text(payload)


def test_link_characters_that_would_break_markdown_are_encoded() -> None:
    url = md.safe_url("https://t.example/p?q=(x)[y]<z>'*@1&ok=1#frag")
    assert url == "https://t.example/p?q=%28x%29%5By%5D%3Cz%3E%27%2A%401&ok=1#frag"
    assert md.safe_url("https://例子.example/路径").startswith("https://%E4%BE%8B")


def test_actioncard_buttons_open_the_post_and_the_ack_pages() -> None:
    links = lambda alert_id, action: f"https://bw.example/dingtalk/ack/{action}.{alert_id}.sig"  # noqa: E731
    alert = make_alert()
    payload = _notifier(style="actioncard", links=links).render(
        Outgoing("post", {"kind": "alert"}, alert=alert)
    )
    card = payload["actionCard"]
    assert [b["title"] for b in card["btns"]] == ["打开原文 Open", "确认 Ack", "解决 Resolve"]
    assert card["btns"][1]["actionURL"] == "https://bw.example/dingtalk/ack/ack.A1.sig"
    alert.status, alert.acked_by = Status.ACKED.value, "张三"
    card = _notifier(style="actioncard", links=links).render(
        Outgoing("post", {"kind": "alert"}, alert=alert)
    )["actionCard"]
    assert [b["title"] for b in card["btns"]] == ["打开原文 Open", "解决 Resolve"]


def test_update_is_a_short_status_message() -> None:
    alert = make_alert()
    alert.status, alert.acked_by, alert.acked_at = (
        Status.ACKED.value,
        "张三 @all",
        "2026-11-28T08:05:00+00:00",
    )
    payload = _notifier().render(
        Outgoing("update", {"kind": "alert"}, alert=alert, ref={"robot": "ops"})
    )
    text = _text(payload)
    assert text.startswith("#### 🔴 A1 · acked by 张三 ＠all at 08:05 UTC")
    assert len(text) < 300
    assert_inert(text)


def test_batch_of_many_alerts_stays_under_the_cap_and_says_how_many_more() -> None:
    alerts = [
        make_alert(f"A{i}", title=f"{i} " + "很长的标题[x](javascript:1)" * 30)
        for i in range(1, 400)
    ]
    payload = _notifier().render(Outgoing("post", {"kind": "batch"}, alerts=alerts))
    size = len(json.dumps(payload, ensure_ascii=False).encode())
    assert 15_000 < size < 20_000
    text = _text(payload)
    assert "A1**" in text and "more" in text
    shown = len(re.findall(r"\*\*A\d+\*\*", text))
    assert f"and {399 - shown} more" in text
    assert_inert(text)


def test_long_text_message_is_cut_under_the_cap() -> None:
    lines = "\n".join(f"第{i}行 " + "字" * 50 for i in range(3000))
    payload = _notifier().render(
        Outgoing("post", {"kind": "text", "title": "日报 digest", "text": lines})
    )
    assert len(json.dumps(payload, ensure_ascii=False).encode()) < 20_000
    assert "more lines" in _text(payload)


def test_fit_cuts_any_body_under_the_limit() -> None:
    payload = md.markdown("t", '"引号\n' * 20_000)
    assert md.body_bytes(payload) <= md.MAX_BODY_BYTES
    assert md.body_bytes(md.fit(payload, 3000)) <= 3000


def test_command_reply_escapes_and_lists_mentions() -> None:
    reply = Reply(
        "1 mention(s) of 退款 in the last 24h; showing 1-1.",
        mentions=[
            {
                "id": "m1",
                "source": "weibo",
                "url": "javascript:alert(1)",
                "title": "[退款](http://evil.example) @all",
                "text": "",
                "author": "<b>x</b>",
                "published": "2026-11-28T07:00:00+00:00",
                "flags": ["negative"],
                "sentiment": -0.6,
            }
        ],
        total=1,
    )
    payload = md.render_reply(reply)
    text = payload["markdown"]["text"]
    assert "［退款］" in text and "原文" not in text
    assert_inert(text)


def test_text_messages_link_only_lines_that_are_a_url():
    from listeners.dingtalk.markdown import render_text

    payload = render_text(
        "Buzzwatch digest",
        "• [-1.00] 拉肚子\n   https://weibo.com/1/a?utm_source=rss\n"
        "• [-0.80] log in here https://evil.example/login\n"
        "2. [x](javascript:alert(1)) https://a.com/x)](https://evil) @all\n",
    )
    text = payload["markdown"]["text"]
    assert "[weibo.com](https://weibo.com/1/a?utm_source=rss)" in text
    assert "](https://evil.example" not in text  # a title ending in a URL stays inert
    assert "](https://evil)" not in text and "javascript:" not in text and "@all" not in text
    assert "at" not in payload or not payload["at"].get("isAtAll")


@pytest.mark.parametrize(
    "glued", ["退款戳https://evil.example/login", "x1javascript:alert(1)", "见HTTP://evil.example"]
)
def test_bare_links_glued_to_words_are_not_clickable(glued: str) -> None:
    payload = _notifier().render(Outgoing("post", {"kind": "alert"}, alert=make_alert(text=glued)))
    assert_inert(_text(payload))


def _storm(members: list) -> Alert:
    storm = Alert(
        id="A900",
        mention_id="",
        brand="Acme",
        severity="medium",
        flags=["storm"],
        destinations=["dingtalk"],
        created_at=NOW.isoformat(),
        kind="storm",
        route="people",
        members=[m.id for m in members],
        count=len(members),
        summary={"title": "Storm on route people: many alerts"},
    )
    for m in members:
        m.storm_of, m.destinations = storm.id, []
    return storm


def test_a_storm_lists_every_member_with_link_severity_id_and_actions() -> None:
    links = lambda alert_id, action: f"https://bw.example/dingtalk/ack/{action}.{alert_id}.sig"  # noqa: E731
    members = [
        make_alert(f"A{i}", severity="medium", url=f"https://weibo.com/1/{i}", author=f"@138{i}")
        for i in range(1, 4)
    ]
    members[1].summary["title"] = "[x](javascript:alert(1)) <font>@all</font>"
    members[2].status, members[2].resolved_by = Status.RESOLVED.value, "张三"
    storm = _storm(members)
    text = _text(
        _notifier(links=links).render(Outgoing("post", {"kind": "alert"}, storm, None, members))
    )
    assert_inert(text)
    assert "similar" not in text and "mentions" not in text
    for i in (1, 2, 3):
        assert f"**A{i}** MEDIUM" in text and f"](https://weibo.com/1/{i})" in text
        assert f"＠138{i}" in text
    assert "ack.A1.sig" in text and "resolve.A2.sig" in text and "resolve.A3.sig" not in text
    assert text.index("**A3**") > text.index("**A2**")  # a resolved member comes last
    update = _text(
        _notifier().render(Outgoing("update", {"kind": "alert"}, storm, {"robot": "ops"}, members))
    )
    assert "**A2**" in update and "update" in update  # a robot cannot edit: the list again


def test_a_storm_of_hundreds_stays_under_the_cap_and_says_how_many_more() -> None:
    members = [
        make_alert(f"A{i}", severity="low", title=f"{i} " + "很长的标题[x](javascript:1)" * 30)
        for i in range(1, 400)
    ]
    payload = _notifier().render(
        Outgoing("post", {"kind": "alert"}, _storm(members), None, members)
    )
    assert len(json.dumps(payload, ensure_ascii=False).encode()) < 20_000
    text = _text(payload)
    shown = len(re.findall(r"\*\*A\d+\*\* LOW", text))
    assert shown > 10 and f"and {399 - shown} more" in text
    assert "状态 全部 (status all)" in text
    assert_inert(text)


def test_the_digest_goes_to_dingtalk_in_chinese_one_line_per_line(tmp_path) -> None:
    from datetime import date, time

    from core.reports.digest import daily_period
    from core.reports.digest_service import DigestService
    from listeners.console import ConsoleNotifier
    from tests.digest.helpers import mention, setup, utc

    clock = FakeClock(utc(2026, 11, 29, 1, 0))
    posts = [
        mention("a", utc(2026, 11, 28, 3), -0.9, title="转发微博", text="吃出塑料片"),
        mention("b", utc(2026, 11, 28, 4), 0.8, reach=5000, title="新品好喝"),
    ]
    config, repo = setup(tmp_path, clock, posts)
    service = DigestService(config, repo, clock, charts=False)
    [message] = service.build(daily_period(date(2026, 11, 29), time(9, 0), config.digest_tz))
    repo.close()
    out = Outgoing("post", message.message())

    payload = _notifier().render(out)
    title, text = payload["markdown"]["title"], payload["markdown"]["text"]
    assert "日报" in title and "daily digest" not in title
    assert "提及：2" in text and "最负面：" in text and "情感：" in text
    assert "Mentions" not in text and "Most negative" not in text
    assert "吃出塑料片" in text and "转发微博" not in text
    # Lines of a section are kept apart by hard breaks; a blank line only between sections.
    sections = text.split("\n\n")
    most_negative = next(s for s in sections if s.startswith("最负面："))
    lines = most_negative.split(md.HARD_BREAK)
    assert lines[:2] == ["最负面：", "• ［-0.90］ 吃出塑料片"]
    assert lines[2].startswith("\u3000\u3000weibo · someone · ")  # indented, not a code block
    assert lines[3] == "\u3000\u3000[example.com](https://example.com/a)"
    assert len(sections) < len(text.split(md.HARD_BREAK))
    assert_inert(text)

    # Other platforms keep the English digest.
    console = ConsoleNotifier().render(out)["text"]
    assert "Mentions: 2" in console and "提及" not in console
