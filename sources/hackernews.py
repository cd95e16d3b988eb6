"""Hacker News through the Algolia search API (JSON): stories and comments, with points.

https://hn.algolia.com/api/v1/search_by_date?query=...&tags=(story,comment) answers
{"hits": [{"objectID", "title" | "story_title", "url" | "story_url", "story_text" |
"comment_text", "author", "created_at_i", "points", "num_comments"}, ...]}.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from core.domain.models import Mention, plausible_time
from core.intake.records import MAX_AUTHOR, MAX_TEXT, MAX_TITLE, mention_id, safe_url
from rules.text import cap, one_line, strip_markup
from sources.base import SourceError
from sources.records import Mentions, metric_count, records_to_mentions

ITEM_URL = "https://news.ycombinator.com/item?id={}"


def hit_to_mention(hit: dict[str, Any], source: str, now: datetime) -> Mention | None:
    object_id = str(hit.get("objectID") or "")
    if not (object_id.isascii() and object_id.isdigit() and len(object_id) < 16):
        return None
    title = hit.get("title") or hit.get("story_title") or ""
    body = hit.get("comment_text") or hit.get("story_text") or ""
    title = cap(one_line(strip_markup(str(title))), MAX_TITLE)
    text = cap(strip_markup(str(body)), MAX_TEXT)
    if not title and not text:
        return None
    is_comment = "comment_text" in hit and hit.get("comment_text")
    if is_comment and title:
        title = cap(f"Comment on: {title}", MAX_TITLE)
    link = ITEM_URL.format(object_id)
    metrics = {}
    for key, name in (("points", "points"), ("num_comments", "comments")):
        n = metric_count(hit.get(key))
        if n is not None:
            metrics[name] = n
    published = plausible_time(hit.get("created_at_i"), now)
    return Mention(
        id=mention_id(link, link, title, source),
        source=source,
        url=link,
        title=title,
        text=text or safe_url(hit.get("url") or hit.get("story_url")),
        author=cap(one_line(strip_markup(str(hit.get("author") or ""))), MAX_AUTHOR),
        published=published,
        fetched_at=now,
        metrics=metrics,
    )


def parse_hits(
    content: bytes, source: str, now: datetime, headers: dict[str, str] | None = None
) -> Mentions:
    try:
        data = json.loads(content)
    except (ValueError, RecursionError) as err:
        raise SourceError(f"Hacker News answered something that is not JSON: {err}") from None
    hits = data.get("hits") if isinstance(data, dict) else None
    if not isinstance(hits, list):
        raise SourceError("Hacker News answer has no 'hits' list")
    return records_to_mentions(hits, hit_to_mention, source, now)
