"""Each preset builds the right URL and reads a recorded, real-shaped answer of its service."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from core.domain.clock import FakeClock
from sources.build import build_sources
from sources.http import Fetcher
from sources.presets import preset_urls
from tests.conftest import make_config
from tests.standin.feeds import FeedServer, Route

DATA = Path(__file__).resolve().parent.parent / "data" / "sources"

# type, extra config, expected URL(s), sample file, content type
CASES = [
    (
        "google_news",
        {},
        [
            "https://news.google.com/rss/search?q=%22Acme%22+OR+%22%E8%89%BE%E5%85%8B%E7%B1%B3%22&hl=en-US&gl=US&ceid=US%3Aen"
        ],
        "google_news.xml",
    ),
    (
        "bing_news",
        {"query": "Acme", "market": "en-US"},
        ["https://www.bing.com/news/search?q=Acme&format=rss&mkt=en-US"],
        "bing_news.xml",
    ),
    (
        "reddit_search",
        {},
        [
            "https://www.reddit.com/search.rss?q=%22Acme%22+OR+%22%E8%89%BE%E5%85%8B%E7%B1%B3%22&sort=new"
        ],
        "reddit_search.atom",
    ),
    (
        "hackernews",
        {"query": "Acme"},
        [
            "https://hn.algolia.com/api/v1/search_by_date?query=Acme&tags=%28story%2Ccomment%29&hitsPerPage=50"
        ],
        "hackernews.json",
    ),
    (
        "mastodon_hashtag",
        {"instance": "mastodon.social", "tag": "acme"},
        ["https://mastodon.social/api/v1/timelines/tag/acme?limit=40"],
        "mastodon_tag.json",
    ),
    (
        "youtube_channel",
        {"channel_id": "UCabcdefghijklmnopqrstuv"},
        ["https://www.youtube.com/feeds/videos.xml?channel_id=UCabcdefghijklmnopqrstuv"],
        "youtube_channel.xml",
    ),
    (
        "weibo_search",
        {"query": "艾克米"},
        ["RSSHUB/weibo/keyword/%E8%89%BE%E5%85%8B%E7%B1%B3"],
        "rsshub_weibo_keyword.xml",
    ),
    (
        "weibo_user",
        {"uid": "1700000009"},
        ["RSSHUB/weibo/user/1700000009"],
        "rsshub_weibo_user.xml",
    ),
    (
        "zhihu",
        {"kind": "topic", "id": "19550000"},
        ["RSSHUB/zhihu/topic/19550000"],
        "rsshub_zhihu.xml",
    ),
    (
        "bilibili_search",
        {"query": "艾克米"},
        ["RSSHUB/bilibili/vsearch/%E8%89%BE%E5%85%8B%E7%B1%B3/pubdate"],
        "rsshub_bilibili.xml",
    ),
    (
        "xiaohongshu_user",
        {"user_id": "5f0000000000000000000001"},
        ["RSSHUB/xiaohongshu/user/5f0000000000000000000001/notes"],
        "rsshub_xiaohongshu.xml",
    ),
    (
        "douyin_user",
        {"uid": "MS4wLjABAAAAabc"},
        ["RSSHUB/douyin/user/MS4wLjABAAAAabc"],
        "rsshub_douyin.xml",
    ),
    (
        "wechat_mp",
        {"biz": "MzA3MDM3NjE5NQ==", "hid": "16"},
        ["RSSHUB/wechat/mp/homepage/MzA3MDM3NjE5NQ%3D%3D/16"],
        "rsshub_wechat.xml",
    ),
    (
        "rsshub",
        {"route": "/weibo/user/1700000009"},
        ["RSSHUB/weibo/user/1700000009"],
        "rsshub_weibo_user.xml",
    ),
]


def _local(url: str, base: str) -> str:
    parts = urlsplit(url)
    return base + parts.path + (f"?{parts.query}" if parts.query else "")


@pytest.mark.parametrize(("kind", "extra", "expected", "sample"), CASES, ids=[c[0] for c in CASES])
def test_preset_url_and_sample(
    tmp_path: Path, clock: FakeClock, kind, extra, expected, sample
) -> None:
    with FeedServer() as server:
        rsshub = f"{server.base}/hub"
        config = make_config(
            tmp_path, sources=[{"name": "s", "type": kind, **extra}], rsshub={"base_url": rsshub}
        )
        urls = preset_urls(config.sources[0], config)
        assert urls == [u.replace("RSSHUB", rsshub) for u in expected]

        fetcher = Fetcher(config.fetch)
        (source,) = build_sources(config, fetcher, clock)
        # Serve the recorded answer at the same path and query, from 127.0.0.1.
        source.urls = [_local(u, server.base) for u in source.urls]
        body = (DATA / sample).read_bytes()
        for u in source.urls:
            server.routes[u.removeprefix(server.base)] = Route(body, etag='"s1"')
        result = source.poll({})
        fetcher.close()

    assert result.mentions, "the sample yields mentions"
    for m in result.mentions:
        assert m.source == "s" and m.id.startswith("m")
        assert m.title or m.text
        assert not m.url or m.url.startswith(("http://", "https://"))
        assert "<" not in m.title and "<script" not in m.text
    state = result.state["by_url"][source.urls[0]]
    assert state["etag"] == '"s1"'


def test_query_defaults_to_the_brand_keywords(tmp_path: Path) -> None:
    config = make_config(
        tmp_path,
        sources=[
            {"name": "hn", "type": "hackernews"},
            {"name": "wb", "type": "weibo_search", "brand": "Acme"},
            {"name": "gn", "type": "google_news", "lang": "zh-CN", "country": "CN"},
        ],
    )
    hn, wb, gn = (preset_urls(s, config) for s in config.sources)
    # One request per keyword where the service has no OR ...
    assert [parse_qs(urlsplit(u).query)["query"] for u in hn] == [["Acme"], ["艾克米"]]
    assert wb == [
        "https://rsshub.app/weibo/keyword/Acme",
        "https://rsshub.app/weibo/keyword/%E8%89%BE%E5%85%8B%E7%B1%B3",
    ]
    # ... one OR query where it has.
    q = parse_qs(urlsplit(gn[0]).query)
    assert q["q"] == ['"Acme" OR "艾克米"'] and q["ceid"] == ["CN:zh-Hans"]


def test_engagement_lands_in_metrics(tmp_path: Path, clock: FakeClock) -> None:
    from sources.hackernews import parse_hits
    from sources.mastodon import parse_statuses
    from sources.rss import parse_feed

    now = clock.now()
    story, comment = parse_hits((DATA / "hackernews.json").read_bytes(), "hn", now)
    assert story.metrics == {"points": 180, "comments": 42}
    assert story.url == "https://news.ycombinator.com/item?id=42200001"
    assert comment.title.startswith("Comment on: Acme") and "courier was rude" in comment.text

    jane, bob = parse_statuses((DATA / "mastodon_tag.json").read_bytes(), "m", now)
    assert jane.metrics == {"comments": 3, "reposts": 12, "likes": 40, "followers": 250000}
    assert jane.author == "jane" and "Is #Acme open on Sundays?" in jane.text
    assert bob.url == "" and "alert(1)" not in bob.text  # javascript: link and <script> dropped

    (video,) = parse_feed((DATA / "youtube_channel.xml").read_bytes(), "yt", now)
    assert video.metrics == {"views": 48210, "likes": 1520}


def test_followers_from_a_source_make_a_kol(tmp_path: Path, clock: FakeClock) -> None:
    from rules.analyze import Analyzer
    from sources.mastodon import parse_statuses

    config = make_config(tmp_path)
    jane, bob = parse_statuses((DATA / "mastodon_tag.json").read_bytes(), "m", clock.now())
    analyzer = Analyzer(config)
    assert "kol" in analyzer.analyze(jane).flags and jane.reach == 250000
    assert "kol" not in analyzer.analyze(bob).flags
