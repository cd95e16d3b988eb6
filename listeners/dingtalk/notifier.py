"""Sending to a DingTalk group's custom robot: signed webhook POSTs, errors read from `errcode`.

DingTalk answers HTTP 200 with {"errcode": .., "errmsg": ..}. What each code means here:
  0                 sent
  130101, 410100    too fast: the robot is blocked for 10 minutes; wait longer than that
  -1                DingTalk busy: retry soon
  310000, 300001,   bad signature, keyword or IP whitelist, unknown or stopped robot: a
  400101, 400102    configuration error, reported with the destination's name, never looped
  460101            message too long: cut it and resend once
  430101..430104    DingTalk refused the content (links, words): not retried
"""

from __future__ import annotations

import collections
import copy
import json
import logging
import threading
from typing import Any

import httpx

from core.domain.clock import Clock
from core.domain.models import to_iso
from core.domain.notifier import Delivery, Outgoing, retry_after_seconds
from listeners.dingtalk import markdown as md
from listeners.dingtalk.signing import signed_url

log = logging.getLogger("buzzwatch.dingtalk")

RATE_LIMIT = (19, 60.0)  # DingTalk allows 20 a minute per robot; one spare for clock skew
BLOCK_SECONDS = 610.0  # 130101 blocks the robot for 10 minutes
TOO_FAST = {130101, 410100}
BUSY = {-1}
CONFIG_ERRORS = {310000, 300001, 400101, 400102, 400013}
TOO_LONG = 460101


