"""@Buzzwatch commands over DingTalk's HTTP callback mode (the alternative to Stream mode).

DingTalk POSTs each @bot message to a public URL with `timestamp` and `sign` headers
(HMAC-SHA256 with the app secret). A request whose signature does not match, or whose
timestamp is over an hour off, is refused with 401 before its body is read as a command.
The reply is the HTTP response body, which DingTalk posts into the conversation.

DingTalk's signature covers the timestamp only, not the body: anyone who sees one request
(a proxy's log, a leaked capture) holds a pair that verifies for an hour, with any body. So
each signature is spent on one message, and each msgId on one run: both are remembered in
the repository (Repository.remember_once) until the signature's hour is over, so neither a
restart nor another process on the same PostgreSQL database takes them again. A used
signature is refused (401); a msgId already handled (DingTalk retries) is answered but not
run again. That bounds what a captured pair can do; it cannot prove who wrote a body whose
signature was never used (README, DingTalk: what a callback's signature proves).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from typing import Any

from dingtalk_stream import ChatbotMessage

from listeners.context import ListenerHost
from listeners.dingtalk.chat import answer, deliver_now
from listeners.dingtalk.signing import CALLBACK_WINDOW_MS, verify_callback
from listeners.httpserver import Server, answer_json, listen

log = logging.getLogger("buzzwatch.dingtalk.callback")

MAX_BODY_BYTES = 64 * 1024


class CallbackEndpoint:
    """The callback's logic, apart from HTTP: headers and body in, status and body out."""

    def __init__(
        self,
        app: ListenerHost,
        app_secret: str,
        now_ms: Callable[[], int],
        deliver: Callable[[Callable[[], None]], None] | None = None,
    ) -> None:
        self.app = app
        self._secret = app_secret
        self.now_ms = now_ms
        # How to run the after-change delivery: by default in the background, so the
        # response is not held up by other platforms.
        self.deliver = deliver or (lambda job: threading.Thread(target=job, daemon=True).start())

    def handle(self, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, Any]]:
        now_ms = self.now_ms()
        why = verify_callback(self._secret, headers.get("timestamp"), headers.get("sign"), now_ms)
        if why:
            log.warning("refused a DingTalk callback: %s", why)
            return 401, {"error": "bad signature"}
        try:
            data = json.loads(body.decode("utf-8"))
            if not isinstance(data, dict):
                raise ValueError("not an object")
            msg = ChatbotMessage.from_dict(data)
        except (ValueError, KeyError, TypeError, UnicodeDecodeError):
            return 400, {"error": "not a DingTalk robot message"}
        # Both kept until no request with this timestamp verifies any more (nor, for the
        # msgId, one stamped up to an hour after now, as far as a clock may be off).
        until_ms = max(int(str(headers["timestamp"]).strip()), now_ms) + CALLBACK_WINDOW_MS + 1
        until = datetime.fromtimestamp(until_ms / 1000, UTC)
        try:
            if msg.message_id and not self.app.repo.remember_once(
                "dingtalk-msg", str(msg.message_id), until
            ):
                log.info("DingTalk message %s seen before; dropped", str(msg.message_id)[:80])
                return 200, {}
            # A captured pair must not carry a second, different message (a new msgId).
            if not self.app.repo.remember_once("dingtalk-sign", _signature_key(headers), until):
                log.warning("refused a DingTalk callback: its signature was used before")
                return 401, {"error": "signature already used"}
        except Exception as err:  # fail closed: a request not remembered is not run
            log.error("DingTalk callback not run: could not remember it (%s)", err)
            return 503, {"error": "try again later"}
        reply, changed = answer(self.app, msg)
        if changed:
            self.deliver(lambda: deliver_now(self.app))
        return 200, reply


def _signature_key(headers: dict[str, str]) -> str:
    """The signature as verified (number, trimmed), so a re-spelt copy counts as the same."""
    timestamp = str(headers.get("timestamp") or "").strip()
    return f"{int(timestamp) if timestamp.isascii() and timestamp.isdigit() else timestamp}:{str(headers.get('sign') or '').strip()}"


def declared_length(header: str | None) -> int:
    """The declared body size; a missing or malformed one counts as too large."""
    return (
        int(header)
        if header and header.isascii() and header.isdigit()
        else (0 if header is None else 1 << 40)
    )


def serve(endpoint: CallbackEndpoint, host: str, port: int, path: str) -> Server:
    """Start the callback endpoint on host:port in a daemon thread; `stop()` stops it."""

    class Handler(BaseHTTPRequestHandler):
        timeout = 15  # seconds a client may take per read; a trickling one is cut off

        def log_message(self, fmt: str, *args: object) -> None:
            log.debug("callback: " + fmt, *args)

        def _answer(self, status: int, body: dict[str, Any]) -> None:
            answer_json(self, status, body)

        def do_POST(self) -> None:
            if self.path.split("?", 1)[0] != path:
                self._answer(404, {"error": "not found"})
                return
            length = declared_length(self.headers.get("Content-Length"))
            if length > MAX_BODY_BYTES:
                self._answer(413, {"error": "too large"})
                return
            body = self.rfile.read(length)
            self._answer(*endpoint.handle({k.lower(): v for k, v in self.headers.items()}, body))

    server = listen(Server, host, port, Handler, "dingtalk.callback.port")
    threading.Thread(target=server.serve_forever, name="dingtalk-callback", daemon=True).start()
    log.info("DingTalk callback mode on http://%s:%d%s", host, server.server_address[1], path)
    return server
