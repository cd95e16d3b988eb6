"""What an alert says, before any platform's markup: shared by console, Slack and DingTalk.

Everything here is plain, unescaped text; each platform escapes it for its own format.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo

from core.domain.models import Alert, Severity, Status, from_iso
from rules.text import cap, one_line
from rules.titles import says_nothing

SEVERITY_MARK = {"critical": "🔴", "high": "🟠", "medium": "🟡", "low": "⚪"}
SEVERITY_RANK = {s.value: s.rank for s in Severity}
FLAG_LABEL = {
    "negative": "negative",
    "question": "question",
    "kol": "KOL",
    "critical": "critical aspect",
    "positive": "praise",
}
EXCERPT_CHARS = 600

# Times people read are shown in the config's timezone (set once at start-up).
_display_tz: tzinfo = UTC


def set_display_timezone(tz: tzinfo) -> None:
    global _display_tz
    _display_tz = tz


def local_time(value: str | datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """An ISO stamp or datetime as local wall time with the zone's name, e.g. '10:30 CST'."""
    when = from_iso(value) if isinstance(value, str) else value
    if when is None:
        return ""
    try:
        local = when.astimezone(_display_tz)
    except (OverflowError, ValueError):  # year 1 or 9999 shifted out of range: show UTC
        return f"{when.strftime(fmt)} UTC"
    return f"{local.strftime(fmt)} {local.tzname() or ''}".strip()


def human_number(n: int) -> str:
    for size, unit in ((1_000_000_000, "B"), (1_000_000, "M"), (1_000, "k")):
        if n >= size:
            return f"{n / size:.1f}".rstrip("0").rstrip(".") + unit
    return str(n)


@dataclass
class AlertView:
    id: str
    severity: str
    mark: str
    brand: str
    headline: str
    excerpt: str
    url: str
    source: str
    author: str
    when: str
    flags: list[str]
    aspects: list[str]
    sentiment: float
    reach: str
    status: str
    count: int


def status_line(alert: Alert) -> str:
    if alert.status == Status.RESOLVED:
        return f"resolved by {alert.resolved_by} at {local_time(alert.resolved_at, '%H:%M')}"
    if alert.status == Status.ASSIGNED:
        return f"assigned to {alert.assignee} (by {alert.acked_by})"
    if alert.status == Status.ACKED:
        return f"acked by {alert.acked_by} at {local_time(alert.acked_at, '%H:%M')}"
    if alert.status == Status.SNOOZED:
        until = from_iso(alert.snoozed_until)
        return f"snoozed until {local_time(until, '%m-%d %H:%M')}" if until else "snoozed"
    return "open"


def alert_view(alert: Alert) -> AlertView:
    s = alert.summary
    title = one_line(s.get("title", ""))
    if says_nothing(title, s.get("author", "")):  # 转发微博, 分享图片: the text says more
        title = ""
    text = s.get("text", "")
    headline = cap(title or one_line(text), 150)
    # A post with no title (a tweet, an imported row) has its text as the headline: the
    # excerpt repeated it word for word under it; it only shows what the headline cut off.
    shown = title or headline
    excerpt = cap(one_line(text), EXCERPT_CHARS) if text and one_line(text) != shown else ""
    when = from_iso(s.get("when"))
    reach = int(s.get("reach") or 0)
    tier = s.get("kol_tier", "")
    return AlertView(
        id=alert.id,
        severity=alert.severity,
        mark=SEVERITY_MARK.get(alert.severity, "⚪"),
        brand=alert.brand,
        headline=headline or "(no title)",
        excerpt=excerpt,
        url=s.get("url", ""),
        source=s.get("source", ""),
        author=cap(one_line(s.get("author", "")), 60),
        when=local_time(when),
        flags=[FLAG_LABEL.get(f, f) for f in alert.flags if f != "positive"],
        aspects=list(s.get("aspects", [])),
        sentiment=float(s.get("sentiment", 0.0)),
        reach=(f"{human_number(reach)} followers" + (f" ({tier})" if tier else ""))
        if reach
        else "",
        status=status_line(alert),
        count=alert.count,
    )


@dataclass
class BurstView:
    """A route burst's message (people read it as a storm): its own state, then its
    members, the ones needing attention first."""

    id: str
    severity: str
    mark: str
    title: str
    status: str
    total: int
    open: int
    members: list[AlertView]


def burst_view(burst: Alert, members: list[Alert]) -> BurstView:
    order = {m: i for i, m in enumerate(burst.members)}
    ranked = sorted(
        members,
        key=lambda a: (
            a.status == Status.RESOLVED,
            -SEVERITY_RANK.get(a.severity, 0),
            order.get(a.id, len(order)),
        ),
    )
    return BurstView(
        id=burst.id,
        severity=burst.severity,
        mark=SEVERITY_MARK.get(burst.severity, "⚪"),
        title=one_line(burst.summary.get("title", "")) or f"Storm on route {burst.route}",
        status=status_line(burst),
        total=len(burst.members),
        open=sum(a.status != Status.RESOLVED for a in members),
        members=[alert_view(a) for a in ranked],
    )
