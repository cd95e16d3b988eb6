"""A feed with an absurd number of tags (findings item 3: a 4.9 MB item of <a> x700,000 then
</a> x700,000 held a poll for 25-47 s and 360-430 MB) is refused before feedparser sees it,
named for the source; the other sources go on. Real feeds are not touched by the limit."""

from __future__ import annotations

import io
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from app.buzzwatch import Buzzwatch
from core.commands.context import Actor
from sources.base import SourceError
from sources.rss import MAX_TAGS, check_markup, parse_feed
from tests.conftest import ROOT, make_config
from tests.standin.feeds import rss

NOW = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)
HEAD = b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><item><title>Acme'
TAIL = b"</description></item></channel></rss>"


def nested(pairs: int, escaped: bool = False) -> bytes:
    opening, closing = (b"&lt;a&gt;", b"&lt;/a&gt;") if escaped else (b"<a>", b"</a>")
    return HEAD + b"</title><description>" + opening * pairs + closing * pairs + TAIL


def test_the_hostile_item_is_refused_at_once_naming_the_limit() -> None:
    content = nested(700_000)
    assert len(content) > 4_900_000
    started = time.monotonic()
    with pytest.raises(SourceError, match=f"over the {MAX_TAGS:,}-tag limit"):
        parse_feed(content, "hostile", NOW)
    assert time.monotonic() - started < 10  # was 25-47 s


@pytest.mark.parametrize("escaped", [False, True], ids=["raw", "escaped"])
def test_tags_are_counted_raw_or_escaped(escaped: bool) -> None:
    with pytest.raises(SourceError, match="tags, over the"):
        check_markup(nested(MAX_TAGS // 2 + 1, escaped))
    check_markup(nested(MAX_TAGS // 2 - 10, escaped))  # just under: parsed as before


def test_real_feeds_are_under_the_limit() -> None:
    files = [
        *(ROOT / "tests/data/sources").glob("*.xml"),
        *(ROOT / "tests/data/sources").glob("*.atom"),
        *(ROOT / "examples/feeds").iterdir(),
    ]
    assert len(files) > 10
    for path in files:
        check_markup(path.read_bytes())  # no SourceError: parse_feed goes on unchanged
    # 500 entries (the most read per answer) with a long HTML body each pass too.
    body = "<p>Acme <b>bold</b> <a href='https://example.com/'>link</a></p>" * 20
    check_markup(rss([{"title": f"Acme {i}", "description": body} for i in range(500)]))


def test_the_source_is_skipped_and_the_others_go_on(tmp_path: Path, clock) -> None:
    hostile = tmp_path / "hostile.xml"
    hostile.write_bytes(nested(MAX_TAGS))
    good = tmp_path / "good.xml"
    good.write_bytes(rss([{"title": "Acme refund please", "guid": "g1"}]))
    config = make_config(
        tmp_path,
        sources=[
            {"name": "hostile", "type": "rss", "path": str(hostile)},
            {"name": "good", "type": "rss", "path": str(good)},
        ],
    )
    app = Buzzwatch(config, clock=clock, stdout=io.StringIO())
    try:
        outcomes = {o.source: o for o in app.poll_all()}
        reply = app.run_command("sources", Actor("u", "u", "console")).text
    finally:
        app.close()
    assert not outcomes["hostile"].ok
    assert f"over the {MAX_TAGS:,}-tag limit" in outcomes["hostile"].error
    assert outcomes["good"].ok
    assert "hostile" in reply and "-tag limit" in reply


def test_a_big_web_page_is_still_named_as_one() -> None:
    page = b"<!DOCTYPE html><html><body>" + b"<p>Acme</p>" * MAX_TAGS + b"</body></html>"
    with pytest.raises(SourceError, match="this is an HTML page, not a feed"):
        parse_feed(page, "page", NOW)
