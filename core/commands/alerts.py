"""Commands that change one alert: ack, assign, resolve, snooze.

Each reads its arguments and names the change; `alert_command` makes it only if the alert
exists and the actor may change it (CommandService's `permission`)."""

from __future__ import annotations

from datetime import timedelta

from core.commands.context import Actor, AlertChange, CommandContext, UsageError
from core.commands.parsing import alert_id, chat_duration, one_alert
from core.commands.registry import CommandGroup
from rules.text import clean_name

MAX_SNOOZE = timedelta(days=7)

commands = CommandGroup()


@commands.alert_command("ack", aliases=("确认",), slash=True)
def ack(ctx: CommandContext, args: list[str], actor: Actor) -> AlertChange:
    """ack <id>                 take an alert: you are on it"""
    found = one_alert(args, "ack <id>")
    return AlertChange(
        found, lambda allowed: ctx.alerts.ack(found, actor.label, actor.platform, allowed)
    )


@commands.alert_command("assign", aliases=("指派", "分配"), slash=True)
def assign(ctx: CommandContext, args: list[str], actor: Actor) -> AlertChange:
    """assign <id> <person>     hand an alert to someone"""
    found = alert_id(args, "assign <id> <person>")
    if len(args) < 2:
        raise UsageError("usage: assign <id> <person>")
    # `assign A1 A2 bob` gave A1 to "A2 bob". (`assign A1 A2`: no person, said as a place.)
    one_alert(args[:2], "assign <id> <person>", clean_name(" ".join(args[2:])) or "<person>")
    person = clean_name(" ".join(args[1:]))
    return AlertChange(
        found,
        lambda allowed: ctx.alerts.assign(found, person, actor.label, actor.platform, allowed),
    )


@commands.alert_command("resolve", aliases=("解决",), slash=True)
def resolve(ctx: CommandContext, args: list[str], actor: Actor) -> AlertChange:
    """resolve <id>             close an alert"""
    found = one_alert(args, "resolve <id>")
    return AlertChange(
        found, lambda allowed: ctx.alerts.resolve(found, actor.label, actor.platform, allowed)
    )


@commands.alert_command("snooze", aliases=("暂停",))
def snooze(ctx: CommandContext, args: list[str], actor: Actor) -> AlertChange:
    """snooze <id> <duration>   silence an alert for e.g. 1h, 4h, 24h"""
    found = alert_id(args, "snooze <id> <duration>")
    if len(args) < 2:
        raise UsageError("usage: snooze <id> <duration>, e.g. snooze A12 4h")
    try:
        duration = chat_duration(args[1])
    except ValueError as err:
        raise UsageError(str(err)) from None
    if not timedelta(minutes=1) <= duration <= MAX_SNOOZE:
        raise UsageError("snooze for between 1m and 7d")
    return AlertChange(
        found,
        lambda allowed: ctx.alerts.snooze(found, duration, actor.label, actor.platform, allowed),
    )
