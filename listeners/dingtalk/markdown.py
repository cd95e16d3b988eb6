"""Alerts and replies as DingTalk robot messages (markdown and ActionCard bodies).

DingTalk's markdown renders links, images, headings, emphasis, quotes, lists, some HTML,
and highlights `@phone` when the phone is in the `at` list. Untrusted text (anything from a
feed or a chat user) therefore goes through `escape`, which swaps every character that can
start such markup for its full-width twin: a feed title `[x](javascript:..)`, `![](http://t)`,
`# BIG`, `<font>` or `@13800000000` shows as inert text. Full-width punctuation reads
naturally in Chinese, and unlike backslash escapes it does not depend on the renderer.
Characters that cannot open anything where they stand keep their ASCII form: `!` (an image
needs `![`, and `[` is always swapped) and `_` inside a word (`foodie_jane`: DingTalk's
documented emphasis is `*`, and no markdown opens `_` emphasis between two letters).

Every body stays under MAX_BODY_BYTES of UTF-8 JSON (DingTalk refuses 20,000 and over).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import quote, urlsplit

from core.alerting.views import AlertView, alert_view, burst_view
from core.commands.context import Reply
from core.domain.models import Alert, Mention, Status
from core.domain.notifier import Outgoing
from rules.text import cap, cap_bytes, one_line, strip_invisible

MAX_BODY_BYTES = 19_500  # DingTalk's cap is 20,000 bytes; keep a margin under it
TITLE_CHARS = 64
MAX_URL_CHARS = 1500

# Every ASCII character that can open DingTalk markdown, HTML or a mention (`_`: see below).
_NEUTRAL = str.maketrans(
    {
        "\\": "＼",
        "`": "｀",
        "*": "＊",
        "[": "［",
        "]": "］",
        "#": "＃",
        "<": "＜",
        ">": "＞",
        "@": "＠",
        "|": "｜",
        "~": "～",
        "&": "＆",
    }
)
# A run of underscores, and a letter or digit (any script) on either side of it.
_UNDERSCORES = re.compile(r"_+")
_WORD_CHAR = re.compile(r"[^\W_]")


def _underscores(m: re.Match[str]) -> str:
    """A run of underscores kept inside a word (foodie_jane), full-width anywhere else,
    where it could open or close emphasis (_x_, __init__)."""
    text, start, end = m.string, m.start(), m.end()
    inside = (
        start > 0
        and end < len(text)
        and _WORD_CHAR.match(text[start - 1])
        and _WORD_CHAR.match(text[end])
    )
    return m.group() if inside else "＿" * len(m.group())


# Bare URLs in text would be auto-linked: a full-width colon keeps them as text.
# No \b before the scheme: there is no word boundary between 戳 (or any letter or digit)
# and "https", and DingTalk may still auto-link 退款戳https://... .
_SCHEME = re.compile(r"(?i)(https?|ftp|javascript|vbscript|data|file|dingtalk|mailto|tel)(:)")

# (alert id, action) -> a URL that performs it, or None when no public base URL is set.
LinkMaker = Callable[[str, str], str]


def escape(text: str) -> str:
    """Untrusted text as inert DingTalk markdown (line breaks kept)."""
    text = _UNDERSCORES.sub(_underscores, strip_invisible(text or ""))
    return _SCHEME.sub(r"\1：", text.translate(_NEUTRAL))


def inline(text: str, limit: int = 300) -> str:
    """Untrusted text on one line, capped and escaped."""
    return escape(cap(one_line(text or ""), limit))


def label(text: str, limit: int = 80) -> str:
    """A name from the config (source, aspect): escaped, but snake_case kept readable."""
    return inline(text, limit).replace("＿", "_")


def safe_url(url: str) -> str:
    """An http(s) URL fit for a markdown link or a button, or "" when it is not one."""
    url = (url or "").strip()
    if (
        not url
        or len(url) > MAX_URL_CHARS
        or strip_invisible(url) != url
        or any(c.isspace() for c in url)
    ):
        return ""
    try:
        parts = urlsplit(url)
    except ValueError:
        return ""
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return ""
    if "@" in parts.netloc:  # https://weibo.com@evil.example/ reads as weibo.com
        return ""
    # Percent-encode whatever could end the link or open markup: ( ) [ ] < > " ' ` * @ and non-ASCII.
    return quote(url, safe=":/?#!$&+,;=%-._~")


def link(text: str, url: str) -> str:
    target = safe_url(url)
    return f"[{escape(text)}]({target})" if target else ""


def title_text(text: str) -> str:
    """The notification preview line: plain text, but still no mentions or markup."""
    return escape(cap(one_line(text), TITLE_CHARS)) or "Buzzwatch"


# --- bodies ---------------------------------------------------------------------------------


def body_bytes(payload: dict[str, Any]) -> int:
    return len(json.dumps(payload, ensure_ascii=False).encode("utf-8"))


def _text_slot(payload: dict[str, Any]) -> tuple[dict[str, Any], str]:
    kind = payload.get("msgtype")
    if kind == "actionCard":
        return payload["actionCard"], "text"
    if kind == "text":
        return payload["text"], "content"
    return payload["markdown"], "text"


def fit(payload: dict[str, Any], limit: int = MAX_BODY_BYTES) -> dict[str, Any]:
    """Cut the message text until the whole JSON body is at most `limit` bytes."""
    slot, key = _text_slot(payload)
    for _ in range(8):
        excess = body_bytes(payload) - limit
        if excess <= 0:
            return payload
        text = slot[key]
        # Cutting n bytes of text takes at least n bytes off the body (JSON escapes only add).
        keep = max(0, len(text.encode("utf-8")) - excess - 16)
        slot[key] = cap_bytes(text, keep, "…\n\n（已截断 truncated）")
    return payload


def markdown(title: str, text: str, at: dict[str, Any] | None = None) -> dict[str, Any]:
    payload: dict[str, Any] = {"msgtype": "markdown", "markdown": {"title": title, "text": text}}
    if at:
        payload["at"] = at
    return fit(payload)


def action_card(title: str, text: str, buttons: list[tuple[str, str]]) -> dict[str, Any]:
    card: dict[str, Any] = {"title": title, "text": text}
    if len(buttons) == 1:
        card["singleTitle"], card["singleURL"] = buttons[0]
    else:
        card["btnOrientation"] = "1"
        card["btns"] = [{"title": t, "actionURL": u} for t, u in buttons]
    return fit({"msgtype": "actionCard", "actionCard": card})


def lines_within(lines: Iterable[str], budget: int, more: Callable[[int], str]) -> list[str]:
    """As many lines as fit in `budget` UTF-8 bytes, then one line saying how many were left."""
    kept: list[str] = []
    used = 0
    pending = list(lines)
    for i, line in enumerate(pending):
        size = len(line.encode("utf-8")) + 2
        if used + size > budget:
            kept.append(more(len(pending) - i))
            break
        kept.append(line)
        used += size
    return kept


# --- alerts ---------------------------------------------------------------------------------


def _facts(v: AlertView) -> list[str]:
    facts = []
    if v.flags:
        facts.append(f"- 标记 Flags: {inline(', '.join(v.flags), 120)}")
    facts.append(f"- 情感 Sentiment: {v.sentiment:+.2f}")
    if v.author or v.reach:
        facts.append(
            f"- 作者 Author: {' · '.join(inline(x, 80) for x in (v.author, v.reach) if x)}"
        )
    where = " · ".join(x for x in (label(v.source), inline(v.when, 40)) if x)
    if where:
        facts.append(f"- 来源 Source: {where}")
    if v.aspects:
        facts.append(f"- 方面 Aspects: {label(', '.join(v.aspects), 120)}")
    count = f" · {v.count} mentions" if v.count > 1 else ""
    facts.append(f"- 状态 Status: {inline(v.status, 120)}{count}")
    return facts


def alert_text(v: AlertView) -> str:
    parts = [
        f"#### {v.mark} {v.id} · {v.severity.upper()} · {inline(v.brand, 60)}",
        f"**{inline(v.headline, 200)}**",
    ]
    if v.excerpt:
        parts.append(f"> {inline(v.excerpt, 700)}")
    parts.append("\n".join(_facts(v)))
    return "\n\n".join(parts)


def command_hint(alert_id: str) -> str:
    return f"@Buzzwatch ack {alert_id} · assign {alert_id} 姓名 · resolve {alert_id}"


def _alert_links(alert: Alert, links: LinkMaker | None) -> list[tuple[str, str]]:
    """Buttons in order: the original post, then ack and resolve while they still apply."""
    v = alert_view(alert)
    buttons = []
    if safe_url(v.url):
        buttons.append(("打开原文 Open", safe_url(v.url)))
    if links and alert.status != Status.RESOLVED:
        if not alert.acked_by:
            buttons.append(("确认 Ack", safe_url(links(alert.id, "ack"))))
        buttons.append(("解决 Resolve", safe_url(links(alert.id, "resolve"))))
    return [(name, url) for name, url in buttons if url]


def render_alert(
    alert: Alert,
    style: str,
    links: LinkMaker | None = None,
    at_mobiles: list[str] | None = None,
    at_user_ids: list[str] | None = None,
) -> dict[str, Any]:
    """A new alert. `at_*` come from the destination's config, never from the alert."""
    v = alert_view(alert)
    title = title_text(f"{v.mark} {v.severity.upper()} {v.brand}: {v.headline}")
    text = alert_text(v)
    buttons = _alert_links(alert, links)
    if style == "actioncard" and buttons:
        return action_card(title, f"{text}\n\n{command_hint(v.id)}", buttons)
    row = " · ".join(f"[{escape(name)}]({url})" for name, url in buttons)
    text += (f"\n\n{row}" if row else "") + f"\n\n{command_hint(v.id)}"
    at = None
    if alert.severity == "critical" and (at_mobiles or at_user_ids):
        # DingTalk highlights an @ only when the text names the same phone or user id.
        names = [*(at_mobiles or []), *(at_user_ids or [])]
        text += "\n\n" + " ".join(f"@{n}" for n in names)
        at = {
            "atMobiles": list(at_mobiles or []),
            "atUserIds": list(at_user_ids or []),
            "isAtAll": False,
        }
    return markdown(title, text, at)


