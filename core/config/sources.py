"""The `sources` section (feeds and presets) and how sources are fetched.

sources/presets.py turns each preset section into URLs.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from core.config.base import Duration, SafeId, Strict


class SourceBase(Strict):
    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.\-]+$")
    every: Duration = timedelta(minutes=5)
    enabled: bool = True

    @field_validator("every")
    @classmethod
    def _not_too_often(cls, every: timedelta) -> timedelta:
        if every < timedelta(seconds=10):
            raise ValueError("poll at most every 10s")
        return every


class RssSourceConfig(SourceBase):
    type: Literal["rss"]
    url: str | None = None
    path: Path | None = None

    @model_validator(mode="after")
    def _url_or_path(self) -> RssSourceConfig:
        if (self.url is None) == (self.path is None):
            raise ValueError("give exactly one of 'url' or 'path'")
        if self.url is not None and not self.url.lower().startswith(("http://", "https://")):
            raise ValueError(f"url must start with http:// or https://, got {self.url!r}")
        return self


class SearchPreset(SourceBase):
    """A keyword search. Without `query`, the keywords of `brand` (default: the first brand)."""

    query: str | None = Field(default=None, min_length=1, max_length=200)
    brand: str | None = None


class GoogleNewsSourceConfig(SearchPreset):
    type: Literal["google_news"]
    lang: str = Field(default="en-US", pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})?$")
    country: str = Field(default="US", pattern=r"^[A-Za-z]{2}$")


class BingNewsSourceConfig(SearchPreset):
    type: Literal["bing_news"]
    market: str | None = Field(default=None, pattern=r"^[a-z]{2}-[A-Za-z]{2}$")


class RedditSearchSourceConfig(SearchPreset):
    type: Literal["reddit_search"]
    subreddit: SafeId | None = None
    sort: Literal["new", "relevance", "top", "comments"] = "new"


class HackerNewsSourceConfig(SearchPreset):
    type: Literal["hackernews"]
    tags: Literal["story", "comment", "all"] = "all"


class MastodonHashtagSourceConfig(SourceBase):
    type: Literal["mastodon_hashtag"]
    instance: str = Field(pattern=r"^[A-Za-z0-9.\-]+(:\d+)?$")  # e.g. mastodon.social
    tag: str = Field(pattern=r"^\w{1,100}$")  # without the #
    scheme: Literal["https", "http"] = "https"


class YouTubeChannelSourceConfig(SourceBase):
    type: Literal["youtube_channel"]
    channel_id: str = Field(pattern=r"^UC[A-Za-z0-9_\-]{22}$")


class WeiboSearchSourceConfig(SearchPreset):
    type: Literal["weibo_search"]


class BilibiliSearchSourceConfig(SearchPreset):
    type: Literal["bilibili_search"]


class WeiboUserSourceConfig(SourceBase):
    type: Literal["weibo_user"]
    uid: str = Field(pattern=r"^\d{1,20}$")


class ZhihuSourceConfig(SourceBase):
    type: Literal["zhihu"]
    kind: Literal["topic", "question", "people"] = "topic"
    id: SafeId


class XiaohongshuUserSourceConfig(SourceBase):
    type: Literal["xiaohongshu_user"]
    user_id: SafeId


class DouyinUserSourceConfig(SourceBase):
    type: Literal["douyin_user"]
    uid: SafeId


class WechatMpSourceConfig(SourceBase):
    """A WeChat official account's homepage (RSSHub /wechat/mp/homepage/:biz/:hid)."""

    type: Literal["wechat_mp"]
    biz: SafeId
    hid: SafeId


class RsshubRouteSourceConfig(SourceBase):
    """Any other RSSHub route, e.g. /weibo/user/1195230310."""

    type: Literal["rsshub"]
    route: str = Field(pattern=r"^/[A-Za-z0-9_.~%=@+:,\-/]+$", max_length=500)

    @field_validator("route")
    @classmethod
    def _no_dot_segments(cls, route: str) -> str:
        if any(part in (".", "..") for part in route.split("/")):
            raise ValueError("route must not contain . or .. segments")
        return route


SEARCH_PRESETS = (
    GoogleNewsSourceConfig,
    BingNewsSourceConfig,
    RedditSearchSourceConfig,
    HackerNewsSourceConfig,
    WeiboSearchSourceConfig,
    BilibiliSearchSourceConfig,
)

SourceConfig = Annotated[
    RssSourceConfig
    | GoogleNewsSourceConfig
    | BingNewsSourceConfig
    | RedditSearchSourceConfig
    | HackerNewsSourceConfig
    | MastodonHashtagSourceConfig
    | YouTubeChannelSourceConfig
    | WeiboSearchSourceConfig
    | WeiboUserSourceConfig
    | ZhihuSourceConfig
    | BilibiliSearchSourceConfig
    | XiaohongshuUserSourceConfig
    | DouyinUserSourceConfig
    | WechatMpSourceConfig
    | RsshubRouteSourceConfig,
    Field(discriminator="type"),
]


class RsshubConfig(Strict):
    """Where RSSHub routes are fetched from: the public instance or your own."""

    base_url: str = "https://rsshub.app"

    @field_validator("base_url")
    @classmethod
    def _http_base(cls, url: str) -> str:
        if not url.lower().startswith(("http://", "https://")):
            raise ValueError(f"base_url must start with http:// or https://, got {url!r}")
        return url.rstrip("/")


class HealthConfig(Strict):
    """After `failures` failed polls in a row, one alert to `to`; one more when it recovers."""

    failures: int = Field(default=3, ge=1, le=1000)
    to: list[str] = []


class InboundConfig(Strict):
    """An HTTP endpoint where other tools POST mentions (sources/inbound.py)."""

    host: str = "127.0.0.1"
    port: int = Field(default=8788, ge=0, le=65535)
    path: str = Field(default="/mentions", pattern=r"^/[A-Za-z0-9_\-/]*$")
    token_env: str = "BUZZWATCH_INBOUND_TOKEN"
    max_bytes: int = Field(default=1_000_000, ge=1024, le=50_000_000)
    max_mentions: int = Field(default=500, ge=1, le=10_000)
    source: str = Field(default="inbound", pattern=r"^[A-Za-z0-9_.\-]+$")


class FetchConfig(Strict):
    connect_timeout: Duration = timedelta(seconds=5)
    read_timeout: Duration = timedelta(seconds=10)
    deadline: Duration = timedelta(seconds=20)
    max_bytes: int = Field(default=5_000_000, ge=1024)
    user_agent: str = "Buzzwatch/0.1 (+https://github.com/buzzwatch/buzzwatch)"
    # Hosts (names, addresses or networks like 10.0.0.0/8) that may be fetched although they
    # are loopback, private or link-local. Nothing else internal is ever fetched.
    allow_hosts: list[str] = []
    per_host: int = Field(default=4, ge=1, le=64)  # requests at once to one host
    workers: int = Field(default=16, ge=1, le=256)  # sources polled at once
