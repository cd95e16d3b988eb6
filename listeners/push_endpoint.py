"""The push endpoint (`inbound:` in the config): other tools POST mentions as JSON, Buzzwatch
handles them like polled ones (same pipeline, then delivery). The schema and its cleaning
are core/intake/mention_schema.py's, shared with `bot.py import`.

    POST /mentions   Authorization: Bearer <token>   Content-Type: application/json
    {"mentions": [{"title": ..., "text": ..., "url": ..., "author": ..., "id": ...,
                   "published": "2026-11-28T08:00:00Z", "metrics": {"followers": 120000}}]}

Answers are JSON: 200 {"accepted", "new", "alerts"}; 400 malformed or off-schema; 401 bad
or missing token; 404 other paths; 405 other methods; 411 no Content-Length; 413 too
large (refused before reading the body); 415 not JSON. The token comes from the
environment variable named by `inbound.token_env`; without it the endpoint does not start.
A burst of connections waits in the listen backlog for one of a bounded number of workers
(listeners/httpserver.py); a port in use stops the start with a clear error.
"""

from __future__ import annotations

import hmac
import json
import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from typing import Any

from core.config import InboundConfig
from core.intake.mention_schema import RejectedInput, parse_batch
from listeners import listener
from listeners.context import ListenerHost
from listeners.httpserver import Server, answer_json, listen

log = logging.getLogger("buzzwatch.inbound")


class InboundServer:
    """A small threaded HTTP server around `handle(mentions) -> result dict`."""

    def __init__(self, app: ListenerHost, cfg: InboundConfig, token: str) -> None:
        self.app = app
        self.cfg = cfg
        self._token = token.encode("utf-8")
        server = self

        class Handler(BaseHTTPRequestHandler):
            timeout = 15  # seconds a client may take per read; a trickling one is cut off
            server_version = "Buzzwatch"
            sys_version = ""

            def log_message(self, fmt: str, *args: Any) -> None:
                log.debug("inbound %s " + fmt, self.client_address[0], *args)

            def _answer(self, status: int, body: dict[str, Any]) -> None:
                answer_json(self, status, body, close=True)

            def do_GET(self) -> None:
                self._answer(405, {"error": "use POST"})

            def do_POST(self) -> None:
                try:
                    status, body = server.handle(self)
                except TimeoutError:
                    status, body = 408, {"error": "the body arrived too slowly"}
                except Exception:  # answer rather than drop the connection without a word
                    log.exception("inbound: request failed")
                    status, body = 500, {"error": "internal error; see the Buzzwatch log"}
                self._answer(status, body)

        self.httpd = listen(Server, cfg.host, cfg.port, Handler, "inbound.port")
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def address(self) -> tuple[str, int]:
        host, port = self.httpd.server_address[:2]
        return str(host), int(port)

    def _authorized(self, headers: Any) -> bool:
        given = headers.get("Authorization", "")
        scheme, _, token = given.partition(" ")
        if scheme.lower() != "bearer":
            token = headers.get("X-Buzzwatch-Token", "")
        return hmac.compare_digest(token.strip().encode("utf-8"), self._token)

    def handle(self, req: BaseHTTPRequestHandler) -> tuple[int, dict[str, Any]]:
        if req.path.split("?", 1)[0] != self.cfg.path:
            return 404, {"error": f"no such endpoint; mentions go to POST {self.cfg.path}"}
        if not self._authorized(req.headers):
            return 401, {"error": "missing or wrong token (send Authorization: Bearer <token>)"}
        ctype = req.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if ctype != "application/json":
            return 415, {"error": "send Content-Type: application/json"}
        if req.headers.get("Transfer-Encoding"):
            return 411, {"error": "send a Content-Length, not a chunked body"}
        length = req.headers.get("Content-Length", "").strip()
        # isascii: '¹'.isdigit() is True but int('¹') fails; a 5,000-digit value is too long
        # for int() as well.
        if not (length.isascii() and length.isdigit()):
            return 411, {"error": "Content-Length is required"}
        if len(length.lstrip("0")) > 15:
            return 413, {"error": f"body is too large; at most {self.cfg.max_bytes:,} bytes"}
        if int(length) > self.cfg.max_bytes:
            return 413, {"error": f"body is {int(length):,} bytes; at most {self.cfg.max_bytes:,}"}
        raw = req.rfile.read(int(length))
        try:
            data = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as err:
            return 400, {"error": f"body is not valid UTF-8 JSON: {str(err)[:200]}"}
        except RecursionError:
            return 400, {"error": "body is JSON nested too deeply"}
        now = self.app.clock.now()
        try:
            mentions = parse_batch(data, self.cfg.source, now, self.cfg.max_mentions)
        except RejectedInput as err:
            return 400, {"error": "mentions do not fit the schema", "problems": err.problems}
        except RecursionError:
            return 400, {"error": "mentions do not fit the schema: nested too deeply"}
        try:
            result = self.app.pipeline.process(self.cfg.source, mentions)
        except Exception:
            log.exception("inbound: could not process %d mention(s)", len(mentions))
            return 500, {"error": "could not store the mentions; try again"}
        # Send the alerts now, without making the caller wait for Slack or DingTalk.
        self.app.deliverer.kick()
        return 200, {
            "accepted": len(mentions),
            "new": result.new,
            "alerts": [a.id for a in result.alerts],
        }

    def start(self) -> InboundServer:
        self.thread.start()
        host, port = self.address
        log.info("inbound endpoint on http://%s:%d%s", host, port, self.cfg.path)
        return self

    def stop(self) -> None:
        self.httpd.stop()


@listener
def start_inbound(app: ListenerHost) -> Callable[[], None] | None:
    cfg = app.config.inbound
    if cfg is None:
        return None
    token = app.context.secrets.get(cfg.token_env)
    if not token:
        log.error("inbound is configured but %s is not set: endpoint not started", cfg.token_env)
        return None
    return InboundServer(app, cfg, token).start().stop
