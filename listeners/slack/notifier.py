"""Sends outbox messages to a Slack channel with the Web API (chat.postMessage / chat.update).

One send never blocks the delivery worker for long: the SDK retries a 5xx or a dropped
connection once, and a 429 only when Slack asks for a short wait; anything longer goes back
to the outbox as retryable with Slack's Retry-After, and the outbox waits.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackRequestError
from slack_sdk.http_retry import (
    ConnectionErrorRetryHandler,
    FixedValueRetryIntervalCalculator,
    HttpRequest,
    HttpResponse,
    RateLimitErrorRetryHandler,
    RetryState,
)
from slack_sdk.http_retry.builtin_handlers import ServerErrorRetryHandler

from core.config import ConfigError, SlackDestination
from core.domain.notifier import Delivery, Outgoing, retry_after_seconds
from listeners import notifier_type
from listeners.context import NotifierContext
from listeners.slack import blocks as bk

log = logging.getLogger("buzzwatch.slack")

DEFAULT_API_URL = "https://slack.com/api/"
TIMEOUT_SECONDS = 5
MAX_SDK_WAIT = 2.0  # the longest Retry-After the SDK may sleep through inside one send

# ok:false errors that go away by themselves; every other error code is permanent.
TRANSIENT_ERRORS = {
    "ratelimited",
    "internal_error",
    "fatal_error",
    "service_unavailable",
    "request_timeout",
    "team_added_to_org",
}
# Errors about the app or the channel, not the message: every message would fail alike.
DESTINATION_ERRORS = {
    "channel_not_found",
    "not_in_channel",
    "is_archived",
    "invalid_auth",
    "not_authed",
    "account_inactive",
    "token_revoked",
    "missing_scope",
}
HINTS = {
    "channel_not_found": "check the channel id in destinations.{dest}",
    "not_in_channel": "invite the bot to the channel: /invite @Buzzwatch",
    "is_archived": "the channel is archived",
    "invalid_auth": "the token in ${env} was rejected",
    "not_authed": "no token was sent; set ${env}",
    "account_inactive": "the token in ${env} belongs to a deactivated app or user",
    "token_revoked": "the token in ${env} was revoked; reinstall the app",
    "missing_scope": "the app lacks a scope; reinstall it from listeners/slack/manifest.yaml",
    "invalid_blocks": "Slack refused the message layout (a Buzzwatch bug; please report it)",
    "msg_too_long": "the message is too long (a Buzzwatch bug; please report it)",
    "message_not_found": "the message to update was deleted",
    "cant_update_message": "the bot may only update its own messages",
}


class ShortRateLimitRetryHandler(RateLimitErrorRetryHandler):
    """slack_sdk's 429 handler, but only for a Retry-After short enough to wait out here."""

    def __init__(self, max_wait: float = MAX_SDK_WAIT) -> None:
        super().__init__(max_retry_count=1)
        self.max_wait = max_wait

    def _can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if response is None or response.status_code != 429:
            return False
        return retry_after_of(response.headers) <= self.max_wait


def retry_after_of(headers: dict[str, Any] | None) -> float:
    """Slack's Retry-After in seconds (1 s when it is missing or unreadable)."""
    for key, value in (headers or {}).items():
        if key.lower() == "retry-after":
            wait = retry_after_seconds(value[0] if isinstance(value, list) else value)
            return 1.0 if wait is None else wait
    return 1.0


def make_client(token: str | None, api_url: str | None) -> WebClient:
    return tune_client(WebClient(token=token), api_url)


def tune_client(client: WebClient, api_url: str | None) -> WebClient:
    """Our API URL, timeout and retries on a WebClient (also on the one Bolt makes)."""
    url = api_url or DEFAULT_API_URL
    client.base_url = url if url.endswith("/") else url + "/"
    client.timeout = TIMEOUT_SECONDS
    client.retry_handlers = [
        ConnectionErrorRetryHandler(max_retry_count=1),
        ServerErrorRetryHandler(
            max_retry_count=1, interval_calculator=FixedValueRetryIntervalCalculator(0.5)
        ),
        ShortRateLimitRetryHandler(),
    ]
    return client


def delivery_for_error(err: Exception, what: str, dest: str, token_env: str) -> Delivery:
    """How a failed Web API call reads to the outbox: retry it, or give up with a reason."""
    if isinstance(err, SlackApiError):
        resp = err.response
        status = getattr(resp, "status_code", 0) or 0
        if status == 429:
            wait = retry_after_of(getattr(resp, "headers", None))
            return Delivery(
                ok=False, retry_after=wait, error=f"{what}: rate limited, retry after {wait:.0f}s"
            )
        if status >= 500:
            return Delivery(ok=False, error=f"{what}: Slack answered HTTP {status}")
        code = str(resp.get("error", "") if hasattr(resp, "get") else "") or f"HTTP {status}"
        hint = HINTS.get(code, "").replace("{dest}", dest).replace("{env}", token_env)
        text = f"{what}: {code}" + (f" ({hint})" if hint else "")
        return Delivery(
            ok=False,
            retryable=code in TRANSIENT_ERRORS,
            misconfigured=code in DESTINATION_ERRORS,
            error=text,
        )
    if isinstance(err, SlackRequestError):
        return Delivery(ok=False, retryable=False, error=f"{what}: {err}")
    # URLError, timeouts, refused connections: the network, worth another try later.
    return Delivery(ok=False, error=f"{what}: {type(err).__name__}: {err}")


