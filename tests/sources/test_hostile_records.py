"""Hostile values in one entry of a feed or an API answer: an impossible date, a link with
control characters, a count too long for int(). The entry loses that value (or is skipped);
the feed keeps its other entries, and nothing crashes later when it is shown."""

from __future__ import annotations

import io
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from app.cli import main
from core.domain.models import plausible_time
from core.intake.records import safe_url
from sources.base import SourceContext
from sources.hackernews import parse_hits
from sources.http import FetchError
from sources.mastodon import parse_statuses
from sources.rss import FeedSource, parse_feed
from tests.conftest import BASE_CONFIG, make_config
from tests.standin.feeds import FeedServer, Route, rss

NOW = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "value",
    [
        "0001-01-01T00:00:00+01:00",  # to UTC is year 0: OverflowError
        "0001-01-01T00:00:00+23:59",
        "9999-12-31T23:59:59-23:59",
        "1989-12-31T23:59:59Z",  # before 1990: a placeholder, not a date
        "2026-11-29T08:00:01Z",  # more than a day ahead
        "yesterday",
        "",
        10**20,  # Unix seconds beyond datetime
        -(10**20),
        float("nan"),
        float("inf"),
        True,
        (1, 1, 1, 0, 0, 0, 0, 1, 0),  # feedparser's tuple for 0001-01-01
        time.struct_time((1, 1, 1, 0, 0, 0, 0, 1, 0)),
        datetime(1, 1, 1),
        datetime.max,
        None,
        ["2026-11-28"],
    ],
)
def test_implausible_or_unreadable_times_are_unknown(value: object) -> None:
    assert plausible_time(value, NOW) is None


def test_plausible_times_are_kept_in_utc() -> None:
    assert plausible_time("2026-11-28T15:00:00+08:00", NOW) == datetime(2026, 11, 28, 7, tzinfo=UTC)
    assert plausible_time("2026-11-28T07:00:00Z", NOW) == datetime(2026, 11, 28, 7, tzinfo=UTC)
    assert plausible_time(datetime(2026, 11, 28, 7), NOW) == datetime(2026, 11, 28, 7, tzinfo=UTC)
    assert plausible_time(1_700_000_000, NOW) == datetime.fromtimestamp(1_700_000_000, UTC)
    assert plausible_time(time.gmtime(1_700_000_000), NOW) == datetime.fromtimestamp(
        1_700_000_000, UTC
    )
    # A few hours ahead is clock skew: it becomes the fetch time.
    assert plausible_time(NOW + timedelta(hours=5), NOW) == NOW


@pytest.mark.parametrize(
    "url",
    [
        "https://a.example/\x1b[31mred",  # ESC: drives a terminal
        "https://a.example/\x07",
        "https://a.example/\x7f",
        "https://a.example/\x85",  # C1 control
        "https://a.example/\u202eevil",  # bidi override
        "https://a.example/\u200bx",  # zero-width space
        "https://a.example/\u00adx",  # soft hyphen (a format character)
        "https://a.example/\u3000x",  # ideographic space
        "https://a.example/a b",
        "javascript:alert(1)",
        123,
        ["https://a.example/"],
        {"href": "https://a.example/"},
        None,
    ],
)
def test_safe_url_refuses_controls_invisibles_and_non_strings(url: object) -> None:
    assert safe_url(url) == ""


def test_safe_url_keeps_ordinary_and_non_ascii_links() -> None:
    assert safe_url(" https://a.example/x?q=1 ") == "https://a.example/x?q=1"
    assert safe_url("https://例子.测试/路径?q=艾克米") == "https://例子.测试/路径?q=艾克米"


def _feed(*items: str) -> bytes:
    return (
        '<?xml version="1.0"?><rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/">'
        "<channel><title>t</title>"
        + "".join(f"<item>{i}</item>" for i in items)
        + "</channel></rss>"
    ).encode("utf-8")


def test_rss_hostile_values_cost_only_themselves() -> None:
    feed = _feed(
        "<title>Acme one</title><link>https://a.example/&#27;[2Jx</link>"
        "<pubDate>Mon, 01 Jan 0001 00:00:00 GMT</pubDate>",
        "<title>Acme two</title><link>https://a.example/2</link>"
        "<pubDate>Sat, 28 Nov 2026 07:00:00 GMT</pubDate>"
        '<media:group><media:community><media:statistics views="'
        + "9" * 5000
        + '"/><media:starRating count="\u00b3"/></media:community></media:group>',
        "<title>Acme three</title><link>https://a.example/3</link>"
        "<pubDate>Fri, 31 Dec 9999 23:59:59 -2359</pubDate>"
        '<media:statistics views="1234"/>',
    )
    one, two, three = parse_feed(feed, "s", NOW)
    assert (one.title, one.url, one.published) == ("Acme one", "", None)
    assert two.published == datetime(2026, 11, 28, 7, tzinfo=UTC)
    assert "views" not in two.metrics and "likes" not in two.metrics
    assert (three.published, three.metrics) == (None, {"views": 1234})
    assert one.when == NOW  # an unknown time reads as the fetch time


