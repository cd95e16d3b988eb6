"""RSS and Atom feeds, from a URL or a local file.

feedparser only ever sees bytes we fetched ourselves; every field that comes out of it
is untrusted: links are kept only when they are http(s), markup is stripped, lengths capped.
"""

from __future__ import annotations

import calendar
import hashlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import feedparser

from core.config import RssSourceConfig
from core.models import Mention
from rules.text import cap, one_line, strip_markup
from sources.base import PollResult, SourceContext, SourceError, register
from sources.hints import hint

# content, source name, fetch time, response headers -> mentions
Parser = Callable[[bytes, str, datetime, "dict[str, str] | None"], list[Mention]]

log = logging.getLogger("buzzwatch.sources")

MAX_TITLE = 300
MAX_TEXT = 4000
MAX_AUTHOR = 100
MAX_URL = 2000
MAX_ENTRIES = 500
_TRACKING = ("utm_", "spm", "from", "share_", "fbclid", "gclid")
# Numeric fields feeds carry (slash:comments, media:statistics, RSSHub extras) -> our metric names.
_METRIC_FIELDS = {
    "slash_comments": "comments",
    "comments_count": "comments",
    "likes": "likes",
    "followers": "followers",
    "reposts": "reposts",
    "points": "points",
}


def safe_url(url: str | None) -> str:
    """The URL if it is http(s) and sane, else ''. Never javascript:, data:, file: ..."""
    if not url or len(url) > MAX_URL:
        return ""
    url = url.strip()
    try:
        parts = urlsplit(url)
    except ValueError:
        return ""
    if (
        parts.scheme.lower() not in ("http", "https")
        or not parts.netloc
        or any(c in url for c in " \n\r\t<>\"'`")
    ):
        return ""
    return url


def canonical_url(url: str) -> str:
    """Scheme and host lower-cased, fragment and tracking parameters dropped, query sorted."""
    parts = urlsplit(url)
    query = sorted(
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not k.lower().startswith(_TRACKING)
    )
    path = parts.path.rstrip("/") or "/"
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), path, urlencode(query), ""))


def mention_id(guid: str, link: str, title: str, source: str) -> str:
    """Stable across polls and restarts. A URI-like GUID or a canonical link identifies the
    story wherever it is syndicated; a bare GUID like '123' only means something in its feed."""
    if guid and (":" in guid or "/" in guid):
        basis = f"guid|{guid.strip()}"
    elif link:
        basis = f"link|{canonical_url(link)}|{one_line(title)}"
    elif guid:
        basis = f"local|{source}|{guid.strip()}"
    else:
        basis = f"title|{source}|{one_line(title)}"
    return "m" + hashlib.sha256(basis.encode("utf-8")).hexdigest()[:20]


def _time(entry: Any, now: datetime) -> datetime | None:
    parsed = entry.get("published_parsed") or entry.get("updated_parsed")
    if not parsed:
        return None
    try:
        when = datetime.fromtimestamp(calendar.timegm(parsed), UTC)
    except (OverflowError, ValueError, OSError):
        return None
    return min(when, now)  # a post from the future is a clock or a lie


def _metrics(entry: Any) -> dict[str, int]:
    metrics: dict[str, int] = {}
    for key, name in _METRIC_FIELDS.items():
        value = entry.get(key)
        if isinstance(value, str):
            value = value.strip().replace(",", "")
        try:
            n = int(value)
        except (TypeError, ValueError):
            continue
        if 0 <= n < 10**12:
            metrics[name] = max(metrics.get(name, 0), n)
    stats = entry.get("media_statistics")
    if isinstance(stats, dict) and str(stats.get("views", "")).isdigit():
        metrics["views"] = int(stats["views"])
    rating = entry.get("media_starrating")  # YouTube: the number of likes
    if isinstance(rating, dict) and str(rating.get("count", "")).isdigit():
        metrics["likes"] = max(metrics.get("likes", 0), int(rating["count"]))
    return metrics


