"""A stand-in for DingTalk's robot endpoints, checking what DingTalk checks.

/robot/send?access_token=..&timestamp=..&sign=..   the custom robot webhook:
  - the access token must match, and with a secret the signature must be
    base64(HMAC-SHA256(secret, f"{timestamp}\\n{secret}")) with the timestamp within an hour
    of the server's clock (else errcode 310000, as DingTalk answers);
  - the body must be a well-formed text / markdown / actionCard message (else 40035);
  - the body must be under 20,000 bytes (else 460101);
  - at most 20 messages a minute (the 21st gets 130101 and the robot is blocked 10 minutes).
/robot/sendBySession?session=..   a message's session webhook (no signature).

`answers` queues errcodes to give instead of the next outcomes; `status` forces an HTTP status.
The signature is computed here from the spec, independently of listeners/dingtalk/signing.py.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable
from typing import Any

from tests.standin.base import Reply, Request, StandInServer

MAX_BYTES = 20_000
PER_MINUTE = 20
BLOCK_MS = 10 * 60 * 1000


def spec_sign(secret: str, timestamp: str) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256)
    return base64.b64encode(mac.digest()).decode()


def shape_problem(body: dict[str, Any]) -> str:
    kind = body.get("msgtype")
    if kind == "text":
        ok = isinstance(body.get("text"), dict) and isinstance(body["text"].get("content"), str)
        return "" if ok else "text.content missing"
    if kind == "markdown":
        md = body.get("markdown")
        if not isinstance(md, dict) or not md.get("title") or not md.get("text"):
            return "markdown.title and markdown.text are required"
        return ""
    if kind == "actionCard":
        card = body.get("actionCard")
        if not isinstance(card, dict) or not card.get("title") or not card.get("text"):
            return "actionCard.title and actionCard.text are required"
        if "singleTitle" in card:
            return "" if card.get("singleURL") else "actionCard.singleURL missing"
        btns = card.get("btns")
        if not isinstance(btns, list) or not btns:
            return "actionCard needs singleTitle/singleURL or btns"
        for b in btns:
            if not isinstance(b, dict) or not b.get("title") or not b.get("actionURL"):
                return "each actionCard button needs title and actionURL"
        return ""
    return f"unknown msgtype {kind!r}"


class RobotServer(StandInServer):
    def __init__(
        self,
        secret: str | None = "SECtest-secret",
        token: str = "tok123",
        now_ms: Callable[[], int] | None = None,
        delay: float = 0.0,
    ) -> None:
        super().__init__()
        self.secret = secret
        self.token = token
        self.now_ms = now_ms or (lambda: int(time.time() * 1000))
        self.delay = delay
        self.answers: list[int] = []  # errcodes to answer next, whatever the request
        self.status: int | None = None  # an HTTP status to answer instead
        self.status_headers: dict[str, str] = {}  # with it (a Retry-After)
        self.accepted: list[dict[str, Any]] = []  # robot messages DingTalk would show
        self.session_messages: list[dict[str, Any]] = []
        self.session_gate: threading.Event | None = None  # session posts wait until it is set
        self.requests: list[dict[str, Any]] = []  # every robot request: size, errcode
        self.problems: list[str] = []
        self._sent_ms: list[int] = []
        self._blocked_until = 0
        self.webhook = f"{self.base}/robot/send?access_token={token}"

    def session_url(self, session: str = "s1") -> str:
        return f"{self.base}/robot/sendBySession?session={session}"

    def handle(self, request: Request) -> Reply:
        if self.delay:
            time.sleep(self.delay)
        if self.status:
            return Reply.json({"error": "forced"}, self.status, self.status_headers)
        if request.path == "/robot/sendBySession":
            code = self._session(request.query, request.raw)
        elif request.path == "/robot/send":
            code = self._robot(request.query, request.raw)
        else:
            return Reply.json({"errcode": 404}, 404)
        return Reply.json({"errcode": code, "errmsg": "ok" if code == 0 else f"error {code}"})

    # --- the checks -------------------------------------------------------------------------

    def _robot(self, query: dict[str, str], raw: bytes) -> int:
        with self._lock:
            code = self._check(query, raw)
            self.requests.append({"bytes": len(raw), "errcode": code, "at": self.now_ms()})
            return code

    def _check(self, query: dict[str, str], raw: bytes) -> int:
        now = self.now_ms()
        if self.answers:
            return self.answers.pop(0)
        if query.get("access_token") != self.token:
            self.problems.append("bad access token")
            return 300001
        if self.secret is not None:
            ts, sign = query.get("timestamp", ""), query.get("sign", "")
            if not ts.isdigit() or abs(now - int(ts)) > 3600 * 1000:
                self.problems.append("timestamp outside the one-hour window")
                return 310000
            if not hmac.compare_digest(sign, spec_sign(self.secret, ts)):
                self.problems.append("signature mismatch")
                return 310000
        if len(raw) >= MAX_BYTES:
            self.problems.append(f"body of {len(raw)} bytes")
            return 460101
        try:
            body = json.loads(raw.decode("utf-8"))
        except ValueError:
            self.problems.append("body is not JSON")
            return 40035
        problem = shape_problem(body)
        if problem:
            self.problems.append(problem)
            return 40035
        if now < self._blocked_until:
            return 130101
        recent = [t for t in self._sent_ms if t > now - 60_000]
        if len(recent) >= PER_MINUTE:
            self._blocked_until = now + BLOCK_MS
            self.problems.append("over 20 messages a minute")
            return 130101
        self._sent_ms.append(now)
        self.accepted.append(body)
        return 0

    def _session(self, query: dict[str, str], raw: bytes) -> int:
        if self.session_gate is not None:
            self.session_gate.wait(30)
        body = json.loads(raw.decode("utf-8"))
        problem = shape_problem(body)
        if problem:
            self.problems.append(problem)
            return 40035
        with self._lock:
            self.session_messages.append({"session": query.get("session"), "body": body})
        return 0

    def max_per_minute(self) -> int:
        """The most messages accepted in any 60-second window."""
        times = sorted(self._sent_ms)
        best = 0
        for i, start in enumerate(times):
            best = max(best, sum(1 for t in times[i:] if t < start + 60_000))
        return best
