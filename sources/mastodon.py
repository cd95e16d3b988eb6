"""Mastodon hashtag timelines through the public JSON API.

GET https://INSTANCE/api/v1/timelines/tag/TAG?limit=40 answers a list of statuses:
{"id", "created_at", "url", "content" (HTML), "spoiler_text", "language", "account":
{"acct", "display_name", "followers_count"}, "replies_count", "reblogs_count",
"favourites_count"}. The JSON (unlike the RSS) carries the engagement figures.
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

_METRICS = {
    "replies_count": "comments",
    "reblogs_count": "reposts",
    "favourites_count": "likes",
}


def status_to_mention(status: dict[str, Any], source: str, now: datetime) -> Mention | None:
    text = cap(strip_markup(str(status.get("content") or "")), MAX_TEXT)
    warning = one_line(strip_markup(str(status.get("spoiler_text") or "")))
    if not text and not warning:
        return None
    url = safe_url(status.get("url") or status.get("uri"))
    account = status.get("account")
    if not isinstance(account, dict):
        account = {}
    author = account.get("acct") or account.get("username") or ""
    metrics = {
        name: n
        for key, name in _METRICS.items()
        if (n := metric_count(status.get(key))) is not None
    }
    followers = metric_count(account.get("followers_count"))
    if followers is not None:
        metrics["followers"] = followers
    published = plausible_time(status.get("created_at"), now)
    guid = str(status.get("uri") or status.get("id") or "")[:500]
    title = cap(one_line(warning or text), MAX_TITLE)
    return Mention(
        id=mention_id(guid, url, title, source),
        source=source,
        url=url,
        title=title,
        text=text,
        author=cap(one_line(strip_markup(str(author))), MAX_AUTHOR),
        published=published,
        fetched_at=now,
        metrics=metrics,
    )


def parse_statuses(
    content: bytes, source: str, now: datetime, headers: dict[str, str] | None = None
) -> Mentions:
    try:
        data = json.loads(content)
    except (ValueError, RecursionError) as err:
        raise SourceError(f"Mastodon answered something that is not JSON: {err}") from None
    if isinstance(data, dict) and "error" in data:
        raise SourceError(f"Mastodon error: {cap(one_line(str(data['error'])), 200)}")
    if not isinstance(data, list):
        raise SourceError("Mastodon answer is not a list of statuses")
    return records_to_mentions(data, status_to_mention, source, now)