def render_status(alert: Alert, links: LinkMaker | None = None) -> dict[str, Any]:
    """DingTalk robots cannot edit a message: an alert's change goes out as a short one."""
    v = alert_view(alert)
    status = inline(v.status, 160)
    text = f"#### {v.mark} {v.id} · {status}\n\n{inline(v.headline, 120)}"
    if v.count > 1:
        text += f"\n\n{v.count} mentions"
    row = " · ".join(f"[{escape(name)}]({url})" for name, url in _alert_links(alert, links))
    if row:
        text += f"\n\n{row}"
    return markdown(title_text(f"{v.id} {v.status}"), text)


def render_note(out: Outgoing) -> dict[str, Any]:
    note = out.message.get("text", "")
    text = f"↳ {inline(note, 500)}"
    if out.alert is not None:
        text += f"\n\n{inline(alert_view(out.alert).headline, 120)}"
    return markdown(title_text(note), text)


def render_storm(
    storm: Alert, members: list[Alert], links: LinkMaker | None = None, update: bool = False
) -> dict[str, Any]:
    """A burst on one route: each member with its link, severity, id, author and status,
    and its ack/resolve links; those needing attention first. A robot cannot edit what it
    posted, so a change goes out as the list again, marked as an update."""
    sv = burst_view(storm, members)
    by_id = {a.id: a for a in members}
    rows = []
    for v in sv.members:
        who = " · ".join(inline(x, 60) for x in (v.author, v.source) if x)
        acts = " · ".join(f"[{escape(n)}]({u})" for n, u in _alert_links(by_id[v.id], links))
        rows.append(
            f"- {v.mark} **{v.id}** {v.severity.upper()} · {inline(v.brand, 40)} · "
            f"{inline(v.headline, 120)}"
            + (f" — {who}" if who else "")
            + f" · {inline(v.status, 80)}"
            + (f" · {acts}" if acts else "")
        )
    mark = "（更新 update）" if update else ""
    header = f"#### {sv.mark} {sv.id} · {sv.severity.upper()} · {inline(sv.title, 150)}{mark}"
    state = f"状态 Status: {inline(sv.status, 120)} · {sv.open}/{sv.total} 未解决 open"
    budget = MAX_BODY_BYTES - 2000
    kept = lines_within(
        rows, budget, lambda n: f"- …还有 {n} 条 and {n} more: @Buzzwatch 状态 全部 (status all)"
    )
    return markdown(
        title_text(f"{sv.mark} {sv.title}"),
        "\n\n".join([header, state, "\n".join(kept), command_hint("A12")]),
    )


