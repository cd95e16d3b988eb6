"""`status` (open alerts and the delivery queue) and `sources` (every source's health)."""

from __future__ import annotations

from datetime import datetime

from core.alerting.lifecycle import ACTIVE
from core.alerting.views import local_time
from core.commands.context import Actor, CommandContext, Reply, UsageError
from core.commands.dead_letters import describe
from core.commands.registry import CommandGroup
from core.domain.durations import format_duration
from core.domain.models import OutboxItem, Status, from_iso, to_iso
from core.intake.health import sources_report
from rules.text import cap, clean_name, one_line, strip_invisible

# Alerts a `status all` page lists: a page fits one Slack section (3,000 characters).
STATUS_PAGE = 20
STATUS_LISTED = 10  # the oldest alerts of each status that `status` names; it counts the rest
DEAD_LISTED = 5  # the newest dead letters `status` shows; it counts the rest
STATUS_ORDER = (Status.OPEN, Status.ACKED, Status.ASSIGNED, Status.SNOOZED)

commands = CommandGroup()


def held_by_quiet_hours(pending: list[OutboxItem], now: datetime) -> str:
    """ "5 held by quiet hours (team until 08:00 CST)", or "": messages queued in a
    destination's quiet hours wait for its end, which `status` and `--once` did not say."""
    stamp = to_iso(now) or ""
    held: dict[str, list[str]] = {}
    for item in pending:
        if item.held_until and item.held_until > stamp:
            held.setdefault(item.destination, []).append(item.held_until)
    if not held:
        return ""
    count = sum(len(times) for times in held.values())
    where = ", ".join(
        f"{name} until {local_time(min(times), '%H:%M')}" for name, times in sorted(held.items())
    )
    return f"{count} held by quiet hours: {where}"


@commands.command("status", aliases=("状态",), read_only=True)
def status(ctx: CommandContext, args: list[str], actor: Actor) -> Reply:
    """
    status                   open alerts and the delivery queue
    status all [page:N]      every open alert with its status, severity, brand, age and title
    """
    if args:
        return status_all(ctx, args)
    now = ctx.clock.now()
    # Counted and listed by the store: only the alerts shown are read (issue 15: reading
    # every open alert of a busy store took seconds and hundreds of MB).
    counts = ctx.repo.count_active_alerts()
    lines = [f"{sum(counts.get(s.value, 0) for s in ACTIVE)} alert(s) not resolved."]
    cut = False
    for state in STATUS_ORDER:
        total = counts.get(state.value, 0)
        if total:
            group = ctx.repo.oldest_active_alerts([state.value], STATUS_LISTED)
            ages = ", ".join(
                f"{a.id} ({format_duration(now - (from_iso(a.created_at) or now))})" for a in group
            )
            more = f" +{total - len(group)} more" if total > len(group) else ""
            cut = cut or bool(more)
            lines.append(f"{state.value}: {ages}{more}")
    if cut:
        lines.append("status all: every one, with titles")
    pending = ctx.repo.pending_outbox()
    dead = ctx.repo.dead_letters()
    held = held_by_quiet_hours(pending, now)
    held = f" ({held})" if held else ""
    lines.append(f"delivery queue: {len(pending)} pending{held}, {len(dead)} dead letter(s)")
    lines += [f"  dead: {describe(item)}" for item in dead[-DEAD_LISTED:]]
    if len(dead) > DEAD_LISTED:
        lines.append(f"  +{len(dead) - DEAD_LISTED} more (older)")
    if dead:
        lines.append("deadletters: all of them, to retry or clear")
    return Reply("\n".join(lines))


def status_all(ctx: CommandContext, args: list[str]) -> Reply:
    """Every alert not resolved, STATUS_PAGE a page (a page fits one chat message)."""
    if args[0].lower() not in ("all", "全部") or len(args) > 2:
        raise UsageError("usage: status, or status all [page:N]")
    page = 1
    if len(args) == 2:
        key, _, value = args[1].partition(":")
        if key.lower() != "page" or not (value.isascii() and value.isdigit()):
            raise UsageError("usage: status all [page:N], e.g. status all page:2")
        page = int(value)
    now = ctx.clock.now()
    counts = ctx.repo.count_active_alerts()
    total = sum(counts.get(s.value, 0) for s in STATUS_ORDER)
    if not total:
        return Reply("No alerts are open.")
    pages = -(-total // STATUS_PAGE)
    if page < 1:
        raise UsageError("page: takes a whole number from 1")
    if page > pages:
        last = "status all" + (f" page:{pages}" if pages > 1 else "")
        raise UsageError(
            f"page:{page} is past the end: {total} alert(s) not resolved, {STATUS_PAGE} a page,"
            f" so {pages} page(s); the last is `{last}`"
        )
    shown = ctx.repo.oldest_active_alerts(
        [s.value for s in STATUS_ORDER], STATUS_PAGE, (page - 1) * STATUS_PAGE
    )
    first = (page - 1) * STATUS_PAGE + 1
    lines = [
        f"{total} alert(s) not resolved; {first}-{first + len(shown) - 1}, oldest first by status:"
    ]
    for a in shown:
        age = format_duration(now - (from_iso(a.created_at) or now))
        who = f" → {clean_name(a.assignee)}" if a.assignee else ""
        title = a.summary.get("title") or a.summary.get("text") or ""
        title = cap(one_line(strip_invisible(str(title))), 60)
        lines.append(f"{a.id} {a.status}{who} · {a.severity} · {a.brand} · {age} · {title}")
    if page < pages:
        lines.append(f"page {page} of {pages}; next: status all page:{page + 1}")
    return Reply("\n".join(lines))


@commands.command("sources", read_only=True)
def sources(ctx: CommandContext, args: list[str], actor: Actor) -> Reply:
    """sources                  every source with its health (last success, errors)"""
    now = ctx.clock.now()
    return Reply(sources_report(ctx.config, ctx.repo, now, ctx.config.tz))
