"""Mention queries: what `mentions <words> [since:24h] [sentiment:neg] ...` asks for."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from core.domain.query import MentionQuery
from rules.text import normalize


def normalized_words(query: MentionQuery) -> list[str]:
    """The query's words as search text is normalised (empty ones dropped)."""
    return [w for w in (normalize(w) for w in query.words) if w]


def search_text(doc: dict[str, Any]) -> str:
    """The normalised text a query's words are looked for in, cached on the record."""
    cached = doc.get("_search")
    if cached is None:
        cached = normalize(
            f"{doc.get('title', '')}\n{doc.get('text', '')}\n{doc.get('author', '')}"
        )
        doc["_search"] = cached
    return cached


def sentiment_kind(score: float, negative_threshold: float, positive_threshold: float) -> str:
    """A sentiment score's class (a query's `sentiment:`, the export's label, the digest's
    counts): negative below the one threshold, positive from the other, else neutral."""
    if score < negative_threshold:
        return "negative"
    if score >= positive_threshold:
        return "positive"
    return "neutral"


def matcher(
    query: MentionQuery, now: datetime, negative_threshold: float, positive_threshold: float
) -> Callable[[dict[str, Any]], bool]:
    """A predicate over stored mention records for this query."""
    # A Latin word matches from a word start ("refund" finds "refunded", "x" does not find
    # "experience"); Chinese has no spaces, so CJK words match anywhere.
    words = [
        (
            w,
            re.compile(r"(?<![a-z0-9])" + re.escape(w))
            if w[0].isascii() and w[0].isalnum()
            else None,
        )
        for w in normalized_words(query)
    ]
    cutoff = (now - query.since).astimezone(UTC).isoformat()
    brand = query.brand.casefold()
    source = query.source.casefold()
    flags = set(query.flags)

    def accept(doc: dict[str, Any]) -> bool:
        when = doc.get("published") or doc.get("fetched_at") or ""
        if when < cutoff:
            return False
        if brand and brand not in (b.casefold() for b in doc.get("brands", ())):
            return False
        if source and doc.get("source", "").casefold() != source:
            return False
        if flags and not flags.issubset(doc.get("flags", ())):
            return False
        if query.sentiment:
            kind = sentiment_kind(doc.get("sentiment", 0.0), negative_threshold, positive_threshold)
            if kind != query.sentiment:
                return False
        if words:
            text = search_text(doc)
            return all(w in text and (p is None or p.search(text)) for w, p in words)
        return True

    return accept


def search_records(
    records: Iterable[dict[str, Any]],
    query: MentionQuery,
    now: datetime,
    negative_threshold: float,
    positive_threshold: float,
) -> tuple[list[dict[str, Any]], int]:
    """The query over records in memory: the page asked for (newest first) and the total.
    What every backend's search_mentions must answer."""
    accept = matcher(query, now, negative_threshold, positive_threshold)
    found = [d for d in records if accept(d)]
    found.sort(key=lambda d: d.get("published") or d.get("fetched_at") or "", reverse=True)
    return found[query.offset : query.offset + query.limit], len(found)


def warm_up(repo: Any, since: datetime) -> int:
    """Load recent mentions and their search text ahead of the first query (start-up, in
    the background), so the first person to search does not wait for it."""
    n = 0
    for doc in repo.iter_mentions(since):
        search_text(doc)
        n += 1
    return n