def render_batch(alerts: list[Alert], links: LinkMaker | None = None) -> dict[str, Any]:
    """Several alerts in one message, when a robot is over its rate limit."""
    rows = []
    for alert in alerts:
        v = alert_view(alert)
        open_link = link("原文", v.url)
        rows.append(
            f"- {v.mark} **{v.id}** {v.severity.upper()} · {inline(v.brand, 40)} · "
            f"{inline(v.headline, 120)}" + (f" {open_link}" if open_link else "")
        )
    header = f"#### {len(alerts)} 条告警 · {len(alerts)} alerts"
    budget = MAX_BODY_BYTES - 1500
    kept = lines_within(
        rows, budget, lambda n: f"- …还有 {n} 条 and {n} more: @Buzzwatch 状态 全部 (status all)"
    )
    hint = "@Buzzwatch ack A12 · assign A12 姓名 · resolve A12"
    return markdown(
        title_text(f"Buzzwatch: {len(alerts)} alerts"), "\n\n".join([header, "\n".join(kept), hint])
    )


# The digest and health texts put each mention's link on a line of its own; only such a
# line becomes a link (showing its real host). A URL inside other (untrusted) text, a title
# ending in one included, stays inert.
_URL_LINE = re.compile(r"^(\s*)(https?://\S+)\s*$")


