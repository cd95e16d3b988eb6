"""Ack links for DingTalk alerts: signed, expiring, single-use URLs served by Buzzwatch.

A custom robot's message cannot call back into Buzzwatch, so its ActionCard buttons open
a URL instead. Link scanners and chat previews fetch URLs on their own, so opening one only
shows a small confirmation page; only the page's POST changes the alert.

A token is `action.alert_id.expires.nonce.signature`, the signature an HMAC-SHA256 over the
rest with a key from the environment. A used nonce is stored until its token expires: taken
atomically through Repository.remember_once (so two processes on one PostgreSQL database
cannot both take it), and listed in the state so the page says so before the POST.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import logging
import secrets
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs

from core.alerting.views import alert_view
from core.commands.context import Actor
from core.domain.clock import Clock
from core.domain.repository import Repository
from listeners.dingtalk.callback import declared_length
from listeners.httpserver import Server, listen

log = logging.getLogger("buzzwatch.dingtalk.ack")

ACTIONS = {"ack": "确认 Ack", "resolve": "解决 Resolve"}
PATH = "/dingtalk/ack/"
USED_KEY = "dingtalk_ack_used"
MAX_FORM_BYTES = 4096
MAX_TOKEN_CHARS = 200


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class AckTokens:
    """Mints and checks tokens; `consume` makes each one good for a single POST."""

    def __init__(
        self,
        key: str,
        clock: Clock,
        base_url: str,
        ttl: timedelta = timedelta(hours=24),
        repo: Repository | None = None,
    ) -> None:
        self._key = key.encode("utf-8")
        self.clock = clock
        self.base_url = base_url.rstrip("/")
        self.ttl = ttl
        self.repo = repo
        self._lock = threading.Lock()
        self._memory: dict[str, int] = {}  # used nonces when there is no repository

    def _sign(self, body: str) -> str:
        return _b64(hmac.new(self._key, body.encode("ascii"), hashlib.sha256).digest())

    def mint(self, alert_id: str, action: str) -> str:
        expires = int((self.clock.now() + self.ttl).timestamp())
        body = f"{action}.{alert_id}.{expires}.{secrets.token_hex(8)}"
        return f"{body}.{self._sign(body)}"

    def link(self, alert_id: str, action: str) -> str:
        return f"{self.base_url}{PATH}{self.mint(alert_id, action)}"

    def check(self, token: str) -> tuple[dict[str, Any] | None, str]:
        """(claims, "") for a good, unused token, else (None, why)."""
        parts = token.split(".") if len(token) <= MAX_TOKEN_CHARS else []
        if len(parts) != 5:
            return None, "This link is not a Buzzwatch link."
        action, alert_id, expires, nonce, signature = parts
        body = ".".join(parts[:4])
        # Bytes, not str: compare_digest refuses non-ASCII text with a TypeError.
        given = signature.encode("utf-8", "replace")
        if not body.isascii() or not hmac.compare_digest(self._sign(body).encode(), given):
            return None, "This link's signature is not valid."
        if action not in ACTIONS or not (expires.isascii() and expires.isdigit()):
            return None, "This link is not a Buzzwatch link."
        if int(expires) < self.clock.now().timestamp():
            return None, "This link has expired. Use the chat command instead."
        if nonce in self._used():
            return None, "This link was already used."
        return {"action": action, "alert_id": alert_id, "expires": int(expires), "nonce": nonce}, ""

    def consume(self, token: str) -> tuple[dict[str, Any] | None, str]:
        """Check and mark used in one step, so two POSTs of one link cannot both pass."""
        with self._lock:
            claims, why = self.check(token)
            if claims is None:
                return None, why
            now = self.clock.now().timestamp()
            used = {n: exp for n, exp in self._used().items() if exp >= now}
            used[claims["nonce"]] = claims["expires"]
            if self.repo is not None:
                until = datetime.fromtimestamp(claims["expires"] + 1, UTC)
                if not self.repo.remember_once("dingtalk-ack-link", claims["nonce"], until):
                    return None, "This link was already used."  # by another process, just now
                self.repo.set_state(USED_KEY, used)
            else:
                self._memory = used
            return claims, ""

    def _used(self) -> dict[str, int]:
        if self.repo is not None:
            return dict(self.repo.get_state(USED_KEY, {}) or {})
        return dict(self._memory)


# --- the pages ------------------------------------------------------------------------------

_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem}"
    "button{font-size:1.1rem;padding:.5rem 1.2rem}input{font-size:1rem;padding:.3rem}"
)
_HEADERS = {
    "Content-Type": "text/html; charset=utf-8",
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
}


def page(title: str, body: str) -> bytes:
    return (
        f"<!doctype html><html><head><meta charset='utf-8'>"
        f"<meta name='viewport' content='width=device-width'><title>{html.escape(title)}</title>"
        f"<style>{_STYLE}</style></head><body>{body}</body></html>"
    ).encode()


class AckPages:
    """What the pages say and do; `serve` puts them on HTTP."""

    def __init__(
        self,
        tokens: AckTokens,
        repo: Repository,
        run_command: Callable[[str, Actor], Any],
        deliver: Callable[[], Any] | None = None,
    ) -> None:
        self.tokens = tokens
        self.repo = repo
        self.run_command = run_command
        self.deliver = deliver

    def get(self, token: str) -> tuple[int, bytes]:
        claims, why = self.tokens.check(token)
        if claims is None:
            return 403, page("Buzzwatch", f"<p>{html.escape(why)}</p>")
        alert = self.repo.get_alert(claims["alert_id"])
        if alert is None:
            return 404, page("Buzzwatch", "<p>That alert no longer exists.</p>")
        v = alert_view(alert)
        label = ACTIONS[claims["action"]]
        body = (
            f"<h2>{html.escape(v.mark)} {html.escape(v.id)} · {html.escape(v.severity.upper())}</h2>"
            f"<p><b>{html.escape(v.headline)}</b></p>"
            f"<p>{html.escape(v.brand)} · status: {html.escape(v.status)}</p>"
            f"<form method='post'>"
            f"<p><label>你的名字 Your name <input name='name' maxlength='40'></label></p>"
            f"<p><button type='submit'>{html.escape(label)} {html.escape(v.id)}</button></p>"
            f"</form>"
        )
        return 200, page(f"{label} {v.id}", body)

    def post(self, token: str, form: dict[str, list[str]]) -> tuple[int, bytes]:
        claims, why = self.tokens.consume(token)
        if claims is None:
            return 403, page("Buzzwatch", f"<p>{html.escape(why)}</p>")
        name = " ".join((form.get("name") or [""])[0].split())[:40]
        actor = Actor(id="dingtalk-link", name=name or "DingTalk link", platform="dingtalk")
        reply = self.run_command(f"{claims['action']} {claims['alert_id']}", actor)
        if getattr(reply, "changed", False) and self.deliver:
            try:
                self.deliver()
            except Exception:  # the change is stored; the worker delivers it later
                log.exception("delivery after a link ack failed")
        status = 200 if reply.ok else 409
        return status, page("Buzzwatch", f"<p>{html.escape(reply.text)}</p>")


def serve(pages: AckPages, host: str, port: int) -> Server:
    """Start the ack pages on host:port in a daemon thread; `stop()` stops them."""

    class Handler(BaseHTTPRequestHandler):
        timeout = 15  # seconds a client may take per read; a trickling one is cut off

        def log_message(self, fmt: str, *args: object) -> None:
            log.debug("ack page: " + fmt, *args)

        def _token(self) -> str | None:
            path = self.path.split("?", 1)[0]
            return path[len(PATH) :] if path.startswith(PATH) else None

        def _answer(self, status: int, body: bytes) -> None:
            self.send_response(status)
            for name, value in _HEADERS.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            token = self._token()
            if token is None:
                self._answer(404, page("Buzzwatch", "<p>Not found.</p>"))
                return
            self._answer(*pages.get(token))

        def do_HEAD(self) -> None:
            self.send_response(200 if self._token() is not None else 404)
            self.end_headers()

        def do_POST(self) -> None:
            token = self._token()
            length = declared_length(self.headers.get("Content-Length"))
            if token is None or length > MAX_FORM_BYTES:
                self._answer(404 if token is None else 413, page("Buzzwatch", "<p>No.</p>"))
                return
            raw = self.rfile.read(length).decode("utf-8", "replace")
            self._answer(*pages.post(token, parse_qs(raw, max_num_fields=10)))

    server = listen(Server, host, port, Handler, "dingtalk.ack_port")
    threading.Thread(target=server.serve_forever, name="dingtalk-ack-pages", daemon=True).start()
    log.info("DingTalk ack pages on http://%s:%d%s", host, server.server_address[1], PATH)
    return server
