"""The Bolt app: slash commands and buttons, over Socket Mode (default) or HTTP.

Both modes run in a long-lived process, so Bolt's default `process_before_response=False`
is right for both: a handler calls `ack()` first, Bolt answers Slack at once, and the rest
of the handler (the command, `respond()`, the message updates) goes on in Bolt's thread
pool. (Lazy listeners are for FaaS hosts, where the process may freeze after the answer.)
"""

from __future__ import annotations

import ipaddress
import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient

from core.config import ConfigError, SlackConfig
from listeners import listener
from listeners.context import ListenerHost
from listeners.httpserver import BoundedThreads, listen
from listeners.slack import actions, commands
from listeners.slack.notifier import tune_client
from listeners.slack.permissions import uses_groups
from listeners.slack.services import Directory, SlackServices
from listeners.slack.verify import Remember, SignedOnce

log = logging.getLogger("buzzwatch.slack")

MAX_BODY_BYTES = 1_000_000  # Slack's requests are a few KB
DRAIN_BYTES = 4 * MAX_BODY_BYTES


def build_app(
    token: str,
    signing_secret: str,
    *,
    api_url: str | None = None,
    now: Callable[[], float] = time.time,
    verify_token: bool = True,
    remember: Remember | None = None,
) -> App:
    """The Bolt app. Bolt makes its WebClient from `token` (given a client of ours instead,
    it warns at every start that SLACK_BOT_TOKEN from the environment goes unused); it gets
    our API URL, timeout and retries before its first call. HTTP mode checks signatures,
    freshness and replays with SignedOnce (on `now`, the app's clock) instead of Bolt;
    `remember` (the repository's remember_once) keeps the used ones across restarts and
    processes."""
    app = App(
        token=token,
        signing_secret=signing_secret,
        request_verification_enabled=False,
        before_authorize=(
            SignedOnce(signing_secret, now, remember=remember) if signing_secret else None
        ),
        token_verification_enabled=False,  # done below, once the client has our settings
        process_before_response=False,
        logger=logging.getLogger("buzzwatch.slack.bolt"),
    )
    tune_client(app.client, api_url)
    if verify_token:
        app.client.auth_test()
    return app


def register(app: App, services: SlackServices) -> None:
    commands.register(app, services)
    actions.register(app, services)


# --- HTTP mode ------------------------------------------------------------------------------


class _Server(BoundedThreads, WSGIServer):
    pass


class _QuietHandler(WSGIRequestHandler):
    timeout = 15  # seconds a client may take per read; a trickling one is cut off

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("http: " + format, *args)


def _limit_body(app: WSGIApplication) -> WSGIApplication:
    def wsgi(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        try:
            size = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            size = MAX_BODY_BYTES + 1
        if size > MAX_BODY_BYTES:
            # Read (and drop) a moderately oversized body first, so the client is not cut
            # off mid-send and actually sees the 413; a huge one is not worth reading.
            if size <= DRAIN_BYTES:
                stream = environ["wsgi.input"]
                while size > 0:
                    chunk = stream.read(min(size, 65536))
                    if not chunk:
                        break
                    size -= len(chunk)
            start_response("413 Payload Too Large", [("Content-Type", "text/plain")])
            return [b"too large"]
        return app(environ, start_response)

    return wsgi


class HttpListener:
    """Slack's HTTP requests on host:port/path, checked against the signing secret."""

    def __init__(self, app: App, host: str, port: int, path: str) -> None:
        self.server = listen(_Server, host, port, _QuietHandler, "slack.port")
        self.server.set_app(_limit_body(SlackRequestHandler(app, path=path)))
        self.port = self.server.server_port
        self._thread = threading.Thread(
            target=self.server.serve_forever, name="slack-http", daemon=True
        )

    def start(self) -> HttpListener:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.stop()


# --- the listener starter -------------------------------------------------------------------


def slack_config(bw: ListenerHost) -> SlackConfig | None:
    """The `slack:` section; its defaults when only a Slack destination is configured."""
    if bw.config.slack is not None:
        return bw.config.slack
    if any(d.type == "slack" for d in bw.config.destinations.values()):
        return SlackConfig()
    return None


def services_for(bw: ListenerHost, client: WebClient, cfg: SlackConfig) -> SlackServices:
    return SlackServices(
        commands=bw.commands,
        deliver=bw.deliverer.kick,
        names=cfg.commands,
        directory=Directory(client, uses_groups(cfg.permissions)),
    )


@listener
def start_slack(bw: ListenerHost) -> Callable[[], None] | None:
    cfg = slack_config(bw)
    if cfg is None or bw.dry_run:
        return None
    secrets = bw.context.secrets
    try:
        token = secrets.require(cfg.bot_token_env, "slack")
        if cfg.mode == "socket":
            app_token = secrets.require(cfg.app_token_env, "slack (socket mode)")
            secret = ""
        else:
            secret = secrets.require(cfg.signing_secret_env, "slack (http mode)")
        app = build_app(
            token,
            secret,
            api_url=bw.context.slack_api_url,
            now=lambda: bw.clock.now().timestamp(),
            remember=bw.repo.remember_once,
        )
        client = app.client
    except ConfigError as err:
        log.warning("Slack commands and buttons are off: %s (alerts are still posted)", err)
        return None
    except Exception as err:  # e.g. auth.test refused the token
        log.error("Slack commands and buttons are off: %s", err)
        return None
    register(app, services_for(bw, client, cfg))
    if cfg.mode == "socket":
        from listeners.slack.socket_mode import SocketModeRunner

        try:
            runner = SocketModeRunner(app, app_token, app.client.base_url).start()
        except Exception as err:  # a bad app token or no network: alerts still go out
            log.error(
                "Slack Socket Mode did not connect: %s; commands and buttons are off",
                str(err) or type(err).__name__,
            )
            return None
        log.info("Slack: connected in Socket Mode")
        return runner.stop
    http = HttpListener(app, cfg.host, cfg.port, cfg.path).start()
    log.info(
        "Slack: HTTP mode listening on http://%s:%d%s (%s)",
        cfg.host,
        http.port,
        cfg.path,
        reach(cfg.host),
    )
    return http.stop


def reach(host: str) -> str:
    """Who can reach the HTTP-mode listener on `host`, for the start-up log line."""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if loopback:
        return "this machine only: point your HTTPS proxy here; slack.host changes it"
    return "reachable from other machines (slack.host): keep it behind an HTTPS proxy"