def linked(line: str) -> str:
    """A line of plain text, escaped; a line that is just an http(s) URL, a working link."""
    m = _URL_LINE.match(line)
    target = safe_url(m.group(2)) if m else ""
    if m is None or not target:
        return escape(line)
    host = urlsplit(target).hostname or "link"
    return f"{m.group(1)}[{escape(host)}]({target})"


# DingTalk markdown joins lines into one paragraph unless a line ends in two spaces (a hard
# break); a blank line starts a new paragraph.
HARD_BREAK = "  \n"
# Leading spaces indent a sub-line (a link under its post); in markdown they would vanish or,
# four or more, start a code block: ideographic spaces indent without meaning anything.
_INDENT = re.compile(r"^[ \t]+")


def _text_line(line: str) -> str:
    indented = _INDENT.match(line)
    line = linked(line.strip())
    return ("\u3000\u3000" + line) if indented and line else line


def render_text(title: str, text: str) -> dict[str, Any]:
    """A stand-alone plain-text message (digest, health) laid out as written: its lines
    kept apart by hard breaks, a blank line between sections only; URLs as links (they come
    from our own stored records and pass safe_url)."""
    lines = [_text_line(line) for line in (text or "").splitlines()]
    kept = lines_within(lines, MAX_BODY_BYTES - 1500, lambda n: f"…（还有 {n} 行 {n} more lines）")
    paragraphs: list[list[str]] = [[]]
    for line in kept:
        if line.strip():
            paragraphs[-1].append(line)
        elif paragraphs[-1]:
            paragraphs.append([])
    body = "\n\n".join(HARD_BREAK.join(p) for p in paragraphs if p)
    heading = f"#### {inline(title, 120)}\n\n" if title else ""
    return markdown(title_text(title or text), heading + body)


# --- command replies ------------------------------------------------------------------------


def _mention_line(doc: dict[str, Any]) -> str:
    m = Mention.from_dict(doc)
    flags = ", ".join(m.flags) or "-"
    open_link = link("原文", m.url)
    return (
        f"- {m.when:%m-%d %H:%M} ［{inline(m.source, 40)}］ **{inline(m.title or m.text, 120)}**"
        f" — {inline(m.author or '?', 40)} · {escape(flags)} · {m.sentiment:+.2f}"
        + (f" {open_link}" if open_link else "")
    )


def render_reply(reply: Reply) -> dict[str, Any]:
    """A command's plain-text reply as the markdown body a session webhook receives."""
    lines = [escape(line) for line in reply.text.splitlines() if line.strip()]
    text = "\n\n".join(lines)
    if reply.mentions:
        rows = lines_within(
            (_mention_line(d) for d in reply.mentions),
            MAX_BODY_BYTES - 1500 - len(text.encode()),
            lambda n: f"- …{n} more",
        )
        text += "\n\n" + "\n".join(rows)
    if reply.next_offset is not None and reply.query is not None:
        text += f"\n\n下一页 next page: add offset:{reply.next_offset}"
    mark = "" if reply.ok else "⚠️ "
    return markdown(title_text(mark + (reply.text.splitlines() or ["Buzzwatch"])[0]), mark + text)
