"""What every source does with the records of an answer (feed entries, API hits, posted
mentions): cap them, check their links, give each a stable id, and keep the newest."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from core.domain.models import Mention
from rules.text import cap, one_line, strip_invisible

# content, source name, fetch time, response headers -> mentions
Parser = Callable[[bytes, str, datetime, "dict[str, str] | None"], list[Mention]]

log = logging.getLogger("buzzwatch.sources")

MAX_ENTRIES = 500


def count(value: object) -> int | None:
    """A count as a feed or an API writes it (123, "123", " 1,234 "), or None when it is not
    a sane one. Only ASCII digits, and few enough: int() takes '²' for a digit and then
    fails on it, and refuses (ValueError) a string of more than 4,300 digits."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        s = value.strip().replace(",", "")
        if not (s.isascii() and s.isdigit() and len(s) < 16):
            return None
        value = int(s)
    if isinstance(value, int) and 0 <= value < 10**12:
        return value
    return None


def metric_count(value: Any) -> int | None:
    """An engagement figure from a source's JSON, or None when it is not a sane count."""
    return (
        value
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 10**12
        else None
    )


# What one malformed entry or record can raise while it is turned into a mention.
RECORD_ERRORS = (ValueError, TypeError, OverflowError, RecursionError)


class Mentions(list[Mention]):
    """The mentions of one answer, and how many of its entries were left out for being
    over MAX_ENTRIES (`cut`): the poller counts them in the source's health."""

    cut: int = 0


def records_to_mentions(
    records: Sequence[Any], convert: Callable[..., Mention | None], source: str, now: datetime
) -> Mentions:
    """`convert(record, source, now)` over the records of one answer (feed entries, API
    hits). One odd record (not a mapping, or raising while converted) is skipped and logged;
    it does not cost the answer its others. Of more than MAX_ENTRIES mentions the newest
    are kept (a feed listing oldest first would otherwise lose every new entry for good);
    the rest are logged and counted as cut."""
    mentions = Mentions()
    for record in records:
        if not isinstance(record, dict):
            continue
        try:
            m = convert(record, source, now)
        except RECORD_ERRORS as err:
            log.warning(
                "source=%s skipped an entry: %s: %s",
                source,
                type(err).__name__,
                cap(one_line(strip_invisible(str(err))), 200),
            )
            continue
        if m is not None:
            mentions.append(m)
    if len(mentions) <= MAX_ENTRIES:
        return mentions
    return _newest(mentions, source)


def _newest(mentions: list[Mention], source: str) -> Mentions:
    """The MAX_ENTRIES newest, in the answer's order; undated ones count as oldest, and among
    equals the answer's order decides (so an undated feed keeps its first entries)."""
    ranked = sorted(
        range(len(mentions)),
        key=lambda i: mentions[i].published or datetime.min.replace(tzinfo=UTC),
        reverse=True,
    )
    keep = set(ranked[:MAX_ENTRIES])
    kept = Mentions(m for i, m in enumerate(mentions) if i in keep)
    cut = [mentions[i] for i in ranked[MAX_ENTRIES:]]
    kept.cut = len(cut)
    dated = [m.published for m in cut if m.published]
    span = (
        f", published {min(dated):%Y-%m-%d %H:%M} to {max(dated):%Y-%m-%d %H:%M} UTC"
        if dated
        else ""
    )
    undated = len(cut) - len(dated)
    log.warning(
        "source=%s answer has %d entries, over the %d read per answer: the newest %d kept, "
        "%d older cut%s%s",
        source,
        len(mentions),
        MAX_ENTRIES,
        MAX_ENTRIES,
        len(cut),
        span,
        f" ({undated} with no time)" if undated else "",
    )
    return kept