def entry_to_mention(entry: Any, source: str, now: datetime) -> Mention | None:
    title = cap(one_line(strip_markup(entry.get("title", "") or "")), MAX_TITLE)
    body = ""
    contents = entry.get("content") or []
    if contents and isinstance(contents, list):
        body = contents[0].get("value", "") or ""
    body = body or entry.get("summary", "") or entry.get("description", "") or ""
    text = cap(strip_markup(body), MAX_TEXT)
    if not title and not text:
        return None
    link = safe_url(entry.get("link"))
    guid = str(entry.get("id", "") or "")[:500]
    author = cap(one_line(strip_markup(entry.get("author", "") or "")), MAX_AUTHOR)
    return Mention(
        id=mention_id(guid, link, title or text[:200], source),
        source=source,
        url=link,
        title=title,
        text=text,
        author=author,
        published=_time(entry, now),
        fetched_at=now,
        metrics=_metrics(entry),
    )


def parse_feed(
    content: bytes, source: str, now: datetime, headers: dict[str, str] | None = None
) -> list[Mention]:
    """Bytes of an RSS/Atom document -> mentions. Raises SourceError if it is not a feed."""
    parsed = feedparser.parse(content, response_headers=headers or {"content-location": ""})
    if parsed.bozo and not parsed.entries:
        reason = getattr(parsed.get("bozo_exception"), "getMessage", None)
        detail = (
            reason() if callable(reason) else str(parsed.get("bozo_exception", "unknown error"))
        )
        raise SourceError(f"not a readable feed: {cap(one_line(detail), 200)}")
    if not parsed.entries and not parsed.get("feed"):
        raise SourceError("not a readable feed: no channel and no entries")
    mentions = []
    for entry in parsed.entries[:MAX_ENTRIES]:
        m = entry_to_mention(entry, source, now)
        if m is not None:
            mentions.append(m)
    return mentions


class FeedSource:
    """Polls one or more URLs (a search per keyword, say) with conditional GET for each,
    and turns each answer into mentions with `parse` (RSS/Atom unless told otherwise)."""

    def __init__(
        self,
        name: str,
        every: timedelta,
        urls: list[str],
        ctx: SourceContext,
        kind: str = "rss",
        parse: Parser | None = None,
    ) -> None:
        self.name = name
        self.every = every
        self.urls = urls
        self.kind = kind
        self.fetcher = ctx.fetcher
        self.clock = ctx.clock
        self.parse: Parser = parse or parse_feed

    def hint(self, err: Exception) -> str:
        return hint(self.kind, str(err), getattr(err, "status", None))

    def poll(self, state: dict[str, Any]) -> PollResult:
        now = self.clock.now()
        known: dict[str, dict[str, str]] = dict(state.get("by_url") or {})
        mentions: list[Mention] = []
        new_state: dict[str, dict[str, str]] = {}
        changed = False
        for url in self.urls:
            cached = known.get(url) or {}
            result = self.fetcher.get(
                url, etag=cached.get("etag"), last_modified=cached.get("last_modified")
            )
            if result.not_modified:
                new_state[url] = cached
                continue
            changed = True
            mentions += self.parse(result.content, self.name, now, result.headers)
            fresh = {"etag": result.etag, "last_modified": result.last_modified}
            new_state[url] = {k: v for k, v in fresh.items() if v}
        return PollResult(mentions, state={"by_url": new_state}, not_modified=not changed)


class FileSource:
    """A local RSS/Atom file (the bundled examples, or a feed another tool writes)."""

    kind = "rss"

    def __init__(self, cfg: RssSourceConfig, ctx: SourceContext) -> None:
        assert cfg.path is not None
        self.name = cfg.name
        self.every: timedelta = cfg.every
        self.path = Path(cfg.path)
        self.max_bytes = ctx.config.fetch.max_bytes
        self.clock = ctx.clock

    def poll(self, state: dict[str, Any]) -> PollResult:
        now = self.clock.now()
        try:
            size = self.path.stat().st_size
            if size > self.max_bytes:
                raise SourceError(
                    f"{self.path} is {size:,} bytes, over the {self.max_bytes:,}-byte cap"
                )
            content = self.path.read_bytes()
        except OSError as err:
            raise SourceError(f"cannot read {self.path}: {err.strerror}") from None
        return PollResult(parse_feed(content, self.name, now), state=dict(state))


@register("rss")
def build_rss(cfg: RssSourceConfig, ctx: SourceContext) -> FeedSource | FileSource:
    if cfg.path is not None:
        return FileSource(cfg, ctx)
    assert cfg.url is not None
    return FeedSource(cfg.name, cfg.every, [cfg.url], ctx)
