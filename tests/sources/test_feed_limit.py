"""A feed with more entries than are read per answer: the newest are kept whatever the
feed's order, and what was cut is logged and shown in the source's health."""

from __future__ import annotations

import io
import logging
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest

from app.buzzwatch import Buzzwatch
from core.commands.context import Actor
from sources.records import MAX_ENTRIES
from sources.rss import parse_feed
from tests.conftest import make_config
from tests.standin.feeds import FeedServer, Route, rss

NOW = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)
EXTRA = 100


def _oldest_first(n: int) -> bytes:
    """n Acme entries, one a minute, the oldest first (as some archives list them)."""
    items = [
        {
            "title": f"Acme story {i}",
            "guid": f"g{i}",
            "pubDate": format_datetime(NOW - timedelta(minutes=n - i)),
        }
        for i in range(n)
    ]
    return rss(items)


def test_the_newest_entries_are_kept_and_the_cut_is_counted() -> None:
    mentions = parse_feed(_oldest_first(MAX_ENTRIES + EXTRA), "big", NOW)
    assert len(mentions) == MAX_ENTRIES and mentions.cut == EXTRA
    titles = {m.title for m in mentions}
    assert f"Acme story {MAX_ENTRIES + EXTRA - 1}" in titles  # the newest is read
    assert "Acme story 0" not in titles and f"Acme story {EXTRA - 1}" not in titles
    assert [m.title for m in mentions][:2] == [f"Acme story {EXTRA}", f"Acme story {EXTRA + 1}"]


def test_an_undated_feed_keeps_its_first_entries() -> None:
    feed = rss([{"title": f"story {i}", "guid": f"g{i}"} for i in range(MAX_ENTRIES + 3)])
    mentions = parse_feed(feed, "big", NOW)
    assert [m.title for m in mentions] == [f"story {i}" for i in range(MAX_ENTRIES)]
    assert mentions.cut == 3


def test_a_feed_within_the_limit_cuts_nothing() -> None:
    assert parse_feed(_oldest_first(10), "small", NOW).cut == 0


def test_the_cut_is_logged_and_shown_by_the_sources_command(
    tmp_path: Path, clock, caplog: pytest.LogCaptureFixture
) -> None:
    with FeedServer() as server:
        server.routes["/big.xml"] = Route(_oldest_first(MAX_ENTRIES + EXTRA), etag='"v1"')
        config = make_config(
            tmp_path, sources=[{"name": "big", "type": "rss", "url": server.base + "/big.xml"}]
        )
        app = Buzzwatch(config, clock=clock, stdout=io.StringIO())
        try:
            with caplog.at_level(logging.WARNING, logger="buzzwatch.sources"):
                (outcome,) = app.poll_all()
            assert outcome.ok and outcome.result is not None
            assert outcome.result.fetched == MAX_ENTRIES
            (record,) = [r for r in caplog.records if "cut" in r.getMessage()]
            said = record.getMessage()
            assert f"answer has {MAX_ENTRIES + EXTRA} entries" in said
            assert f"the newest {MAX_ENTRIES} kept, {EXTRA} older cut" in said
            # The first 100 minutes of the feed's 600 were cut.
            first = NOW - timedelta(minutes=MAX_ENTRIES + EXTRA)
            assert f"published {first:%Y-%m-%d %H:%M} to" in said
            reply = app.run_command("sources", Actor("u", "u", "console")).text
            assert f"{MAX_ENTRIES} item(s) last poll" in reply
            assert f"{EXTRA} older entries cut, over the per-answer limit" in reply
            # The next poll is a 304: nothing read, what the last reading cut still stands.
            clock.advance(timedelta(minutes=5))
            (again,) = app.poll_all()
            assert again.ok and again.not_modified
            reply = app.run_command("sources", Actor("u", "u", "console")).text
            assert f"{EXTRA} older entries cut, over the per-answer limit" in reply
            # The feed shrinks under the limit: nothing is cut any more.
            server.routes["/big.xml"] = Route(_oldest_first(10))
            clock.advance(timedelta(minutes=5))
            app.poll_all()
            reply = app.run_command("sources", Actor("u", "u", "console")).text
            assert "cut" not in reply
        finally:
            app.close()
