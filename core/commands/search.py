"""`mentions`: search the stored mentions."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from core.commands.context import Actor, CommandContext, Reply
from core.commands.parsing import known_sources, parse_query, unknown_name
from core.commands.registry import CommandGroup
from core.config import Config
from core.domain.durations import format_duration
from core.domain.query import Capped, Estimate, MentionQuery
from core.domain.repository import Repository

commands = CommandGroup()


def search_mentions(
    repo: Repository, config: Config, query: MentionQuery, now: datetime
) -> tuple[list[dict[str, Any]], int]:
    """Matching mention records, newest first: the requested page and the total count."""
    return repo.search_mentions(
        query, now, config.rules.negative_threshold, config.rules.positive_threshold
    )


# A word that looks like a filter: `lang:zh`, `aspect:price` (not 12:30, not a URL).
FILTER_LIKE = re.compile(r"([A-Za-z]+):[^/\s]")


def not_a_filter(words: list[str]) -> str:
    """When nothing matched, the filter-like word that was searched for as text: `lang:zh`
    found nothing and said only "No mentions of lang:zh"."""
    for word in words:
        found = FILTER_LIKE.match(word)
        if found:
            return (
                f" `{found.group(1)[:20]}:` is not a filter, so it was searched for as a word; "
                "filters: since: sentiment: flag: brand: source: limit: offset: page:"
            )
    return ""


@commands.command(
    "mentions", aliases=("查询", "搜索", "search", "find"), read_only=True, slash=True
)
def mentions(ctx: CommandContext, args: list[str], actor: Actor) -> Reply:
    """
    mentions <words> [since:24h] [sentiment:neg|pos|neu] [flag:question|kol|negative|critical] [brand:NAME] [source:NAME] [limit:N] [offset:N] [page:N]
        search stored mentions, newest first (since defaults to 7d, limit to 10)
    """
    query = parse_query(args)
    if query.brand and ctx.config.brand(query.brand) is None:
        raise unknown_name("brand", query.brand, (b.name for b in ctx.config.brands))
    page, total = search_mentions(ctx.repo, ctx.config, query, ctx.clock.now())
    sources = known_sources(ctx.config)
    # A source the config does not name may still hold mentions (`bot.py import --source`
    # files rows under any name): unknown only if nothing is stored under it either.
    if not total and query.source and query.source.casefold() not in map(str.casefold, sources):
        raise unknown_name("source", query.source, sources)
    shown_to = query.offset + len(page)
    what = " ".join(query.words) or "anything"
    counted = str(total)
    if isinstance(total, Capped):
        counted = f"{total - 1:,}+"
    elif isinstance(total, Estimate):
        counted = f"about {total:,}"
    # since:24h, as typed and as the digest says it (`last 24h`), not "1d".
    span = "24h" if query.since == timedelta(days=1) else format_duration(query.since)
    period = f"in the last {span}"
    if not total:
        text = f"No mentions of {what} {period}." + not_a_filter(query.words)
    elif not page:
        text = f"No more mentions of {what} {period} ({counted} in all; offset:{query.offset} is past the end)."
    else:
        text = f"{counted} mention(s) of {what} {period}; showing {query.offset + 1}-{shown_to}."
    return Reply(
        text,
        mentions=page,
        total=total,
        query=query,
        next_offset=shown_to if shown_to < total else None,
    )
