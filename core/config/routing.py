"""Destinations (where alerts go), routes (which alerts go where) and grouping."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator

from core.config.base import ENV_NAME, Duration, Strict
from core.domain.models import Flag, Severity


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


class DingTalkDestination(DestinationBase):
    """A DingTalk group's custom robot: its webhook URL and 加签 secret live in env vars."""

    type: Literal["dingtalk"]
    webhook_env: str = Field(pattern=ENV_NAME)
    secret_env: str | None = Field(default=None, pattern=ENV_NAME)  # None: keyword/IP security
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
