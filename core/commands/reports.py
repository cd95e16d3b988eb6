"""`digest` and `stats` on demand, for one brand or all."""

from __future__ import annotations

from datetime import timedelta

from core.commands.context import Actor, CommandContext, Reply
from core.commands.parsing import report_args
from core.commands.registry import CommandGroup
from core.reports.digest_service import DigestService
from core.reports.digest_text import stats_text

commands = CommandGroup()


@commands.command("digest", aliases=("日报", "摘要"), read_only=True)
def digest(ctx: CommandContext, args: list[str], actor: Actor) -> Reply:
    """digest [brand] [since:24h]   the digest: volume, sentiment, top mentions, questions, KOLs"""
    brand, since = report_args(ctx.config, args, timedelta(hours=24))
    digests = DigestService(ctx.config, ctx.repo, ctx.clock, charts=False)
    messages = digests.on_demand(since, brand)
    return Reply("\n\n".join(f"{m.title}\n{m.text}" for m in messages))


@commands.command("stats", aliases=("统计",), read_only=True)
def stats(ctx: CommandContext, args: list[str], actor: Actor) -> Reply:
    """stats [brand] [since:7d]     mention counts by day, sentiment, source and aspect"""
    brand, since = report_args(ctx.config, args, timedelta(days=7))
    digests = DigestService(ctx.config, ctx.repo, ctx.clock, charts=False)
    messages = digests.on_demand(since, brand)
    return Reply("\n\n".join(stats_text(m.digest) for m in messages))
