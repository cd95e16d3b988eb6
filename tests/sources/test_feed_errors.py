"""What a source says about what it read: a valid feed with no entries is fine, a web page
is named as one, a broken document says what is wrong with it."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from app.buzzwatch import Buzzwatch
from core.commands.context import Actor
from tests.conftest import make_config
from tests.standin.feeds import FeedServer, Route

EMPTY_RSS = (
    b'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Acme news'
    b"</title><link>http://127.0.0.1/</link><description>d</description></channel></rss>"
)
EMPTY_ATOM = (
    '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
    "<title>Café Acmé</title><id>urn:x</id><updated>2026-01-01T00:00:00Z</updated></feed>"
).encode()
PAGE = "<!DOCTYPE html><html><head><title>Acmé</title></head><body><p>Hellö</p></body></html>"
BARE_PAGE = b"\n<!-- served by nginx -->\n<html><body>Please log in</body></html>"
TRUNCATED = b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><ite'


def _sources_reply(app: Buzzwatch) -> str:
    return app.run_command("sources", Actor("u", "u", "console")).text


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (EMPTY_RSS, None),
        (PAGE.encode(), "this is an HTML page, not a feed"),
        (BARE_PAGE, "this is an HTML page, not a feed"),
        (TRUNCATED, "not a readable feed: unclosed token"),
        (b"hello world", "not a readable feed: syntax error"),
    ],
    ids=["empty-rss", "page", "bare-page", "truncated", "text"],
)
def test_a_local_file(tmp_path: Path, clock, body: bytes, error: str | None) -> None:
    path = tmp_path / "feed.xml"
    path.write_bytes(body)
    config = make_config(tmp_path, sources=[{"name": "local", "type": "rss", "path": str(path)}])
    app = Buzzwatch(config, clock=clock, stdout=io.StringIO())
    try:
        (outcome,) = app.poll_all()
        reply = _sources_reply(app)
        if error is None:
            assert outcome.ok, outcome.error
            assert "✓ local [rss] ok" in reply and "0 item(s) last poll" in reply
        else:
            assert not outcome.ok and outcome.error == error
            # 08:00 UTC is 16:00 in the config's Asia/Shanghai.
            assert f"failing since 11-28 16:00 CST (1 in a row): {error}" in reply
    finally:
        app.close()


@pytest.mark.parametrize(
    ("route", "error"),
    [
        # A charset that cannot be right (not ASCII) is overridden: still an empty feed.
        (Route(EMPTY_ATOM, content_type="text/xml; charset=us-ascii"), None),
        (Route(EMPTY_RSS, content_type="text/html"), None),  # a feed served as a page
        (Route(PAGE.encode(), content_type="text/html; charset=us-ascii"), "HTML page"),
        # A page served as a feed used to pass as "ok, 0 items".
        (Route(PAGE.encode(), content_type="application/rss+xml"), "HTML page"),
        (Route(b"<html><body>x</body></html>", content_type="application/rss+xml"), "HTML page"),
    ],
    ids=["empty-atom-us-ascii", "empty-rss-as-html", "page", "page-as-rss", "bare-page-as-rss"],
)
def test_a_fetched_answer(tmp_path: Path, clock, route: Route, error: str | None) -> None:
    with FeedServer() as server:
        server.routes["/f"] = route
        config = make_config(
            tmp_path, sources=[{"name": "site", "type": "rss", "url": server.base + "/f"}]
        )
        app = Buzzwatch(config, clock=clock, stdout=io.StringIO())
        try:
            (outcome,) = app.poll_all()
            if error is None:
                assert outcome.ok, outcome.error
            else:
                assert not outcome.ok
                assert outcome.error == "this is an HTML page, not a feed"
                assert "use the site's RSS/Atom link instead" in _sources_reply(app)
        finally:
            app.close()
