"""Block Kit for Buzzwatch messages, built with slack_sdk.models.blocks so shapes are checked.

Every piece of text that came from a feed (or from a person typing a command) goes through
`esc()` before it is put into mrkdwn: Slack reads `<!channel>`, `<@U123>` and `<url|label>`
only when they arrive unescaped, so escaping `&`, `<` and `>` makes them show literally.
"""

from __future__ import annotations

import re
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    Option,
    OverflowMenuElement,
    PlainTextObject,
    SectionBlock,
    UserSelectElement,
)

from core.models import Alert, Mention, Status
from core.render import alert_view, local_time
from rules.text import cap, one_line

SECTION_CHARS = 2900  # Slack's limit is 3000; room for the "…" and a link
MAX_BLOCKS = 50
FALLBACK_CHARS = 3000  # the notification text; Slack refuses over 40,000
HEADER_CHARS = 150
SNOOZES = ("1h", "4h", "24h")

# action_id of each interactive element; actions.py registers a handler for each.
ACK, ASSIGN, RESOLVE, SNOOZE, OPEN, MORE = (
    "buzz_ack",
    "buzz_assign",
    "buzz_resolve",
    "buzz_snooze",
    "buzz_open",
    "buzz_more",
)
ALERT_BLOCK_PREFIX = "buzz_alert:"  # block_id of an alert's actions block: buzz_alert:A12


