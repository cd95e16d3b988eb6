"""Block Kit for Buzzwatch messages, built with slack_sdk.models.blocks so shapes are checked.

Every piece of text that came from a feed (or from a person typing a command) goes through
`esc()` before it is put into mrkdwn: Slack reads `<!channel>`, `<@U123>` and `<url|label>`
only when they arrive unescaped, so escaping `&`, `<` and `>` makes them show literally.
"""

from __future__ import annotations

import logging
import re
from typing import Any
from urllib.parse import urlsplit

from slack_sdk.errors import SlackObjectFormationError
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

from core.alerting.views import AlertView, alert_view, burst_view, local_time
from core.domain.models import Alert, Mention, Status
from rules.text import cap, one_line

log = logging.getLogger("buzzwatch.slack")

SECTION_CHARS = 2900  # Slack's limit is 3000; room for the "…" and a link
# A link's URL as it sits in mrkdwn (escaped) is at most this long; a longer one is shown as
# plain text, unlinked. Escaping can make a URL five times longer (& → &amp;, | → %7C), and
# a link must leave room in its section for the text around it.
LINK_URL_CHARS = 1000
HOST_CHARS = 100
MAX_BLOCKS = 50
FALLBACK_CHARS = 3000  # the notification text; Slack refuses over 40,000
HEADER_CHARS = 150
SNOOZES = ("1h", "4h", "24h")

