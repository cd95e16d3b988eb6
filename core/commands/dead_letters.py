"""`deadletters`: the messages delivery gave up on, and putting them back or away.

A message goes to the dead letters when its destination refuses it for good (a revoked
token, a deleted channel, a layout the service rejects): once the cause is fixed,
`deadletters retry` queues them again; `deadletters clear` deletes them."""

from __future__ import annotations

from core.commands.context import Actor, CommandContext, Reply, UsageError
from core.commands.registry import CommandGroup, Guard, no_arguments
from core.commands.silences import every_brand_refusal
from core.domain.models import OutboxItem
from rules.text import cap, one_line, strip_invisible

DEAD_SHOWN = 20  # the newest ones `deadletters` lists; it counts the rest

commands = CommandGroup()


def describe(item: OutboxItem) -> str:
    """One line for a dead letter: where, what, and why (the error may quote a service's
    answer: one line, no invisible characters, capped)."""
    what = item.alert_id or str(item.message.get("kind", "message"))
    why = cap(one_line(strip_invisible(item.last_error)), 120)
    return (
        f"{cap(item.destination, 40)} {item.action} {cap(what, 40)}"
        f" after {item.attempts} attempt(s): {why}"
    )


@commands.command("deadletters", read_only=no_arguments, guard=Guard.EVERY_BRAND)
def deadletters(ctx: CommandContext, args: list[str], actor: Actor) -> Reply:
    """
    deadletters              the messages that could not be delivered, and why
    deadletters retry        queue them all again (once the cause is fixed)
    deadletters clear        delete them all
    """
    if not args:
        dead = ctx.repo.dead_letters()
        if not dead:
            return Reply("No dead letters.")
        lines = [f"{len(dead)} dead letter(s), newest last:"]
        if len(dead) > DEAD_SHOWN:
            lines.append(f"  +{len(dead) - DEAD_SHOWN} older")
        lines += [f"  {describe(item)}" for item in dead[-DEAD_SHOWN:]]
        lines.append("deadletters retry: queue them again · deadletters clear: delete them")
        return Reply("\n".join(lines))
    verb = args[0].lower()
    if len(args) != 1 or verb not in ("retry", "clear"):
        raise UsageError("usage: deadletters, deadletters retry, or deadletters clear")
    # They may hold any brand's alerts: the same right as silencing a whole source.
    refusal = every_brand_refusal(ctx, actor)
    if refusal:
        return Reply(refusal, ok=False)
    if verb == "retry":
        n = ctx.repo.retry_dead_letters()
        return Reply(f"Queued {n} dead letter(s) again." if n else "No dead letters.")
    n = ctx.repo.drop_dead_letters()
    return Reply(f"Deleted {n} dead letter(s)." if n else "No dead letters.")