class DingTalkNotifier:
    platform = "dingtalk"
    rate_limit: tuple[int, float] | None = RATE_LIMIT
    edits_in_place = False  # a robot posts; it cannot edit what it posted

    def __init__(
        self,
        name: str,
        webhook: str,
        secret: str | None,
        clock: Clock,
        *,
        style: str = "markdown",
        at_mobiles: list[str] | None = None,
        at_user_ids: list[str] | None = None,
        links: md.LinkMaker | None = None,
        http: httpx.Client | None = None,
    ) -> None:
        self.name = name
        self._webhook = webhook
        self._secret = secret
        self.clock = clock
        self.style = style
        self.at_mobiles = list(at_mobiles or [])
        self.at_user_ids = list(at_user_ids or [])
        self.links = links
        self.http = http or httpx.Client(
            timeout=httpx.Timeout(10.0, connect=5.0), follow_redirects=False
        )
        self._lock = threading.Lock()
        self._sent: collections.deque[float] = collections.deque()
        self._paused_until = 0.0

    def __repr__(self) -> str:  # never show the webhook's access token or the secret
        return f"DingTalkNotifier({self.name!r})"

    # --- rendering --------------------------------------------------------------------------

    def render(self, out: Outgoing) -> dict[str, Any]:
        kind = out.message.get("kind")
        if kind == "alert" and out.alert is not None and out.alert.kind == "storm":
            return md.render_storm(out.alert, out.alerts, self.links, out.action != "post")
        if kind == "alert" and out.alert is not None:
            if out.action == "post":
                return md.render_alert(
                    out.alert, self.style, self.links, self.at_mobiles, self.at_user_ids
                )
            return md.render_status(out.alert, self.links)
        if kind == "batch":
            return md.render_batch(out.alerts, self.links)
        if kind == "note":
            return md.render_note(out)
        # DingTalk groups are Chinese teams: a message with a Chinese wording shows that one.
        words = out.message.get("zh")
        if not isinstance(words, dict):
            words = out.message
        return md.render_text(str(words.get("title", "")), str(words.get("text", "")))

    # --- sending ----------------------------------------------------------------------------

    def send(self, out: Outgoing, payload: dict[str, Any]) -> Delivery:
        with self._lock:
            wait = self._wait()
            if wait > 0:
                return Delivery(
                    ok=False, retryable=True, retry_after=wait, error=self._paused_text(wait)
                )
            delivery, errcode = self._post(payload)
            if errcode == TOO_LONG:
                smaller = md.fit(copy.deepcopy(payload), min(4000, md.body_bytes(payload) // 2))
                log.warning("destination=%s: message too long; resending it cut short", self.name)
                delivery, errcode = self._post(smaller)
                if errcode == TOO_LONG:
                    delivery.retryable = False
            return delivery

    def _now(self) -> float:
        return self.clock.now().timestamp()

    def _wait(self) -> float:
        """Seconds until this robot may take another message (0 = now)."""
        now = self._now()
        if now < self._paused_until:
            return self._paused_until - now
        limit, period = self.rate_limit or RATE_LIMIT
        while self._sent and self._sent[0] <= now - period:
            self._sent.popleft()
        if len(self._sent) >= limit:
            return self._sent[0] + period - now
        return 0.0

    def _paused_text(self, wait: float) -> str:
        if self._now() < self._paused_until:
            return f"DingTalk robot {self.name} is paused for {wait:.0f}s more after errcode 130101"
        return f"DingTalk robot {self.name} is at its rate limit; next send in {wait:.0f}s"

    def _post(self, payload: dict[str, Any]) -> tuple[Delivery, int | None]:
        now = self.clock.now()
        url = signed_url(self._webhook, self._secret, int(now.timestamp() * 1000))
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        self._sent.append(now.timestamp())  # a failed attempt still counts against the limit
        try:
            response = self.http.post(
                url, content=body, headers={"Content-Type": "application/json; charset=utf-8"}
            )
        except httpx.TimeoutException:
            return Delivery(ok=False, retryable=True, error="DingTalk did not answer in time"), None
        except httpx.HTTPError as err:
            return Delivery(
                ok=False, retryable=True, error=f"network error: {network_reason(err, url)}"
            ), None
        if response.status_code == 429 or response.status_code >= 500:
            return Delivery(
                ok=False,
                retryable=True,
                retry_after=retry_after_seconds(response.headers.get("Retry-After")),
                error=f"DingTalk answered HTTP {response.status_code}",
            ), None
        if response.status_code != 200:
            return Delivery(
                ok=False,
                retryable=False,
                misconfigured=True,
                error=f"destination {self.name}: DingTalk answered HTTP {response.status_code}; "
                f"check the webhook URL in its webhook_env",
            ), None
        try:
            answer = response.json()
            errcode = int(answer.get("errcode", -1))
            errmsg = str(answer.get("errmsg", ""))[:200]
        except (ValueError, AttributeError, TypeError):
            return Delivery(ok=False, retryable=True, error="DingTalk's answer was not JSON"), None
        return self._outcome(errcode, errmsg, now), errcode

    def _outcome(self, errcode: int, errmsg: str, now: Any) -> Delivery:
        if errcode == 0:
            return Delivery(ok=True, ref={"robot": self.name, "sent_at": to_iso(now) or ""})
        if errcode in TOO_FAST:
            self._paused_until = now.timestamp() + BLOCK_SECONDS
            log.warning(
                "destination=%s: DingTalk says too fast (%d); pausing 10+ minutes",
                self.name,
                errcode,
            )
            return Delivery(
                ok=False,
                retryable=True,
                retry_after=BLOCK_SECONDS,
                error=f"errcode {errcode} (too fast): {errmsg}",
            )
        if errcode in BUSY:
            return Delivery(ok=False, retryable=True, error=f"errcode {errcode} (busy): {errmsg}")
        if errcode in CONFIG_ERRORS:
            text = (
                f"configuration error for DingTalk destination {self.name}: errcode {errcode} "
                f"({errmsg}). Check the robot's security settings: the 加签 secret in its "
                f"secret_env, its keywords, or its IP whitelist, and the webhook URL."
            )
            return Delivery(ok=False, retryable=False, misconfigured=True, error=text)
        return Delivery(
            ok=False,
            retryable=False,
            error=f"destination {self.name}: DingTalk refused the message: errcode {errcode} ({errmsg})",
        )


def network_reason(err: httpx.HTTPError, url: str) -> str:
    """`ConnectError` alone said neither which host nor why. The host and the OS's reason
    (`[Errno 111] Connection refused`), never the URL: its query holds the robot's token."""
    host = httpx.URL(url).host
    cause: BaseException | None = err
    while cause is not None and not isinstance(cause, OSError):
        cause = cause.__cause__ or cause.__context__
    reason = f"{cause.strerror}" if isinstance(cause, OSError) and cause.strerror else ""
    said = f": {reason}" if reason else ""
    return f"{type(err).__name__} to {host}{said}"
