"""DingTalk: alerts through a group's custom robot, commands through an app robot.

notifier.py   signed robot webhook sender (DingTalkNotifier), errcode handling
markdown.py   alerts, batches and replies as markdown / ActionCard bodies, untrusted text made inert
signing.py    the webhook signature and the callback header check
stream.py     @bot commands in Stream mode (dingtalk-stream's ChatbotHandler)
callback.py   @bot commands in HTTP callback mode (timestamp/sign headers; each signature and
              msgId used once, remembered in the repository)
ackpages.py   signed, expiring, single-use ack links and their pages
permissions.py  who may change alerts from DingTalk (`dingtalk.permissions`)

Secrets come from the context's `Secrets` (the environment variables the config names).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable

from core.config import ConfigError, DingTalkConfig, DingTalkDestination
from core.domain.repository import Repository
from listeners import listener, notifier_type
from listeners.context import ListenerHost, NotifierContext
from listeners.dingtalk import permissions  # noqa: F401  (registers the permission builder)
from listeners.dingtalk.ackpages import AckTokens
from listeners.dingtalk.notifier import DingTalkNotifier

log = logging.getLogger("buzzwatch.dingtalk")

# Dry runs need no secrets: the request body does not depend on them (the signature and the
# access token live only in the URL, which a dry run does not print). Ack links in a dry
# run are signed with this placeholder key and will not work.
DRY_RUN_WEBHOOK = "https://oapi.dingtalk.com/robot/send?access_token=DRY-RUN"
DRY_RUN_ACK_KEY = "dry-run-placeholder-not-a-secret"


def _secret(context: NotifierContext, var: str, what: str) -> str | None:
    """The secret in `var`; in a dry run None when it is not set, else a ConfigError."""
    if context.dry_run and context.secrets.get(var) is None:
        return None
    return context.secrets.require(var, what)


def ack_tokens(context: NotifierContext, repo: Repository | None = None) -> AckTokens | None:
    """The ack-link signer, when the config has a public base URL for the ack pages."""
    section = context.config.dingtalk
    if section is None or not section.public_base_url:
        return None
    key = _secret(context, section.ack_secret_env, "dingtalk.ack_secret_env (ack links)")
    return AckTokens(
        key or DRY_RUN_ACK_KEY,
        context.clock,
        section.public_base_url,
        section.ack_link_ttl,
        repo,
    )


@notifier_type("dingtalk")
def build_dingtalk(
    name: str, cfg: DingTalkDestination, context: NotifierContext
) -> DingTalkNotifier:
    where = f"destinations.{name}"
    webhook = _secret(context, cfg.webhook_env, f"{where}.webhook_env (the robot's webhook URL)")
    webhook = webhook or DRY_RUN_WEBHOOK
    if not webhook.startswith(("https://", "http://")):
        raise ConfigError(f"{where}: {cfg.webhook_env} must hold the robot's https:// webhook URL")
    secret = (
        _secret(context, cfg.secret_env, f"{where}.secret_env (the robot's SEC… secret)")
        if cfg.secret_env
        else None
    )
    tokens = ack_tokens(context)
    return DingTalkNotifier(
        name,
        webhook,
        secret,
        context.clock,
        style=cfg.style,
        at_mobiles=cfg.at_mobiles,
        at_user_ids=cfg.at_user_ids,
        links=tokens.link if tokens else None,
        http=context.dingtalk_http,
    )


@listener
def start_dingtalk(app: ListenerHost) -> Callable[[], None] | None:
    """Start whatever the config's `dingtalk:` section asks for; return how to stop it."""
    section = app.config.dingtalk
    if section is None:
        return None
    stops: list[Callable[[], None]] = []
    try:
        _start(app, section, stops)
    except ConfigError:  # e.g. a port in use: stop what did start, then say so
        for stop_one in stops:
            stop_one()
        raise
    if not stops:
        return None

    def stop() -> None:
        for stop_one in stops:
            stop_one()

    return stop


def _start(app: ListenerHost, section: DingTalkConfig, stops: list[Callable[[], None]]) -> None:
    secrets = app.context.secrets
    if section.stream.enabled:
        key, secret = (
            secrets.get(section.stream.app_key_env),
            secrets.get(section.stream.app_secret_env),
        )
        if key and secret:
            from listeners.dingtalk.stream import start_stream

            stops.append(start_stream(app, key, secret).stop)
        else:
            log.error(
                "dingtalk.stream is enabled but %s / %s are not set: no DingTalk commands",
                section.stream.app_key_env,
                section.stream.app_secret_env,
            )

    if section.callback.enabled:
        secret = secrets.get(section.callback.app_secret_env)
        if secret:
            from listeners.dingtalk import callback

            endpoint = callback.CallbackEndpoint(
                app, secret, lambda: int(app.clock.now().timestamp() * 1000)
            )
            server = callback.serve(
                endpoint, section.callback.host, section.callback.port, section.callback.path
            )
            stops.append(server.stop)
        else:
            log.error(
                "dingtalk.callback is enabled but %s is not set", section.callback.app_secret_env
            )

    if section.public_base_url:
        try:
            tokens = ack_tokens(dataclasses.replace(app.context, dry_run=False), app.repo)
        except ConfigError as err:
            log.error("no DingTalk ack pages: %s", err)
            tokens = None
        if tokens is not None:
            from listeners.dingtalk import ackpages

            pages = ackpages.AckPages(tokens, app.repo, app.commands.run, app.deliverer.kick)
            server = ackpages.serve(pages, section.ack_host, section.ack_port)
            stops.append(server.stop)
