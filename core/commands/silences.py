"""`silence` (no new alerts from a brand, source or route for a while) and `unsilence`."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from core.alerting.routing import route_label
from core.commands.context import Actor, CommandContext, Reply, UsageError
from core.commands.parsing import chat_duration, known_sources, unknown_name
from core.commands.registry import CommandGroup, Guard, no_arguments
from core.domain.durations import format_duration
from core.domain.models import Alert, from_iso, to_iso

MAX_SILENCE = timedelta(days=30)
# What is silenced, in English or in Chinese (静默 品牌 Acme 1小时).
KINDS = {
    "brand": "brand",
    "source": "source",
    "route": "route",
    "品牌": "brand",
    "来源": "source",
    "源": "source",
    "路由": "route",
}

commands = CommandGroup()


def current_silences(ctx: CommandContext, stamp: str) -> list[dict[str, Any]]:
    """The silences that last past `stamp` (an ISO time), as stored."""
    return [s for s in ctx.repo.get_state("silences", []) or [] if s.get("until", "") > stamp]


@commands.command("silence", aliases=("静默",), read_only=no_arguments, guard=Guard.SILENCED_BRANDS)
def silence(ctx: CommandContext, args: list[str], actor: Actor) -> Reply:
    """
    silence <brand|source|route> <name> <duration>   no new alerts for it until then
    silence                  list silences; unsilence <n> ends one
    """
    now = ctx.clock.now()
    stamp = to_iso(now) or ""
    silences = current_silences(ctx, stamp)
    if not args:
        if not silences:
            return Reply("No silences.")
        lines = [f"{len(silences)} silence(s):"]
        for n, s in enumerate(silences, 1):
            until = from_iso(s["until"]) or now
            lines.append(
                f"  {n}. {s['kind']} {s['value']} for {format_duration(until - now)} more (by {s.get('by', '?')})"
            )
        return Reply("\n".join(lines))
    kind = KINDS.get(args[0].lower(), "") if len(args) == 3 else ""
    if not kind:
        raise UsageError(
            "usage: silence <brand|source|route> <name> <duration>, e.g. silence source weibo 2h"
        )
    value = args[1][:80]
    known = {
        "brand": [b.name for b in ctx.config.brands],
        "source": known_sources(ctx.config),
        "route": [route_label(r, i) for i, r in enumerate(ctx.config.routes)],
    }[kind]
    match = next((k for k in known if k.casefold() == value.casefold()), None)
    if match is None:
        raise unknown_name(kind, value, known)
    try:
        duration = chat_duration(args[2])
    except ValueError as err:
        raise UsageError(str(err)) from None
    if not timedelta(minutes=1) <= duration <= MAX_SILENCE:
        raise UsageError("silence for between 1m and 30d")
    # Silencing stops alerts as surely as resolving them: the same people may do it.
    refusal = silence_refusal(ctx, actor, kind, match)
    if refusal:
        return Reply(refusal, ok=False)
    with ctx.repo.locked():  # two silences at once must not lose one
        current = current_silences(ctx, stamp)
        current.append(
            {"kind": kind, "value": match, "until": to_iso(now + duration), "by": actor.label}
        )
        ctx.repo.set_state("silences", current)
    return Reply(
        f"Silenced {kind} {match} for {format_duration(duration)}: no new alerts from it until then."
    )


@commands.command("unsilence", guard=Guard.SILENCED_BRANDS, hidden=True)
def unsilence(ctx: CommandContext, args: list[str], actor: Actor) -> Reply:
    """unsilence <n>            end silence n of the `silence` list"""
    silences = current_silences(ctx, to_iso(ctx.clock.now()) or "")
    if (
        len(args) != 1
        or not (args[0].isascii() and args[0].isdigit())
        or not 1 <= int(args[0]) <= len(silences)
    ):
        raise UsageError(
            f"usage: unsilence <n>, n from the `silence` list (1-{len(silences)})"
            if silences
            else "there are no silences"
        )
    chosen = silences[int(args[0]) - 1]
    refusal = silence_refusal(ctx, actor, chosen["kind"], chosen["value"])
    if refusal:
        return Reply(refusal, ok=False)
    with ctx.repo.locked():
        current = ctx.repo.get_state("silences", []) or []
        ctx.repo.set_state("silences", [s for s in current if s != chosen])
    return Reply(f"Silence on {chosen['kind']} {chosen['value']} ended by {actor.label}.")


def silence_refusal(ctx: CommandContext, actor: Actor, kind: str, value: str) -> str | None:
    """A source or a route can carry any brand's alerts: silencing one needs the right to
    change every brand's alerts; silencing a brand, that brand's."""
    if kind != "brand":
        return every_brand_refusal(ctx, actor)
    return ctx.permission(actor, scope(value))


def every_brand_refusal(ctx: CommandContext, actor: Actor) -> str | None:
    """Why `actor` may not change every brand's alerts, or None if they may."""
    brands = [b.name for b in ctx.config.brands]
    return next((why for why in (ctx.permission(actor, scope(b)) for b in brands) if why), None)


def scope(brand: str) -> Alert:
    """A stand-in alert for the permission check of a change that is not about one alert
    (a silence): the brand's rules apply, or the default ones."""
    return Alert(
        id="the silence",
        mention_id="",
        brand=brand,
        severity="low",
        flags=[],
        destinations=[],
        created_at="",
    )
