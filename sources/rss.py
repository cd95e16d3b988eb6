"""RSS and Atom feeds, from a URL or a local file.

feedparser only ever sees bytes we fetched ourselves; every field that comes out of it
is untrusted: links are kept only when they are http(s), markup is stripped, lengths capped.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import feedparser
from pydantic import model_validator

from core.config import SourceSection, source_section
from core.domain.models import Mention, plausible_time
from core.intake.records import MAX_AUTHOR, MAX_TEXT, MAX_TITLE, mention_id, safe_url
from rules.text import cap, one_line, strip_markup
from sources.base import PollResult, SourceContext, SourceError, register
from sources.hints import hint
from sources.parsing import pooled
from sources.records import Mentions, Parser, count, records_to_mentions

log = logging.getLogger("buzzwatch.sources")

# Numeric fields feeds carry (slash:comments, media:statistics, RSSHub extras) -> our metric names.
_METRIC_FIELDS = {
    "slash_comments": "comments",
    "comments_count": "comments",
    "likes": "likes",
    "followers": "followers",
    "reposts": "reposts",
    "points": "points",
}


def _time(entry: Any, now: datetime) -> datetime | None:
    return plausible_time(entry.get("published_parsed") or entry.get("updated_parsed"), now)


def _metrics(entry: Any) -> dict[str, int]:
    metrics: dict[str, int] = {}
    for key, name in _METRIC_FIELDS.items():
        n = count(entry.get(key))
        if n is not None:
            metrics[name] = max(metrics.get(name, 0), n)
    stats = entry.get("media_statistics")
    if isinstance(stats, dict) and (n := count(stats.get("views"))) is not None:
        metrics["views"] = n
    rating = entry.get("media_starrating")  # YouTube: the number of likes
    if isinstance(rating, dict) and (n := count(rating.get("count"))) is not None:
        metrics["likes"] = max(metrics.get("likes", 0), n)
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
        id=mention_id(guid, link, title or text[:200], source, text),
        source=source,
        url=link,
        title=title,
        text=text,
        author=author,
        published=_time(entry, now),
        fetched_at=now,
        metrics=_metrics(entry),
    )


# feedparser's complaints that leave a document readable: a Content-Type that is not an
# XML type (or none, as for a local file), a charset it had to override.
_HARMLESS = (feedparser.NonXMLContentType, feedparser.CharacterEncodingOverride)
_HTML_START = re.compile(rb"\s*(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html[\s>])", re.I | re.S)


def _is_html(content: bytes, headers: dict[str, str] | None) -> bool:
    """A web page: said so by its Content-Type, or starting like one."""
    kind = (headers or {}).get("content-type", "").split(";")[0].strip().lower()
    head = content[:2048].removeprefix(b"\xef\xbb\xbf")
    return kind in ("text/html", "application/xhtml+xml") or bool(_HTML_START.match(head))


def _problem(parsed: Any) -> str:
    err = parsed.get("bozo_exception")
    reason = getattr(err, "getMessage", None)
    detail = reason() if callable(reason) else str(err or "")
    return cap(one_line(detail), 200)


# feedparser (and strip_markup after it) spends about 20 µs on each tag, raw or escaped
# (&lt;a&gt;), however the tags nest, and cannot be interrupted: a 4.9 MB item of <a> x700,000
# then </a> x700,000 held a poll 25-47 s and 360-430 MB, and a stop request waited for it.
# Real feeds run 0.03-0.05 tags a byte (a 2 MB one: 60,000-100,000 tags; 500 entries, the
# most read per answer, of 200 tags each), so a document with more tags than this is refused
# unparsed, in well under a second; the worst one parsed costs about 2 s.
MAX_TAGS = 100_000
_TAG = re.compile(rb"<|&(?:lt|#0*60|#x0*3c)(?![0-9a-z])", re.I)


def check_markup(content: bytes) -> None:
    """Raise SourceError for a document with over MAX_TAGS tags, before it is parsed."""
    if content.count(b"<") + content.count(b"&") <= MAX_TAGS:
        return  # the usual case, in a few milliseconds: no more tags than that can be there
    tags = len(_TAG.findall(content))
    if tags > MAX_TAGS:
        raise SourceError(
            f"not parsed: {tags:,} tags, over the {MAX_TAGS:,}-tag limit for one feed "
            "(real feeds have far fewer; parsing this many would hold up the bot)"
        )


def parse_feed(
    content: bytes, source: str, now: datetime, headers: dict[str, str] | None = None
) -> Mentions:
    """Bytes of an RSS/Atom document -> mentions. Raises SourceError if it is not a feed,
    or has more tags than MAX_TAGS; a feed with no entries is fine (nothing new yet)."""
    try:
        check_markup(content)
    except SourceError:
        if _is_html(content, headers):  # a big web page: say what it is
            raise SourceError("this is an HTML page, not a feed") from None
        raise
    parsed = feedparser.parse(
        content,
        response_headers=headers or {"content-location": ""},
        # Every field is stripped to plain text here (strip_markup: no tag, attribute or
        # script survives) and links are checked (safe_url): feedparser's own HTML sanitiser
        # and its rewriting of links inside the markup were a fifth of its time, spent on
        # markup that is thrown away. The entry's own link is still made absolute.
        sanitize_html=False,
        resolve_relative_uris=False,
    )
    if parsed.entries:  # read what can be read, even from a feed that is not well-formed
        return records_to_mentions(parsed.entries, entry_to_mention, source, now)
    if not parsed.get("version"):  # feedparser found no RSS or Atom at all
        if _is_html(content, headers):
            raise SourceError("this is an HTML page, not a feed")
        harmless = isinstance(parsed.get("bozo_exception"), _HARMLESS)
        detail = _problem(parsed) if parsed.bozo and not harmless else "no RSS or Atom in it"
        raise SourceError(f"not a readable feed: {detail}")
    if parsed.bozo and not isinstance(parsed.get("bozo_exception"), _HARMLESS):
        # An RSS/Atom start, then broken before any entry (truncated, say).
        raise SourceError(f"not a readable feed: {_problem(parsed) or 'unknown error'}")
    return Mentions()


@source_section
class RssSourceConfig(SourceSection):
    """An RSS or Atom feed: at a URL, or in a local file."""

    type: Literal["rss"]
    url: str | None = None
    path: Path | None = None

    @model_validator(mode="after")
    def _url_or_path(self) -> RssSourceConfig:
        if (self.url is None) == (self.path is None):
            raise ValueError("give exactly one of 'url' or 'path'")
        if self.url is not None and not self.url.lower().startswith(("http://", "https://")):
            raise ValueError(f"url must start with http:// or https://, got {self.url!r}")
        return self


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
        if ctx.parse_in_pool:
            self.parse = pooled(self.parse)

    def hint(self, err: Exception) -> str:
        return hint(self.kind, str(err), getattr(err, "status", None))

    def poll(self, state: dict[str, Any]) -> PollResult:
        now = self.clock.now()
        known: dict[str, dict[str, str]] = dict(state.get("by_url") or {})
        mentions: list[Mention] = []
        cut = 0
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
            parsed = self.parse(result.content, self.name, now, result.headers)
            mentions += parsed
            cut += getattr(parsed, "cut", 0)
            fresh = {"etag": result.etag, "last_modified": result.last_modified}
            new_state[url] = {k: v for k, v in fresh.items() if v}
        return PollResult(mentions, state={"by_url": new_state}, not_modified=not changed, cut=cut)


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
        mentions = parse_feed(content, self.name, now)
        return PollResult(mentions, state=dict(state), cut=mentions.cut)


@register("rss")
def build_rss(cfg: RssSourceConfig, ctx: SourceContext) -> FeedSource | FileSource:
    if cfg.path is not None:
        return FileSource(cfg, ctx)
    assert cfg.url is not None
    return FeedSource(cfg.name, cfg.every, [cfg.url], ctx)
