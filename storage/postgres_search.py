"""The PostgreSQL store's `mentions` query as SQL conditions: the same answer as
core.reports.query.search_records over every record. `search LIKE '%word%'` runs on a pg_trgm
GIN index (any substring of 3+ characters); Chinese words of 1-2 characters, shorter than a
trigram, on a GIN index of the record's Chinese 1- and 2-character grams.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from core.domain.query import MentionQuery
from core.reports.query import normalized_words
from storage.mention_search import CJK_RUN, SEP, mark_words


def pg_text(value: str) -> str:
    """PostgreSQL text holds no NUL character (third-party ids and text may)."""
    return value.replace("\x00", "\ufffd")


def _like(pattern: str) -> str:
    return "%" + pattern.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def search_conditions(
    query: MentionQuery, now: datetime, negative: float, positive: float
) -> tuple[str, list[Any]]:
    """The WHERE clause of `query` (sentiment thresholds `negative`, `positive`) and its
    parameters."""
    conds = ["at >= %s"]
    params: list[Any] = [(now - query.since).astimezone(UTC).isoformat()]
    if query.brand:
        conds.append("strpos(brands_cf, %s) > 0")
        params.append(SEP + query.brand.casefold() + SEP)
    if query.source:
        conds.append("source_cf = %s")
        params.append(pg_text(query.source.casefold()))
    for flag in dict.fromkeys(query.flags):
        conds.append("strpos(flags, %s) > 0")
        params.append(SEP + flag.casefold() + SEP)
    if query.sentiment == "negative":
        conds.append("sentiment < %s")
        params.append(negative)
    elif query.sentiment == "positive":
        conds.append("sentiment >= %s")
        params.append(positive)
    elif query.sentiment == "neutral":
        conds.append("sentiment >= %s AND sentiment < %s")
        params += [negative, positive]
    for word in normalized_words(query):
        if len(word) < 3 and CJK_RUN.fullmatch(word):
            conds.append("grams @> ARRAY[%s]")  # shorter than a trigram: the grams index
            params.append(word)
        else:
            conds.append("search LIKE %s")  # the trigram index, and an exact test
            params.append(_like(pg_text(mark_words(word))))
    return " AND ".join(conds), params