def esc(text: Any) -> str:
    """Untrusted text, safe for mrkdwn: exactly &, < and > escaped, as Slack asks."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def safe_url(url: str) -> str:
    """An http(s) URL that can sit inside <url|label>, or "" for anything else."""
    url = (url or "").strip()
    if not re.match(r"^https?://[^\s]+$", url, re.IGNORECASE):
        return ""
    # `|` and `>` would end the link early; `<` could open another one.
    url = url.replace("|", "%7C").replace("<", "%3C").replace(">", "%3E")
    return url.replace("&", "&amp;")


def link(url: str, label: str) -> str:
    target = safe_url(url)
    return f"<{target}|{esc(label)}>" if target else esc(label)


def cap_mrkdwn(text: str, limit: int = SECTION_CHARS, more_url: str = "") -> str:
    """Cap escaped mrkdwn without cutting an entity (&amp;) or a link in half."""
    if len(text) <= limit:
        return text
    tail = f"… {link(more_url, 'read more')}" if safe_url(more_url) else "…"
    cut = text[: max(0, limit - len(tail))]
    # Never leave half an entity (&am) or half a link (<https://...) at the end.
    amp, lt = cut.rfind("&"), cut.rfind("<")
    if amp > cut.rfind(";"):
        cut = cut[:amp]
    if lt > cut.rfind(">"):
        cut = cut[:lt]
    return cut.rstrip() + tail


def mrkdwn(text: str) -> MarkdownTextObject:
    # verbatim: Slack does not turn bare URLs or #names into links on its own.
    return MarkdownTextObject(text=text, verbatim=True)


def section(text: str, more_url: str = "") -> SectionBlock:
    return SectionBlock(text=mrkdwn(cap_mrkdwn(text, more_url=more_url)))


def context(parts: list[str]) -> ContextBlock:
    text = " · ".join(p for p in parts if p)
    return ContextBlock(elements=[mrkdwn(cap_mrkdwn(text or " "))])


def fallback(text: str) -> str:
    return cap(esc(one_line(text)), FALLBACK_CHARS)


def finish(blocks: list[Block]) -> list[dict[str, Any]]:
    """Validated dicts, at most MAX_BLOCKS of them."""
    if len(blocks) > MAX_BLOCKS:
        dropped = len(blocks) - (MAX_BLOCKS - 1)
        blocks = [*blocks[: MAX_BLOCKS - 1], context([f"… {dropped} more block(s) not shown"])]
    return [b.to_dict() for b in blocks]


# --- alerts ----------------------------------------------------------------------------------


def alert_actions(alert: Alert) -> ActionsBlock | None:
    if alert.status == Status.RESOLVED:
        return None
    elements: list[Any] = []
    if not alert.acked_by:
        elements.append(ButtonElement(text="Ack", action_id=ACK, value=alert.id, style="primary"))
    elements.append(
        UserSelectElement(placeholder=PlainTextObject(text="Assign…"), action_id=ASSIGN)
    )
    elements.append(ButtonElement(text="Resolve", action_id=RESOLVE, value=alert.id))
    elements.append(
        OverflowMenuElement(
            action_id=SNOOZE,
            options=[Option(value=f"{alert.id} {d}", text=f"Snooze {d}") for d in SNOOZES],
        )
    )
    return ActionsBlock(block_id=f"{ALERT_BLOCK_PREFIX}{alert.id}", elements=elements)


def alert_fallback(alert: Alert) -> str:
    v = alert_view(alert)
    flags = ", ".join(v.flags) or "mention"
    return fallback(f"{v.mark} [{v.id}] {v.severity.upper()} {v.brand} ({flags}): {v.headline}")


def alert_blocks(alert: Alert) -> list[Block]:
    v = alert_view(alert)
    flags = ", ".join(v.flags) or "mention"
    head = f"{v.mark} *{esc(v.severity.upper())}* · *{esc(v.brand)}* · {esc(flags)} · `{v.id}`"
    blocks: list[Block] = [section(f"{head}\n*{link(v.url, v.headline)}*", more_url=v.url)]
    if v.excerpt:
        blocks.append(section("> " + esc(v.excerpt), more_url=v.url))
    blocks.append(
        context(
            [
                esc(v.author) and f"*{esc(v.author)}*",
                esc(v.reach),
                esc(v.source),
                esc(v.when),
                f"sentiment {v.sentiment:+.2f}",
                v.aspects and "aspects: " + esc(", ".join(v.aspects)),
            ]
        )
    )
    status = f"*Status:* {esc(v.status)}"
    if v.count > 1:
        status += f" · {v.count} similar mentions"
    blocks.append(context([status]))
    actions = alert_actions(alert)
    if actions is not None:
        if safe_url(v.url):
            actions.elements.insert(0, ButtonElement(text="Open", action_id=OPEN, url=v.url))
        blocks.append(actions)
    return blocks


def batch_blocks(alerts: list[Alert]) -> list[Block]:
    blocks: list[Block] = [section(f"*{len(alerts)} alerts* (sent together to keep up)")]
    lines: list[str] = []
    for a in alerts:
        v = alert_view(a)
        lines.append(
            f"{v.mark} `{v.id}` *{esc(v.brand)}* {link(v.url, cap(v.headline, 120))} · {esc(v.status)}"
        )
    chunk = ""
    for line in lines:  # pack lines into as few sections as fit
        if chunk and len(chunk) + 1 + len(line) > SECTION_CHARS:
            blocks.append(section(chunk))
            chunk = ""
        chunk = f"{chunk}\n{line}" if chunk else line
    if chunk:
        blocks.append(section(chunk))
    blocks.append(context(["Act on one with `/ack A12`, `/assign A12 @someone`, `/resolve A12`"]))
    return blocks


def batch_fallback(alerts: list[Alert]) -> str:
    ids = ", ".join(a.id for a in alerts[:20])
    return fallback(f"{len(alerts)} alerts: {ids}" + (" …" if len(alerts) > 20 else ""))


# --- stand-alone text (digest, health, storm) -------------------------------------------------


def text_blocks(title: str, text: str) -> list[Block]:
    blocks: list[Block] = []
    if title:
        blocks.append(HeaderBlock(text=PlainTextObject(text=cap(one_line(title), HEADER_CHARS))))
    body = esc(text)
    while body and len(blocks) < MAX_BLOCKS:
        if len(blocks) == MAX_BLOCKS - 1 or len(body) <= SECTION_CHARS:
            blocks.append(section(body))
            break
        cut = body.rfind("\n", 0, SECTION_CHARS)
        if cut < SECTION_CHARS // 2:
            cut = body.rfind(" ", 0, SECTION_CHARS)
        if cut < SECTION_CHARS // 2:
            cut = SECTION_CHARS
            amp = body.rfind("&", 0, cut)  # never split an entity
            if amp > body.rfind(";", 0, cut):
                cut = amp
        blocks.append(section(body[:cut]))
        body = body[cut:].lstrip("\n")
    return blocks


# --- command replies ------------------------------------------------------------------------


def reply_blocks(text: str) -> list[dict[str, Any]]:
    """A command's plain reply as one preformatted section (help and status keep their layout)."""
    body = cap_mrkdwn(esc(text), SECTION_CHARS - 6)
    return finish([SectionBlock(text=mrkdwn(f"```{body}```" if "\n" in text else body))])


def mentions_blocks(
    text: str, mentions: list[dict[str, Any]], more_value: str | None
) -> list[dict[str, Any]]:
    blocks: list[Block] = [section(esc(text))]
    for doc in mentions:
        m = Mention.from_dict(doc)
        title = cap(one_line(m.title or m.text) or "(no title)", 150)
        flags = ", ".join(m.flags) or "-"
        meta = " · ".join(
            esc(x)
            for x in (
                local_time(m.when),
                m.source,
                cap(one_line(m.author), 60),
                flags,
                f"sentiment {m.sentiment:+.2f}",
            )
            if x
        )
        blocks.append(section(f"*{link(m.url, title)}*\n{meta}", more_url=m.url))
    if more_value is not None:
        blocks.append(
            ActionsBlock(elements=[ButtonElement(text="More", action_id=MORE, value=more_value)])
        )
    return finish(blocks)


def more_value(query_text: str, offset: int) -> str:
    """What the More button carries: the next offset and the query to run again."""
    return f"{offset} {query_text}"[:2000]


def parse_more_value(value: str) -> tuple[int, str]:
    offset, _, query = (value or "").partition(" ")
    return (int(offset) if offset.isdigit() else 0), query
