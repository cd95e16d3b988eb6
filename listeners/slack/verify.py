"""Checks each HTTP-mode request from Slack: signed with the signing secret, fresh, and new.

Bolt's own check takes a signed request as often as it arrives within its 5-minute window,
answers a non-numeric timestamp with a 500, and logs the whole rejected body. This one
(installed in its place, before authorization) refuses a bad or missing signature or
timestamp with a 401 and logs only the reason, and remembers every accepted signature
until its timestamp leaves the window: a replay is answered 200 without being acted on.
Slack's own retries (X-Slack-Retry-Num) of an event already taken are answered the same way.

The memory is this process's (a fast answer to a replay, and the only one for an app built
without a store) and, given `remember` (the repository's remember_once), the store's: then
a replay after a restart, or sent to another process on the same PostgreSQL database, is
answered the same way. A request the store cannot remember is not acted on (503; Slack
retries it).
"""

from __future__ import annotations

import heapq
import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from slack_bolt import BoltRequest, BoltResponse
from slack_bolt.middleware import Middleware
from slack_sdk.signature import Clock, SignatureVerifier

log = logging.getLogger("buzzwatch.slack")

WINDOW_SECONDS = 300  # Slack's (and slack_sdk's) freshness window for the timestamp
MAX_REMEMBERED = 20_000  # accepted requests per window; ~3 MB at most


class SeenRequests:
    """Keys (signatures, event ids) until their expiry; bounded, thread-safe."""

    def __init__(self, limit: int = MAX_REMEMBERED) -> None:
        self.limit = limit
        self._expiry: dict[str, float] = {}
        self._heap: list[tuple[float, str]] = []
        self._lock = threading.Lock()

    def add(self, keys: list[str], expires: float, now: float) -> str:
        """'new' (now remembered), 'seen' (one of the keys is remembered) or 'full'."""
        with self._lock:
            while self._heap and self._heap[0][0] <= now:
                _, key = heapq.heappop(self._heap)
                if self._expiry.get(key, now + 1) <= now:
                    del self._expiry[key]
            if any(k in self._expiry for k in keys):
                return "seen"
            if len(self._expiry) + len(keys) > self.limit:
                return "full"
            for key in keys:
                self._expiry[key] = expires
                heapq.heappush(self._heap, (expires, key))
            return "new"

    def forget(self, keys: list[str]) -> None:
        """Drop keys just added (the request was not taken after all)."""
        with self._lock:
            for key in keys:
                self._expiry.pop(key, None)

    def __len__(self) -> int:
        return len(self._expiry)


class _Seconds(Clock):
    """slack_sdk's Clock interface (now() -> epoch seconds) over a Buzzwatch clock."""

    def __init__(self, now: Callable[[], float]) -> None:
        self._now = now

    def now(self) -> float:
        return self._now()


# Repository.remember_once: (kind, key, until) -> True the first time.
Remember = Callable[[str, str, datetime], bool]


class SignedOnce(Middleware):
    def __init__(
        self,
        signing_secret: str,
        now: Callable[[], float],
        seen: SeenRequests | None = None,
        remember: Remember | None = None,
    ) -> None:
        self.now = now
        self.verifier = SignatureVerifier(signing_secret, clock=_Seconds(now))
        self.seen = seen or SeenRequests()
        self.remember = remember

    def process(
        self, *, req: BoltRequest, resp: BoltResponse, next: Callable[[], BoltResponse]
    ) -> BoltResponse | None:
        if req.mode == "socket_mode":  # the websocket itself is authenticated
            return next()
        timestamp = _header(req, "x-slack-request-timestamp")
        signature = _header(req, "x-slack-signature")
        if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
            return _refuse("missing or malformed X-Slack-Request-Timestamp")
        if not signature:
            return _refuse("missing X-Slack-Signature")
        now = self.now()
        if abs(now - int(timestamp)) > WINDOW_SECONDS:
            return _refuse(f"timestamp {int(now - int(timestamp))} s away from now")
        if not self.verifier.is_valid(req.raw_body, timestamp, signature):
            return _refuse("signature does not match the signing secret")
        keys = [signature]
        event_id = req.body.get("event_id") if isinstance(req.body, dict) else None
        if isinstance(event_id, str) and event_id:
            keys.append("event:" + event_id[:100])
        # Until the timestamp leaves the window, after which the check above refuses it.
        expires = int(timestamp) + WINDOW_SECONDS + 1
        state = self.seen.add(keys, expires, now)
        if state == "new" and self.remember is not None:
            try:
                until = datetime.fromtimestamp(expires, UTC)
                if not all(self.remember("slack", key, until) for key in keys):
                    state = "seen"  # taken before this process started, or by another one
            except Exception as err:  # fail closed: a request not remembered is not taken
                self.seen.forget(keys)
                log.error("Slack request not taken: could not remember it (%s)", err)
                return BoltResponse(status=503, body={"error": "busy"})
        if state == "new":
            return next()
        if state == "full":
            log.warning("Slack request refused: too many requests in 5 minutes to remember")
            return BoltResponse(status=503, body={"error": "busy"})
        retry = _header(req, "x-slack-retry-num")
        log.info(
            "Slack request ignored: %s",
            f"retry {retry[:4]} of a request already taken" if retry else "a replay",
        )
        # 200 with no-retry: Slack stops retrying; a replayer learns nothing and changes nothing.
        return BoltResponse(status=200, body="", headers={"X-Slack-No-Retry": "1"})


def _header(req: BoltRequest, name: str) -> str:
    values: Any = req.headers.get(name) or [""]
    return str(values[0] or "").strip()


def _refuse(reason: str) -> BoltResponse:
    log.info("Slack request refused (401): %s", reason)  # the reason only, never the body
    return BoltResponse(status=401, body={"error": "invalid request"})