def test_rss_one_entry_that_raises_does_not_lose_the_feed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import sources.rss as rss_module

    real = rss_module.entry_to_mention

    def picky(entry, source, now):  # type: ignore[no-untyped-def]
        if entry.get("title") == "bad":
            raise RecursionError("maximum recursion depth exceeded")
        return real(entry, source, now)

    monkeypatch.setattr(rss_module, "entry_to_mention", picky)
    found = parse_feed(
        _feed("<title>Acme a</title>", "<title>bad</title>", "<title>Acme b</title>"), "s", NOW
    )
    assert [m.title for m in found] == ["Acme a", "Acme b"]


def test_hackernews_hostile_hits() -> None:
    hits = [
        {"objectID": "1", "title": "Acme far future", "created_at_i": 10**20, "url": ["x"]},
        {"objectID": "2", "title": "Acme year one", "created_at_i": -62135596800},
        {"objectID": "\u00b9", "title": "Acme superscript id"},
        {"objectID": "9" * 5000, "title": "Acme long id"},
        {"objectID": "3", "story_text": "Acme ok", "created_at_i": 1_764_316_800, "url": 5},
    ]
    found = parse_hits(json.dumps({"hits": hits}).encode(), "hn", NOW)
    assert [m.title or m.text for m in found] == ["Acme far future", "Acme year one", "Acme ok"]
    assert [m.published for m in found] == [None, None, datetime(2025, 11, 28, 8, tzinfo=UTC)]


def test_hackernews_and_mastodon_deep_json_is_a_source_error() -> None:
    from sources.base import SourceError

    deep = b"[" * 100_000 + b"]" * 100_000
    with pytest.raises(SourceError):
        parse_hits(deep, "hn", NOW)
    with pytest.raises(SourceError):
        parse_statuses(deep, "m", NOW)


def test_mastodon_hostile_statuses() -> None:
    statuses = [
        {"id": "1", "content": "<p>Acme a</p>", "created_at": "0001-01-01T00:00:00+01:00"},
        {"id": "2", "content": "<p>Acme b</p>", "created_at": 10**20, "url": ["https://x"]},
        {
            "id": "3",
            "content": "<p>Acme c</p>",
            "created_at": "2026-11-28T07:00:00.000Z",
            "url": "https://m.example/@a/3\u202e",
        },
        {"id": "4", "content": "<p>Acme d</p>", "url": "https://m.example/@a/4"},
    ]
    found = parse_statuses(json.dumps(statuses).encode(), "m", NOW)
    assert [m.text for m in found] == ["Acme a", "Acme b", "Acme c", "Acme d"]
    assert [m.published for m in found] == [None, None, datetime(2026, 11, 28, 7, tzinfo=UTC), None]
    assert [m.url for m in found] == ["", "", "", "https://m.example/@a/4"]


def test_redirect_to_an_invalid_url_is_a_fetch_error(tmp_path: Path, clock) -> None:
    from sources.http import Fetcher

    config = make_config(tmp_path)
    with FeedServer() as hub:
        hub.routes["/feed"] = Route(status=302, headers={"Location": "http:127.0.0.1:1/t"})
        fetcher = Fetcher(config.fetch)
        ctx = SourceContext(config=config, fetcher=fetcher, clock=clock)
        source = FeedSource("s", timedelta(minutes=5), [f"{hub.base}/feed"], ctx)
        try:
            with pytest.raises(FetchError):
                source.poll({})
        finally:
            fetcher.close()


def test_year_one_feed_polls_and_shows_west_of_utc(tmp_path: Path) -> None:
    """The reported crash: a 0001-01-01 pubDate stored as-is broke the alert and the
    mentions listing in a time zone west of UTC (OverflowError), and an ESC in a link
    reached the terminal."""
    feed = tmp_path / "feed.xml"
    feed.write_bytes(
        rss(
            [
                {
                    "title": "Acme food poisoning, I want a refund",
                    "link": "https://a.example/&#27;]0;pwned&#7;",
                    "pubDate": "Mon, 01 Jan 0001 00:00:00 GMT",
                },
                {
                    "title": "Acme burgers are cold and expensive",
                    "link": "https://a.example/2",
                    "pubDate": "Mon, 01 Jan 9999 00:00:00 -2359",
                },
            ]
        )
    )
    data = dict(
        BASE_CONFIG,
        timezone="America/Los_Angeles",
        data_dir=str(tmp_path / "data"),
        sources=[{"name": "f", "type": "rss", "path": str(feed), "every": "5m"}],
    )
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    out = io.StringIO()
    assert main(["--config", str(config), "-q", "--once"], out) == 0
    assert "food poisoning" in out.getvalue()
    listing = io.StringIO()
    assert main(["--config", str(config), "-q", "mentions", "Acme", "since:30d"], listing) == 0
    text = out.getvalue() + listing.getvalue()
    assert "2 mention(s)" in listing.getvalue()
    assert "\x1b" not in text and "\x07" not in text


def test_linkless_reposts_titled_alike_are_different_mentions() -> None:
    feed = _feed(
        "<title>转发微博</title><description>艾克米外卖又迟到了一个小时</description>",
        "<title>转发微博</title><description>艾克米的汉堡吃完食物中毒了</description>",
        "<title>Acme news</title><description>one</description>",
    )
    first, second, news = parse_feed(feed, "s", NOW)
    assert first.id != second.id  # a shared placeholder title would make the second "seen"
    again = parse_feed(feed, "s", NOW)
    assert [m.id for m in again] == [first.id, second.id, news.id]  # still stable
