"""A Buzzwatch wired to the real Bolt App and the Slack Web API stand-in (`Rig`), and signed
slash commands and button clicks to drive it, for the Slack tests."""

from __future__ import annotations

import itertools
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from slack_bolt import App, BoltRequest
from slack_sdk.signature import SignatureVerifier

from app.buzzwatch import Buzzwatch
from core.domain.models import Mention
from listeners.slack import blocks as bk
from listeners.slack.app import build_app, register, services_for
from tests.conftest import make_config
from tests.standin.slack import CHANNEL, TOKEN, SlackAPI

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
_ids = itertools.count(1)  # a response_url of its own for every command and click


def wait_for(check: Callable[[], Any], timeout: float = 5.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError("timed out waiting")


def post_signed(url: str, body: str, ts: str, secret: str = SECRET, sig: str | None = None) -> int:
    """POST a form body to Buzzwatch's Slack HTTP endpoint, signed with `secret` at `ts`
    (or with `sig` as it is); the HTTP status it answered."""
    if sig is None:
        sig = SignatureVerifier(secret).generate_signature(timestamp=ts, body=body)
    req = urllib.request.Request(
        url,
        data=body.encode(),
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Slack-Signature": sig,
            "X-Slack-Request-Timestamp": ts,
        },
    )
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status
    except urllib.error.HTTPError as err:
        return err.code


def slack_config(tmp_path: Path, burst: dict[str, Any] | None = None, **slack: Any):
    return make_config(
        tmp_path,
        destinations={"slack": {"type": "slack", "channel": CHANNEL}},
        routes=[{"name": "all", "match": {"brand": "Acme"}, "to": ["slack"], "burst": burst}],
        grouping={"enabled": False},
        slack={"mode": "http", **slack},
    )


class Rig:
    """A Buzzwatch with one Slack destination, and its Bolt app, against the stand-in."""

    def __init__(
        self,
        tmp_path: Path,
        api: SlackAPI,
        clock,
        monkeypatch,
        burst: dict[str, Any] | None = None,
        **slack: Any,
    ) -> None:
        monkeypatch.setenv("SLACK_BOT_TOKEN", TOKEN)
        self.api, self.clock = api, clock
        api.state.now = clock.now
        self.bw = Buzzwatch(
            slack_config(tmp_path, burst, **slack),
            clock=clock,
            slack_api_url=api.api_url,
        )
        self.app: App = build_app(
            TOKEN, SECRET, api_url=api.api_url, now=lambda: clock.now().timestamp()
        )
        register(self.app, services_for(self.bw, self.app.client, self.bw.config.slack))

    def push(self, n: int, start: int = 0, word: str = "complaint", settle: bool = True) -> None:
        self.bw.pipeline.process(
            "feed",
            [
                Mention(
                    id=f"m{i}",
                    source="feed",
                    url=f"https://example.com/{i}",
                    title=f"Acme {word} number {i}, food poisoning?",
                    text=f"story {i} about Acme food poisoning",
                    author=f"writer{i}",
                    fetched_at=self.clock.now() - timedelta(minutes=n - i),
                )
                for i in range(start, start + n)
            ],
        )
        if settle:
            self.settle()

    def settle(self, seconds: int = 30) -> None:
        """Let the outbox send everything, one fake second at a time (1 msg/s per channel)."""
        for _ in range(seconds):
            self.bw.deliverer.deliver_due()
            if not self.bw.repo.pending_outbox():
                return
            self.clock.advance(1)

    def now(self) -> str:
        return str(int(self.clock.now().timestamp()))

    def dispatch(
        self,
        body: str,
        ts: str | None = None,
        secret: str = SECRET,
        sign: bool = True,
        extra: dict[str, list[str]] | None = None,
    ):
        ts = self.now() if ts is None else ts
        headers = {"content-type": ["application/x-www-form-urlencoded"], **(extra or {})}
        if sign:
            sig = SignatureVerifier(secret).generate_signature(timestamp=ts, body=body)
            headers |= {"x-slack-signature": [sig], "x-slack-request-timestamp": [ts]}
        started = time.monotonic()
        resp = self.app.dispatch(BoltRequest(body=body, headers=headers))
        assert time.monotonic() - started < 3  # Slack's deadline for the ack
        return resp

    def alert(self, alert_id: str = "A1"):
        return self.bw.repo.get_alert(alert_id)

    def close(self) -> None:
        self.bw.close()


def slash_payload(
    api: SlackAPI, command: str, text: str, user: str = "U1", name: str = "ann"
) -> dict[str, Any]:
    """A slash command's fields, as Slack sends them (a form over HTTP, an envelope's payload
    in Socket Mode)."""
    return {
        "token": "legacy",
        "team_id": "T1",
        "team_domain": "t",
        "channel_id": CHANNEL,
        "user_id": user,
        "user_name": name,
        "command": command,
        "text": text,
        "api_app_id": "A0APP",
        "response_url": api.response_url(f"{user}-{next(_ids)}"),
        "trigger_id": "1.2.3",
    }


def click_payload(
    api: SlackAPI, action: dict[str, Any], user: str = "U2", name: str = "bob"
) -> dict[str, Any]:
    """A button click's payload (block_actions)."""
    return {
        "type": "block_actions",
        "team": {"id": "T1", "domain": "t"},
        "user": {"id": user, "username": name, "name": name, "team_id": "T1"},
        "api_app_id": "A0APP",
        "token": "legacy",
        "trigger_id": "1.2.3",
        "container": {"type": "message", "channel_id": CHANNEL, "message_ts": "1.1"},
        "channel": {"id": CHANNEL, "name": "alerts"},
        "response_url": api.response_url(f"{user}-{next(_ids)}"),
        "actions": [action],
    }


def slash(api: SlackAPI, command: str, text: str, user: str = "U1", name: str = "ann") -> str:
    """A slash command's HTTP body."""
    return urlencode(slash_payload(api, command, text, user, name))


def click(api: SlackAPI, action: dict[str, Any], user: str = "U2", name: str = "bob") -> str:
    """A button click's HTTP body."""
    return urlencode({"payload": json.dumps(click_payload(api, action, user, name))})


def button(action_id: str, alert_id: str = "A1", **extra: Any) -> dict[str, Any]:
    return {
        "action_id": action_id,
        "block_id": f"{bk.ALERT_BLOCK_PREFIX}{alert_id}",
        "type": "button",
        "value": alert_id,
        "action_ts": "1.1",
        **extra,
    }


def answers(api: SlackAPI, n: int = 1) -> list[dict[str, Any]]:
    return [c.body for c in wait_for(lambda: len(api.responses()) >= n and api.responses())]


def text_of(body: dict[str, Any]) -> str:
    return body.get("text", "") + json.dumps(body.get("blocks", []), ensure_ascii=False)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (for a listener that needs a number)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
