"""Presets: `{type: reddit_search, query: "Acme"}` instead of a URL.

Each preset turns its config section into the URLs to poll and says how to read the
answer (RSS/Atom, or a JSON parser). Search presets without a `query` search the keywords
of their `brand` (default: the first brand in the config): in one OR query where the
service understands OR (Google News, Bing News, Reddit), else one request per keyword
(Hacker News, Weibo, Bilibili), at most MAX_KEYWORD_URLS of them.
RSSHub routes are fetched from `rsshub.base_url` (https://rsshub.app unless configured).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

from core.config import (
    BilibiliSearchSourceConfig,
    BingNewsSourceConfig,
    Config,
    DouyinUserSourceConfig,
    GoogleNewsSourceConfig,
    HackerNewsSourceConfig,
    MastodonHashtagSourceConfig,
    RedditSearchSourceConfig,
    RsshubRouteSourceConfig,
    SearchPreset,
    WechatMpSourceConfig,
    WeiboSearchSourceConfig,
    WeiboUserSourceConfig,
    XiaohongshuUserSourceConfig,
    YouTubeChannelSourceConfig,
    ZhihuSourceConfig,
)
from sources.base import SourceContext, register
from sources.hackernews import parse_hits
from sources.hints import RSSHUB_KINDS
from sources.mastodon import parse_statuses
from sources.records import Parser
from sources.rss import FeedSource

MAX_KEYWORD_URLS = 5
_ZH_EDITIONS = {"zh-CN": "zh-Hans", "zh-SG": "zh-Hans", "zh-TW": "zh-Hant", "zh-HK": "zh-Hant"}


def keywords(cfg: SearchPreset, config: Config) -> list[str]:
    """What a search preset searches for: its query, else its brand's keywords."""
    if cfg.query:
        return [cfg.query]
    brand = config.brand(cfg.brand) if cfg.brand else config.brands[0]
    assert brand is not None  # the config validator checked the name
    return list(dict.fromkeys(k.strip() for k in brand.keywords if k.strip()))


def or_query(cfg: SearchPreset, config: Config) -> str:
    if cfg.query:
        return cfg.query
    return " OR ".join(f'"{k}"' for k in keywords(cfg, config))


def _segment(text: str) -> str:
    return quote(text, safe="")


def google_news_urls(cfg: GoogleNewsSourceConfig, config: Config) -> list[str]:
    lang, country = cfg.lang, cfg.country.upper()
    edition = _ZH_EDITIONS.get(lang, lang.split("-")[0])
    params = {"q": or_query(cfg, config), "hl": lang, "gl": country, "ceid": f"{country}:{edition}"}
    return ["https://news.google.com/rss/search?" + urlencode(params)]


def bing_news_urls(cfg: BingNewsSourceConfig, config: Config) -> list[str]:
    params = {"q": or_query(cfg, config), "format": "rss"}
    if cfg.market:
        params["mkt"] = cfg.market
    return ["https://www.bing.com/news/search?" + urlencode(params)]


def reddit_search_urls(cfg: RedditSearchSourceConfig, config: Config) -> list[str]:
    params = {"q": or_query(cfg, config), "sort": cfg.sort}
    if cfg.subreddit:
        params["restrict_sr"] = "on"
        return [f"https://www.reddit.com/r/{cfg.subreddit}/search.rss?" + urlencode(params)]
    return ["https://www.reddit.com/search.rss?" + urlencode(params)]


def hackernews_urls(cfg: HackerNewsSourceConfig, config: Config) -> list[str]:
    tags = "(story,comment)" if cfg.tags == "all" else cfg.tags
    return [
        "https://hn.algolia.com/api/v1/search_by_date?"
        + urlencode({"query": k, "tags": tags, "hitsPerPage": 50})
        for k in keywords(cfg, config)[:MAX_KEYWORD_URLS]
    ]


def mastodon_urls(cfg: MastodonHashtagSourceConfig, config: Config) -> list[str]:
    return [f"{cfg.scheme}://{cfg.instance.lower()}/api/v1/timelines/tag/{cfg.tag}?limit=40"]


def youtube_urls(cfg: YouTubeChannelSourceConfig, config: Config) -> list[str]:
    return ["https://www.youtube.com/feeds/videos.xml?" + urlencode({"channel_id": cfg.channel_id})]


def rsshub_routes(cfg: Any, config: Config) -> list[str]:
    """The RSSHub paths for an RSSHub-backed preset."""
    if isinstance(cfg, WeiboSearchSourceConfig):
        return [f"/weibo/keyword/{_segment(k)}" for k in keywords(cfg, config)[:MAX_KEYWORD_URLS]]
    if isinstance(cfg, BilibiliSearchSourceConfig):
        return [
            f"/bilibili/vsearch/{_segment(k)}/pubdate"
            for k in keywords(cfg, config)[:MAX_KEYWORD_URLS]
        ]
    if isinstance(cfg, WeiboUserSourceConfig):
        return [f"/weibo/user/{cfg.uid}"]
    if isinstance(cfg, ZhihuSourceConfig):
        prefix = {"topic": "topic", "question": "question", "people": "people/activities"}
        return [f"/zhihu/{prefix[cfg.kind]}/{_segment(cfg.id)}"]
    if isinstance(cfg, XiaohongshuUserSourceConfig):
        return [f"/xiaohongshu/user/{_segment(cfg.user_id)}/notes"]
    if isinstance(cfg, DouyinUserSourceConfig):
        return [f"/douyin/user/{_segment(cfg.uid)}"]
    if isinstance(cfg, WechatMpSourceConfig):
        return [f"/wechat/mp/homepage/{_segment(cfg.biz)}/{_segment(cfg.hid)}"]
    if isinstance(cfg, RsshubRouteSourceConfig):
        return [cfg.route]
    raise TypeError(f"not an RSSHub preset: {type(cfg).__name__}")


def rsshub_urls(cfg: Any, config: Config) -> list[str]:
    return [config.rsshub.base_url + route for route in rsshub_routes(cfg, config)]


URL_BUILDERS = {
    "google_news": google_news_urls,
    "bing_news": bing_news_urls,
    "reddit_search": reddit_search_urls,
    "hackernews": hackernews_urls,
    "mastodon_hashtag": mastodon_urls,
    "youtube_channel": youtube_urls,
    **{kind: rsshub_urls for kind in RSSHUB_KINDS},
}
PARSERS: dict[str, Parser] = {"hackernews": parse_hits, "mastodon_hashtag": parse_statuses}


def preset_urls(cfg: Any, config: Config) -> list[str]:
    return URL_BUILDERS[cfg.type](cfg, config)


def _build(cfg: Any, ctx: SourceContext) -> FeedSource:
    urls = preset_urls(cfg, ctx.config)
    return FeedSource(cfg.name, cfg.every, urls, ctx, kind=cfg.type, parse=PARSERS.get(cfg.type))


for _kind in URL_BUILDERS:
    register(_kind)(_build)