class SlackNotifier:
    platform = "slack"
    # Slack allows about one message a second per channel.
    rate_limit: tuple[int, float] | None = (1, 1.0)
    edits_in_place = True  # chat.update

    def __init__(
        self,
        name: str,
        channel: str,
        client: WebClient | None,
        token_env: str = "SLACK_BOT_TOKEN",
    ) -> None:
        self.name = name
        self.channel = channel
        self.client = client  # None in a dry run: render only
        self.token_env = token_env

    # --- rendering: the exact bodies Slack receives ---------------------------------------

    def render(self, out: Outgoing) -> dict[str, Any]:
        kind = out.message.get("kind")
        if kind == "alert" and out.alert is not None and out.alert.kind == "storm":
            text = bk.storm_fallback(out.alert, out.alerts)
            body_blocks = bk.finish(bk.storm_blocks(out.alert, out.alerts))
        elif kind == "alert":
            assert out.alert is not None
            text = bk.alert_fallback(out.alert)
            body_blocks = bk.finish(bk.alert_blocks(out.alert))
        elif kind == "batch":
            text = bk.batch_fallback(out.alerts)
            body_blocks = bk.finish(bk.batch_blocks(out.alerts))
        elif kind == "note":
            note = str(out.message.get("text", ""))
            text = bk.fallback(note)
            body_blocks = bk.finish([bk.section(bk.esc(note))])
        else:
            title = str(out.message.get("title", ""))
            body = str(out.message.get("text", ""))
            text = bk.fallback(f"{title}: {body}" if title else body)
            body_blocks = bk.finish(bk.text_blocks(title, body))
        ref = out.ref or {}
        if out.action == "update":
            return {
                "channel": ref.get("channel", self.channel),
                "ts": ref.get("ts", ""),
                "text": text,
                "blocks": body_blocks,
                "link_names": False,
            }
        payload: dict[str, Any] = {"channel": self.channel}
        if out.action == "reply" and ref.get("ts"):
            payload["channel"] = ref.get("channel", self.channel)
            payload["thread_ts"] = ref["ts"]
        payload.update(
            {
                "text": text,
                "blocks": body_blocks,
                "link_names": False,
                "unfurl_links": False,
                "unfurl_media": False,
            }
        )
        return payload

    # --- sending ----------------------------------------------------------------------------

    def send(self, out: Outgoing, payload: dict[str, Any]) -> Delivery:
        if self.client is None:
            return Delivery(ok=False, retryable=False, error="no Slack client (dry run only)")
        method = "chat.update" if out.action == "update" else "chat.postMessage"
        what = f"{method} to {payload.get('channel')}"
        try:
            if out.action == "update":
                resp = self.client.chat_update(**payload)
            else:
                resp = self.client.chat_postMessage(**payload)
        except Exception as err:  # mapped to retry-or-give-up below
            delivery = delivery_for_error(err, what, self.name, self.token_env)
            if not delivery.retryable:
                log.error("destination=%s %s", self.name, delivery.error)
            return delivery
        ref = {"channel": str(resp.get("channel") or payload["channel"]), "ts": str(resp["ts"])}
        image = out.message.get("image")
        if image and out.message.get("kind") == "text":
            self._upload_image(Path(str(image)), str(out.message.get("title", "")), ref)
        if out.action == "update":
            ref = dict(out.ref or ref)  # the alert's message stays where it was
        return Delivery(ok=True, ref=ref)

    def _upload_image(self, path: Path, title: str, ref: dict[str, str]) -> None:
        """Post a chart to the channel after its message; a failure only costs the image."""
        assert self.client is not None
        try:
            self.client.files_upload_v2(
                channel=ref["channel"],
                file=str(path),
                filename=path.name,
                title=title or path.stem,
            )
        except Exception as err:
            why = err.response.get("error") if isinstance(err, SlackApiError) else err
            log.warning(
                "destination=%s: image %s not attached (%s); the message went without it",
                self.name,
                path.name,
                why,
            )


@notifier_type("slack")
def build_slack(name: str, cfg: SlackDestination, context: NotifierContext) -> SlackNotifier:
    if context.dry_run:
        return SlackNotifier(name, cfg.channel, None, cfg.token_env)
    token = context.secrets.require(cfg.token_env, f"destinations.{name}")
    if not token.startswith(("xoxb-", "xoxp-")):
        raise ConfigError(
            f"destinations.{name}: {cfg.token_env} should hold a bot token (xoxb-…), "
            "from the app's OAuth & Permissions page"
        )
    client = make_client(token, context.slack_api_url)
    return SlackNotifier(name, cfg.channel, client, cfg.token_env)
