"""What every source does with the records of an answer (feed entries, API hits, posted
mentions): cap them, check their links, give each a stable id, and keep the newest."""

from __future__ import annotations

import hashlib
import logging
import unicodedata
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from core.domain.models import Mention
from rules.text import cap, one_line, strip_invisible
from rules.titles import says_nothing

# content, source name, fetch time, response headers -> mentions
Parser = Callable[[bytes, str, datetime, "dict[str, str] | None"], list[Mention]]

log = logging.getLogger("buzzwatch.sources")

MAX_TITLE = 300
MAX_TEXT = 4000
MAX_AUTHOR = 100
MAX_URL = 2000
MAX_ENTRIES = 500
# Controls, format characters (zero-width, bidi, soft hyphen, tags), separators (no-break
# and ideographic spaces, line/paragraph separators), surrogates: none belongs in a link.
_HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zs", "Zl", "Zp"})
_TRACKING = ("utm_", "spm", "from", "share_", "fbclid", "gclid")


def safe_url(url: object) -> str:
    """The URL if it is an http(s) string and sane, else ''. Never javascript:, data:, file:
    ..., nor one carrying spaces, control characters (an ESC would drive the terminal of
    whoever lists mentions) or invisible/format characters that make it read as another."""
    if not isinstance(url, str) or not url or len(url) > MAX_URL:
        return ""
    url = url.strip(" \t\r\n")
    if (
        any(c <= " " or c == "\x7f" or c in "<>\"'`" for c in url)
        or strip_invisible(url) != url
        or any(unicodedata.category(c) in _HIDDEN_CATEGORIES for c in url)
    ):
        return ""
    try:
        parts = urlsplit(url)
    except ValueError:
        return ""
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
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


def mention_id(guid: str, link: str, title: str, source: str, text: str = "") -> str:
    """Stable across polls and restarts. A URI-like GUID or a canonical link identifies the
    story wherever it is syndicated; a bare GUID like '123' only means something in its feed.
    With neither, the title does, unless it says nothing (every comment-less repost is
    titled 转发微博, and all but the first would be skipped as seen): then the text."""
    if guid and (":" in guid or "/" in guid):
        basis = f"guid|{guid.strip()}"
    elif link:
        basis = f"link|{canonical_url(link)}|{one_line(title)}"
    elif guid:
        basis = f"local|{source}|{guid.strip()}"
    else:
        words = text[:200] if text and says_nothing(title) else title
        basis = f"title|{source}|{one_line(words)}"
    return "m" + hashlib.sha256(basis.encode("utf-8")).hexdigest()[:20]


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
