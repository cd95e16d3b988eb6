"""What every way in (feeds, JSON APIs, pushes, imports) makes of a third-party record's
fields: lengths capped, links kept only when safe, and a mention id stable across polls.
"""

from __future__ import annotations

import hashlib
import unicodedata
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from rules.text import one_line, strip_invisible
from rules.titles import says_nothing

MAX_TITLE = 300
MAX_TEXT = 4000
MAX_AUTHOR = 100
MAX_URL = 2000
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
