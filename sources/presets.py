"""Presets: `{type: reddit_search, query: "Acme"}` instead of a URL.

Each preset is declared once, here: its config section (the `type` and fields people
write), the URLs it polls, and how to read the answer (RSS/Atom, or a JSON parser);
`@preset` registers all three. Search presets without a `query` search the keywords
of their `brand` (default: the first brand in the config): in one OR query where the
service understands OR (Google News, Bing News, Reddit), else one request per keyword
(Hacker News, Weibo, Bilibili), at most MAX_KEYWORD_URLS of them.
RSSHub presets give RSSHub routes, fetched from `rsshub.base_url` (https://rsshub.app
unless configured).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, get_args
from urllib.parse import quote, urlencode

from pydantic import Field, field_validator

from core.config import Config, SafeId, SourceSection, source_section
from sources.base import SourceContext, register
from sources.hackernews import parse_hits
from sources.hints import RSSHUB_KINDS
from sources.mastodon import parse_statuses
from sources.records import Parser
from sources.rss import FeedSource

MAX_KEYWORD_URLS = 5
_ZH_EDITIONS = {"zh-CN": "zh-Hans", "zh-SG": "zh-Hans", "zh-TW": "zh-Hant", "zh-HK": "zh-Hant"}

# (the preset's config section, the whole config) -> the URLs (or RSSHub routes) to poll
UrlMaker = Callable[[Any, Config], list[str]]
URL_MAKERS: dict[str, UrlMaker] = {}
PARSERS: dict[str, Parser] = {}


def preset(
    section: type[SourceSection], parse: Parser | None = None, rsshub: bool = False
) -> Callable[[UrlMaker], UrlMaker]:
    """Register a preset: its config section with the config, `urls` (RSSHub routes when
    `rsshub`) and `parse` (RSS/Atom when None) with the sources that build it."""

    def add(urls: UrlMaker) -> UrlMaker:
        source_section(section)
        (kind,) = get_args(section.model_fields["type"].annotation)
        URL_MAKERS[kind] = urls
        if parse is not None:
            PARSERS[kind] = parse
        if rsshub:
            RSSHUB_KINDS.add(kind)
        register(kind)(_build)
        return urls

    return add


def preset_urls(cfg: Any, config: Config) -> list[str]:
    urls = URL_MAKERS[cfg.type](cfg, config)
    if cfg.type in RSSHUB_KINDS:
        return [config.rsshub.base_url + route for route in urls]
    return urls


def _build(cfg: Any, ctx: SourceContext) -> FeedSource:
    urls = preset_urls(cfg, ctx.config)
    return FeedSource(cfg.name, cfg.every, urls, ctx, kind=cfg.type, parse=PARSERS.get(cfg.type))


# --- search presets -------------------------------------------------------------------------


class SearchPreset(SourceSection):
    """A keyword search. Without `query`, the keywords of `brand` (default: the first brand)."""

    query: str | None = Field(default=None, min_length=1, max_length=200)
    brand: str | None = None


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


# The presets register in this order, after "rss": the order a config error lists them in.


class GoogleNewsSourceConfig(SearchPreset):
    type: Literal["google_news"]
    lang: str = Field(default="en-US", pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})?$")
    country: str = Field(default="US", pattern=r"^[A-Za-z]{2}$")


@preset(GoogleNewsSourceConfig)
def google_news_urls(cfg: GoogleNewsSourceConfig, config: Config) -> list[str]:
    lang, country = cfg.lang, cfg.country.upper()
    edition = _ZH_EDITIONS.get(lang, lang.split("-")[0])
    params = {"q": or_query(cfg, config), "hl": lang, "gl": country, "ceid": f"{country}:{edition}"}
    return ["https://news.google.com/rss/search?" + urlencode(params)]


class BingNewsSourceConfig(SearchPreset):
    type: Literal["bing_news"]
    market: str | None = Field(default=None, pattern=r"^[a-z]{2}-[A-Za-z]{2}$")


@preset(BingNewsSourceConfig)
def bing_news_urls(cfg: BingNewsSourceConfig, config: Config) -> list[str]:
    params = {"q": or_query(cfg, config), "format": "rss"}
    if cfg.market:
        params["mkt"] = cfg.market
    return ["https://www.bing.com/news/search?" + urlencode(params)]


class RedditSearchSourceConfig(SearchPreset):
    type: Literal["reddit_search"]
    subreddit: SafeId | None = None
    sort: Literal["new", "relevance", "top", "comments"] = "new"


@preset(RedditSearchSourceConfig)
def reddit_search_urls(cfg: RedditSearchSourceConfig, config: Config) -> list[str]:
    params = {"q": or_query(cfg, config), "sort": cfg.sort}
    if cfg.subreddit:
        params["restrict_sr"] = "on"
        return [f"https://www.reddit.com/r/{cfg.subreddit}/search.rss?" + urlencode(params)]
    return ["https://www.reddit.com/search.rss?" + urlencode(params)]


class HackerNewsSourceConfig(SearchPreset):
    type: Literal["hackernews"]
    tags: Literal["story", "comment", "all"] = "all"


@preset(HackerNewsSourceConfig, parse=parse_hits)
def hackernews_urls(cfg: HackerNewsSourceConfig, config: Config) -> list[str]:
    tags = "(story,comment)" if cfg.tags == "all" else cfg.tags
    return [
        "https://hn.algolia.com/api/v1/search_by_date?"
        + urlencode({"query": k, "tags": tags, "hitsPerPage": 50})
        for k in keywords(cfg, config)[:MAX_KEYWORD_URLS]
    ]


# --- feeds of one account or tag ------------------------------------------------------------


class MastodonHashtagSourceConfig(SourceSection):
    type: Literal["mastodon_hashtag"]
    instance: str = Field(pattern=r"^[A-Za-z0-9.\-]+(:\d+)?$")  # e.g. mastodon.social
    tag: str = Field(pattern=r"^\w{1,100}$")  # without the #
    scheme: Literal["https", "http"] = "https"


@preset(MastodonHashtagSourceConfig, parse=parse_statuses)
def mastodon_urls(cfg: MastodonHashtagSourceConfig, config: Config) -> list[str]:
    return [f"{cfg.scheme}://{cfg.instance.lower()}/api/v1/timelines/tag/{cfg.tag}?limit=40"]


class YouTubeChannelSourceConfig(SourceSection):
    type: Literal["youtube_channel"]
    channel_id: str = Field(pattern=r"^UC[A-Za-z0-9_\-]{22}$")


@preset(YouTubeChannelSourceConfig)
def youtube_urls(cfg: YouTubeChannelSourceConfig, config: Config) -> list[str]:
    return ["https://www.youtube.com/feeds/videos.xml?" + urlencode({"channel_id": cfg.channel_id})]


# --- RSSHub routes --------------------------------------------------------------------------


class WeiboSearchSourceConfig(SearchPreset):
    type: Literal["weibo_search"]


@preset(WeiboSearchSourceConfig, rsshub=True)
def weibo_search_routes(cfg: WeiboSearchSourceConfig, config: Config) -> list[str]:
    return [f"/weibo/keyword/{_segment(k)}" for k in keywords(cfg, config)[:MAX_KEYWORD_URLS]]


class WeiboUserSourceConfig(SourceSection):
    type: Literal["weibo_user"]
    uid: str = Field(pattern=r"^\d{1,20}$")


@preset(WeiboUserSourceConfig, rsshub=True)
def weibo_user_routes(cfg: WeiboUserSourceConfig, config: Config) -> list[str]:
    return [f"/weibo/user/{cfg.uid}"]


class ZhihuSourceConfig(SourceSection):
    type: Literal["zhihu"]
    kind: Literal["topic", "question", "people"] = "topic"
    id: SafeId


_ZHIHU_PREFIX = {"topic": "topic", "question": "question", "people": "people/activities"}


@preset(ZhihuSourceConfig, rsshub=True)
def zhihu_routes(cfg: ZhihuSourceConfig, config: Config) -> list[str]:
    return [f"/zhihu/{_ZHIHU_PREFIX[cfg.kind]}/{_segment(cfg.id)}"]


class BilibiliSearchSourceConfig(SearchPreset):
    type: Literal["bilibili_search"]


@preset(BilibiliSearchSourceConfig, rsshub=True)
def bilibili_search_routes(cfg: BilibiliSearchSourceConfig, config: Config) -> list[str]:
    return [
        f"/bilibili/vsearch/{_segment(k)}/pubdate" for k in keywords(cfg, config)[:MAX_KEYWORD_URLS]
    ]


class XiaohongshuUserSourceConfig(SourceSection):
    type: Literal["xiaohongshu_user"]
    user_id: SafeId


@preset(XiaohongshuUserSourceConfig, rsshub=True)
def xiaohongshu_user_routes(cfg: XiaohongshuUserSourceConfig, config: Config) -> list[str]:
    return [f"/xiaohongshu/user/{_segment(cfg.user_id)}/notes"]


class DouyinUserSourceConfig(SourceSection):
    type: Literal["douyin_user"]
    uid: SafeId


@preset(DouyinUserSourceConfig, rsshub=True)
def douyin_user_routes(cfg: DouyinUserSourceConfig, config: Config) -> list[str]:
    return [f"/douyin/user/{_segment(cfg.uid)}"]


class WechatMpSourceConfig(SourceSection):
    """A WeChat official account's homepage (RSSHub /wechat/mp/homepage/:biz/:hid)."""

    type: Literal["wechat_mp"]
    biz: SafeId
    hid: SafeId


@preset(WechatMpSourceConfig, rsshub=True)
def wechat_mp_routes(cfg: WechatMpSourceConfig, config: Config) -> list[str]:
    return [f"/wechat/mp/homepage/{_segment(cfg.biz)}/{_segment(cfg.hid)}"]


class RsshubRouteSourceConfig(SourceSection):
    """Any other RSSHub route, e.g. /weibo/user/1195230310."""

    type: Literal["rsshub"]
    route: str = Field(pattern=r"^/[A-Za-z0-9_.~%=@+:,\-/]+$", max_length=500)

    @field_validator("route")
    @classmethod
    def _no_dot_segments(cls, route: str) -> str:
        if any(part in (".", "..") for part in route.split("/")):
            raise ValueError("route must not contain . or .. segments")
        return route


@preset(RsshubRouteSourceConfig, rsshub=True)
def rsshub_route_routes(cfg: RsshubRouteSourceConfig, config: Config) -> list[str]:
    return [cfg.route]
