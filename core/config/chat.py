"""The chat platforms people talk to Buzzwatch through: the Slack app and DingTalk."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from pydantic import Field, field_validator

from core.config.base import ENV_NAME, Duration, Strict
from core.config.slack_commands import SlackCommandNames


class SlackRule(Strict):
    """Who may ack, assign, resolve and snooze: Slack user ids (U…) and user group ids (S…).
    Both empty: everyone."""

    users: list[str] = []
    groups: list[str] = []


class SlackPermissions(Strict):
    default: SlackRule = SlackRule()
    brands: dict[str, SlackRule] = {}  # brand name -> the rule for its alerts


class SlackConfig(Strict):
    mode: Literal["socket", "http"] = "socket"
    port: int = Field(default=3000, ge=1, le=65535)
    # http mode: plain HTTP, which Slack never calls (it wants HTTPS): an HTTPS proxy on this
    # machine forwards to it. 0.0.0.0 in a container whose port is published.
    host: str = "127.0.0.1"
    path: str = Field(default="/slack/events", pattern=r"^/")
    bot_token_env: str = "SLACK_BOT_TOKEN"
    app_token_env: str = "SLACK_APP_TOKEN"  # socket mode
    signing_secret_env: str = "SLACK_SIGNING_SECRET"  # http mode
    commands: SlackCommandNames = SlackCommandNames()
    permissions: SlackPermissions = SlackPermissions()


class DingTalkStreamConfig(Strict):
    """@Buzzwatch commands through an enterprise-internal app's robot in Stream mode."""

    enabled: bool = False
    app_key_env: str = Field(default="DINGTALK_APP_KEY", pattern=ENV_NAME)
    app_secret_env: str = Field(default="DINGTALK_APP_SECRET", pattern=ENV_NAME)


class DingTalkCallbackConfig(Strict):
    """@Buzzwatch commands POSTed by DingTalk to a public URL (instead of Stream mode)."""

    enabled: bool = False
    host: str = "127.0.0.1"  # put a TLS reverse proxy in front
    port: int = Field(default=8790, ge=0, le=65535)
    path: str = Field(default="/dingtalk/callback", pattern=r"^/[A-Za-z0-9_\-/]*$")
    app_secret_env: str = Field(default="DINGTALK_APP_SECRET", pattern=ENV_NAME)


class DingTalkRule(Strict):
    """Who may ack, assign, resolve and snooze from DingTalk: the senders' staffIds (员工
    UserID, `senderStaffId`). Empty: everyone."""

    users: list[str] = []


class DingTalkPermissions(Strict):
    default: DingTalkRule = DingTalkRule()
    brands: dict[str, DingTalkRule] = {}  # brand name -> the rule for its alerts


class DingTalkConfig(Strict):
    stream: DingTalkStreamConfig = DingTalkStreamConfig()
    callback: DingTalkCallbackConfig = DingTalkCallbackConfig()
    permissions: DingTalkPermissions = DingTalkPermissions()
    # Where people reach Buzzwatch's ack pages (https://buzzwatch.example.com); with it,
    # alerts carry signed, expiring, single-use ack / resolve links.
    public_base_url: str | None = None
    ack_host: str = "127.0.0.1"
    ack_port: int = Field(default=8791, ge=0, le=65535)
    ack_secret_env: str = Field(default="DINGTALK_ACK_SECRET", pattern=ENV_NAME)
    ack_link_ttl: Duration = timedelta(hours=24)

    @field_validator("public_base_url")
    @classmethod
    def _http_base(cls, url: str | None) -> str | None:
        if url is not None and not url.lower().startswith(("http://", "https://")):
            raise ValueError(f"public_base_url must start with https:// or http://, got {url!r}")
        return url.rstrip("/") if url else url