# action_id of each interactive element; actions.py registers a handler for each.
ACK, ASSIGN, RESOLVE, SNOOZE, OPEN, MORE, MEMBER = (
    "buzz_ack",
    "buzz_assign",
    "buzz_resolve",
    "buzz_snooze",
    "buzz_open",
    "buzz_more",
    "buzz_member",  # the menu next to each alert listed in a storm message
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
    url = url.replace("&", "&amp;")
    return url if len(url) <= LINK_URL_CHARS else ""


def link_host(url: str) -> str:
    """The host a link really goes to, escaped, as readers should see it next to the link
    (its label is the feed's title, which may look like another site). Internationalised
    names are shown in their ASCII (xn--) form so a look-alike letter cannot pass for the
    real one. "" when the URL is not shown as a link."""
    target = safe_url(url).replace("&amp;", "&")
    if not target:
        return ""
    try:  # browsers read `\` as `/` in an http(s) URL: https://evil.example\@bank.example
        host = urlsplit(target.replace("\\", "/")).hostname or ""
    except ValueError:
        return ""
    try:
        host = host.encode("idna").decode("ascii")
    except UnicodeError:
        host = host.encode("ascii", "backslashreplace").decode("ascii")
    return esc(cap(host, HOST_CHARS))


def link(url: str, label: str) -> str:
    target = safe_url(url)
    return f"<{target}|{esc(label)}>" if target else esc(label)


def cap_mrkdwn(text: str, limit: int = SECTION_CHARS, more_url: str = "") -> str:
    """Cap escaped mrkdwn without cutting an entity (&amp;) or a link in half."""
    if len(text) <= limit:
        return text
    tail = f"… {link(more_url, 'read more')}" if safe_url(more_url) else "…"
    if len(tail) > limit // 2:  # a long link would crowd out the text it follows
        tail = "…"
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
    """The notification text: escaped, then capped without leaving half an entity (&am…)."""
    return cap_mrkdwn(esc(one_line(text)), FALLBACK_CHARS)


def finish(blocks: list[Block]) -> list[dict[str, Any]]:
    """Validated dicts, at most MAX_BLOCKS of them. A block Slack would refuse (a bug here,
    met with content nobody foresaw) is replaced by a note, so the rest of the message, and
    every message queued behind it, still goes."""
    if len(blocks) > MAX_BLOCKS:
        dropped = len(blocks) - (MAX_BLOCKS - 1)
        blocks = [*blocks[: MAX_BLOCKS - 1], context([f"… {dropped} more block(s) not shown"])]
    out = []
    for b in blocks:
        try:
            out.append(b.to_dict())
        except SlackObjectFormationError as err:
            log.error("a %s block could not be built (%s); a note replaces it", b.type, err)
            out.append(context(["_(part of this message could not be shown)_"]).to_dict())
    return out


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
                link_host(v.url),
                esc(v.when),
                f"sentiment {v.sentiment:+.2f}",
                "aspects: " + esc(", ".join(v.aspects)) if v.aspects else "",
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


# --- storms: a burst on one route, its alerts listed in one message ---------------------------

STORM_MEMBERS = 40  # sections of members; with the head, a note and the storm's own actions
# What each member's menu offers: its option value is the command's verb (the alert id is
# in the section's block_id), so a forged value can only name one of these.
MEMBER_CHOICES = {
    "ack": "Ack",
    "resolve": "Resolve",
    **{f"snooze {d}": f"Snooze {d}" for d in SNOOZES},
}


def member_menu(v: AlertView, acked: bool) -> OverflowMenuElement:
    choices = [c for c in MEMBER_CHOICES if not (c == "ack" and acked)]
    return OverflowMenuElement(
        action_id=MEMBER,
        options=[Option(value=c, text=MEMBER_CHOICES[c]) for c in choices],
    )


def storm_member_block(v: AlertView, alert: Alert) -> SectionBlock:
    host = link_host(v.url)
    head = (
        f"{v.mark} `{v.id}` *{esc(v.severity.upper())}* · *{esc(v.brand)}* · "
        f"{link(v.url, cap(v.headline, 120))}" + (f" ({host})" if host else "")
    )
    meta = " · ".join(
        x
        for x in (
            esc(v.author) and f"_{esc(v.author)}_",
            esc(v.source),
            esc(v.when),
            esc(", ".join(v.flags)),
            f"*{esc(v.status)}*",
        )
        if x
    )
    block = SectionBlock(
        block_id=f"{ALERT_BLOCK_PREFIX}{v.id}", text=mrkdwn(cap_mrkdwn(f"{head}\n{meta}"))
    )
    if alert.status != Status.RESOLVED:
        block.accessory = member_menu(v, bool(alert.acked_by))
    return block


def storm_fallback(storm: Alert, members: list[Alert]) -> str:
    sv = burst_view(storm, members)
    ids = ", ".join(v.id for v in sv.members[:20])
    return fallback(f"{sv.mark} [{sv.id}] {sv.title}: {ids}" + (" …" if sv.total > 20 else ""))


def storm_blocks(storm: Alert, members: list[Alert]) -> list[Block]:
    """Every member with its link, severity, id, author and status, and a menu to act on
    it; then the storm's own buttons. Members needing attention come first."""
    sv = burst_view(storm, members)
    head = (
        f"{sv.mark} *{esc(sv.severity.upper())}* · *{esc(sv.title)}* · `{sv.id}`\n"
        f"*Status:* {esc(sv.status)} · {sv.open} of {sv.total} alerts still open"
    )
    blocks: list[Block] = [section(head)]
    by_id = {a.id: a for a in members}
    for v in sv.members[:STORM_MEMBERS]:
        blocks.append(storm_member_block(v, by_id[v.id]))
    hidden = sv.total - min(len(sv.members), STORM_MEMBERS)
    if hidden > 0:
        blocks.append(
            context([f"… {hidden} more not shown: `/buzz status all` lists every open alert"])
        )
    blocks.append(context(["Act on one with its menu, `/assign A12 @someone`, or `/resolve A12`"]))
    actions = alert_actions(storm)
    if actions is not None:
        blocks.append(actions)
    return blocks


def batch_blocks(alerts: list[Alert]) -> list[Block]:
    blocks: list[Block] = [section(f"*{len(alerts)} alerts* (sent together to keep up)")]
    lines: list[str] = []
    for a in alerts:
        v = alert_view(a)
        host = link_host(v.url)
        lines.append(
            f"{v.mark} `{v.id}` *{esc(v.brand)}* {link(v.url, cap(v.headline, 120))}"
            + (f" ({host})" if host else "")
            + f" · {esc(v.status)}"
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
    head = cap(one_line(title), HEADER_CHARS).strip()
    if head:  # Slack refuses an empty header
        blocks.append(HeaderBlock(text=PlainTextObject(text=head)))
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
            x
            for x in (
                esc(local_time(m.when)),
                esc(m.source),
                link_host(m.url),
                esc(cap(one_line(m.author), 60)),
                esc(flags),
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
    return (int(offset) if offset.isascii() and offset.isdigit() else 0), query
