"""A mention query as people type it: `mentions <words> [since:24h] [sentiment:neg] ...`.

The value object storage answers; core.reports.query holds how a record is matched.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from core.domain.durations import MAX_DURATION

DEFAULT_SINCE = timedelta(days=7)
# How far back `mentions since:` looks: since:0s could find nothing, and MAX_DURATION is the
# longest duration Buzzwatch reads.
SINCE_RANGE = (timedelta(minutes=1), MAX_DURATION)
DEFAULT_LIMIT = 10
# A `mentions` total is exact up to this many; past it a store may stop counting (an exact
# count of a common word over 10M stored mentions reads a million rows) and answer a Capped
# total, and the reply says "10,000+" (paging further, it counts on to the page's end). A
# count that would take too long may be an Estimate instead. A store that counts cheaply
# (SQLite's full-text index) answers the exact number.
COUNT_CAP = 10_000


class Capped(int):
    """A `mentions` total where the store stopped counting, one past where it stopped:
    there are at least this many matches, and the reply says "{self - 1}+"."""


class Estimate(int):
    """A `mentions` total that is the store's estimate, not a count (a count that would
    take too long): the reply says "about N"."""


# A page of `mentions` is at most this many: every chat must show a whole page in one message
# (Slack: 50 blocks, one per mention plus the header and the More button).
MAX_LIMIT = 40
SENTIMENTS = {
    "neg": "negative",
    "negative": "negative",
    "pos": "positive",
    "positive": "positive",
    "neu": "neutral",
    "neutral": "neutral",
}


@dataclass
class MentionQuery:
    words: list[str] = field(default_factory=list)
    since: timedelta = DEFAULT_SINCE
    sentiment: str = ""  # negative | positive | neutral
    flags: list[str] = field(default_factory=list)
    brand: str = ""
    source: str = ""
    limit: int = DEFAULT_LIMIT
    offset: int = 0
