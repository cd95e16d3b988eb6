"""The whole pipeline against feeds served from 127.0.0.1: good, 304, malformed, slow, huge."""

from __future__ import annotations

import io
import logging
from pathlib import Path

import pytest

from app.buzzwatch import Buzzwatch
from tests.conftest import make_config
from tests.standin.feeds import FeedServer, Route, rss

ITEMS = [
    {
        "title": "昨晚在艾克米吃完就拉肚子了，怀疑食物中毒",
        "description": "吃完艾克米回家就拉肚子，怀疑食物中毒，太恶心了，再也不去了",
        "link": "https://weibo.com/1/a",
        "guid": "https://weibo.com/1/a",
        "author": "吃货小李",
    },
    {
        "title": "请问艾克米的会员积分怎么兑换？",
        "description": "请问艾克米的会员积分怎么兑换？找不到入口",
        "link": "https://weibo.com/2/b",
        "guid": "https://weibo.com/2/b",
        "author": "小鹿",
    },
    {
        "title": "艾克米新品试吃",
        "description": "受邀试吃艾克米新品汉堡，牛肉很嫩",
        "link": "https://weibo.com/3/c",
        "guid": "https://weibo.com/3/c",
        "author": "美食家小王",
    },
    {
        "title": "Acmeville town fair",
        "description": "The Acmeville fair is on Saturday",
        "link": "https://example.com/fair",
        "guid": "https://example.com/fair",
    },
    {
        "title": "Acme Corp stock rises",
        "description": "Acme Corp stock rose 3% today",
        "link": "javascript:alert(1)",
        "guid": "stock-1",
    },
]


@pytest.fixture
def server():
    with FeedServer() as s:
        s.routes["/good.xml"] = Route(rss(ITEMS[:2]))
        s.routes["/etag.xml"] = Route(rss(ITEMS[2:]), etag='"v1"', gzip=True)
        s.routes["/broken.xml"] = Route(
            b"<html><body>Rate limited, try later</body></html>", content_type="text/html"
        )
        s.routes["/slow.xml"] = Route(rss(ITEMS) * 20, trickle=0.3)
        s.routes["/huge.xml"] = Route(b"<rss>" + b"x" * 300_000 + b"</rss>", gzip=True)
        s.routes["/missing.xml"] = Route(b"gone", status=404)
        yield s


def app_for(tmp_path: Path, server: FeedServer, clock, stdout=None, dry_run=False) -> Buzzwatch:
    sources = [
        {"name": name, "type": "rss", "url": f"{server.base}/{name}.xml", "every": "1m"}
        for name in ("good", "etag", "broken", "slow", "huge", "missing")
    ]
    config = make_config(
        tmp_path,
        sources=sources,
        fetch={"deadline": "2s", "read_timeout": "2s", "max_bytes": 100_000},
    )
    return Buzzwatch(config, clock=clock, stdout=stdout or io.StringIO(), dry_run=dry_run)


def test_pipeline_end_to_end(
    tmp_path: Path, server: FeedServer, clock, caplog: pytest.LogCaptureFixture
) -> None:
    out = io.StringIO()
    app = app_for(tmp_path, server, clock, out)
    with caplog.at_level(logging.WARNING):
        outcomes = {o.source: o for o in app.poll_all()}
    assert outcomes["good"].ok and outcomes["etag"].ok
    for name, reason in [
        ("broken", "this is an HTML page, not a feed"),
        ("slow", "deadline"),
        ("huge", "cap"),
        ("missing", "HTTP 404"),
    ]:
        assert not outcomes[name].ok
        assert reason in outcomes[name].error
        assert f"source={name} failed" in caplog.text

    report = app.deliverer.deliver_due()
    alerts = app.repo.find_alerts(lambda a: True)
    by_title = {a.summary["title"]: a for a in alerts}
    assert set(by_title) == {ITEMS[0]["title"], ITEMS[1]["title"], ITEMS[2]["title"]}
    assert {"negative", "critical"} <= set(by_title[ITEMS[0]["title"]].flags)
    assert by_title[ITEMS[0]["title"]].severity == "critical"
    assert "question" in by_title[ITEMS[1]["title"]].flags
    assert "kol" in by_title[ITEMS[2]["title"]].flags
    assert report.sent == 3
    printed = out.getvalue()
    assert "Acmeville" not in printed and "Corp stock" not in printed

    # Mentions of the brand are stored; the noise is not, but it is remembered as seen.
    stored = {d["title"] for d in app.repo.iter_mentions(None)}
    assert stored == {ITEMS[0]["title"], ITEMS[1]["title"], ITEMS[2]["title"]}
    app.close()

    # A second run (a restart) alerts nothing again, and the ETag feed costs a 304.
    server.recorded.clear()
    app2 = app_for(tmp_path, server, clock, out)
    outcomes2 = {o.source: o for o in app2.poll_all()}
    assert outcomes2["etag"].not_modified
    etag_requests = server.assert_called("/etag.xml", times=1)
    assert etag_requests[0].headers.get("If-None-Match") == '"v1"'
    assert sum(len(o.result.alerts) for o in outcomes2.values() if o.result) == 0
    assert app2.deliverer.deliver_due().sent == 0
    assert len(app2.repo.find_alerts(lambda a: True)) == 3
    app2.close()


def test_dry_run_changes_nothing_stored(tmp_path: Path, server: FeedServer, clock) -> None:
    out = io.StringIO()
    app = app_for(tmp_path, server, clock, out, dry_run=True)
    app.poll_all()
    app.deliverer.deliver_due()
    app.close()
    lines = [line for line in out.getvalue().splitlines() if line.startswith("{")]
    assert len(lines) == 3
    assert all('"platform": "console"' in line for line in lines)
    assert not (tmp_path / "data").exists()
