"""A stand-in for the Slack Web API, for slack_sdk's WebClient(base_url=api.api_url).

It checks what Slack checks (the bearer token, channel access, text or blocks present,
at most 50 blocks, section text at most 3000 characters, the ts of an update), records
every call with its parsed body, and can be told to fail the next calls with a 429 and
Retry-After, a 5xx, or an ok:false error. It also takes response_url posts (/respond/...)
and file uploads (/upload/...), and apps.connections.open hands out `state.socket_url()`
(Socket Mode, with the app-level token).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import Message
from typing import Any
from urllib.parse import parse_qs

from slack_sdk.models.blocks import Block

from tests.standin.base import Reply, Request, StandInServer

TOKEN = "xoxb-test-token"
APP_TOKEN = "xapp-1-test-token"  # Socket Mode's app-level token (apps.connections.open)
CHANNEL = "C0TESTCHAN"


@dataclass
class Call:
    method: str  # the Web API method (chat.postMessage), "upload", or a /respond/ path
    body: dict[str, Any]
    at: Any = None  # the test's clock reading when the call arrived


@dataclass
class Failure:
    status: int = 200
    error: str = ""
    retry_after: float | None = None


def block_problems(blocks: Any) -> list[str]:
    """What Slack's invalid_blocks would complain about."""
    if not isinstance(blocks, list):
        return ["blocks must be a list"]
    problems = []
    if len(blocks) > 50:
        problems.append(f"{len(blocks)} blocks, at most 50")
    for i, b in enumerate(blocks):
        if b.get("type") == "section":
            text = (b.get("text") or {}).get("text", "")
            if len(text) > 3000:
                problems.append(f"blocks[{i}] section text is {len(text)} characters")
        try:
            parsed = Block.parse(b)
            if parsed is None:
                problems.append(f"blocks[{i}] unknown type {b.get('type')!r}")
            else:
                parsed.validate_json()
        except Exception as err:
            problems.append(f"blocks[{i}]: {err}")
    return problems


@dataclass
class SlackState:
    token: str = TOKEN
    app_token: str = APP_TOKEN
    socket_url: Callable[[], str] | None = None  # the ws:// URL apps.connections.open hands out
    channels: set[str] = field(default_factory=lambda: {CHANNEL})
    not_in: set[str] = field(default_factory=set)
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    usergroups: list[dict[str, Any]] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    responses: list[Call] = field(default_factory=list)  # response_url posts
    messages: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    failures: dict[str, list[Failure]] = field(default_factory=dict)
    upload_fails: bool = False
    now: Callable[[], Any] | None = None


class SlackAPI(StandInServer):
    def __init__(self) -> None:
        super().__init__()
        self.state = SlackState()
        self._ts = itertools.count(1)
        self.api_url = f"{self.base}/api/"

    # --- for tests ----------------------------------------------------------------------

    def fail(self, method: str, *failures: Failure) -> None:
        with self._lock:
            self.state.failures.setdefault(method, []).extend(failures)

    def calls(self, method: str | None = None) -> list[Call]:
        with self._lock:
            return [c for c in self.state.calls if method is None or c.method == method]

    def assert_method_called(self, method: str, times: int | None = None) -> list[Call]:
        """The calls of one Web API method; fails if none (or not `times`)."""
        calls = self.calls(method)
        assert calls, f"{method} never called (called: {[c.method for c in self.calls()]})"
        if times is not None:
            assert len(calls) == times, f"{method} called {len(calls)} times, not {times}"
        return calls

    def responses(self) -> list[Call]:
        with self._lock:
            return list(self.state.responses)

    def response_url(self, name: str = "r") -> str:
        return f"{self.base}/respond/{name}"

    # --- the fake service ---------------------------------------------------------------

    def handle(self, request: Request) -> Reply:
        if request.path.startswith("/upload/"):
            with self._lock:
                self.state.calls.append(Call("upload", {"bytes": len(request.raw)}))
            return Reply(500 if self.state.upload_fails else 200, b"OK", "text/plain")
        body = parse_body(request.raw, request.headers.get("Content-Type", ""))
        if request.path.startswith("/respond/"):
            with self._lock:
                self.state.responses.append(Call(request.path, body))
            return Reply.text("ok")
        if not request.path.startswith("/api/"):
            return Reply.text("not found", 404)
        method = request.path[len("/api/") :]
        status, data, extra = self._answer(method, request.headers, body)
        return Reply.json(data, status, extra)

    def _answer(
        self, method: str, headers: Message, body: dict[str, Any]
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        st = self.state
        with self._lock:
            queue = st.failures.get(method)
            failure = queue.pop(0) if queue else None
            st.calls.append(Call(method, body, st.now() if st.now else None))
        if failure is not None:
            extra = {}
            if failure.retry_after is not None:
                extra["Retry-After"] = str(int(failure.retry_after))
            if failure.status != 200:
                return failure.status, {"ok": False, "error": failure.error or "ratelimited"}, extra
            return 200, {"ok": False, "error": failure.error}, extra
        token = st.app_token if method == "apps.connections.open" else st.token
        if headers.get("Authorization") != f"Bearer {token}":
            return 200, {"ok": False, "error": "invalid_auth"}, {}
        fn = getattr(self, "_m_" + method.replace(".", "_"), None)
        if fn is None:
            return 200, {"ok": False, "error": "unknown_method"}, {}
        return 200, fn(body), {}

    def _check_channel(self, channel: str) -> str | None:
        if channel not in self.state.channels:
            return "channel_not_found"
        if channel in self.state.not_in:
            return "not_in_channel"
        return None

    def _check_message(self, body: dict[str, Any]) -> str | None:
        text, blocks = body.get("text"), body.get("blocks")
        if not text and not blocks:
            return "no_text"
        if isinstance(text, str) and len(text) > 40000:
            return "msg_too_long"
        if blocks is not None:
            if isinstance(blocks, str):
                blocks = json.loads(blocks)
            if block_problems(blocks):
                return "invalid_blocks"
        return None

    def _m_auth_test(self, body: dict) -> dict:
        return {"ok": True, "user_id": "UBOT", "bot_id": "BBOT", "team_id": "T1", "team": "T"}

    def _m_chat_postMessage(self, body: dict) -> dict:
        channel = body.get("channel", "")
        error = self._check_channel(channel) or self._check_message(body)
        if error:
            return {"ok": False, "error": error}
        ts = f"1700000000.{next(self._ts):06d}"
        with self._lock:
            self.state.messages[(channel, ts)] = body
        return {"ok": True, "channel": channel, "ts": ts, "message": {"text": body.get("text")}}

    def _m_chat_update(self, body: dict) -> dict:
        channel, ts = body.get("channel", ""), body.get("ts", "")
        error = self._check_channel(channel) or self._check_message(body)
        if error:
            return {"ok": False, "error": error}
        with self._lock:
            if (channel, ts) not in self.state.messages:
                return {"ok": False, "error": "message_not_found"}
            self.state.messages[(channel, ts)] = body
        return {"ok": True, "channel": channel, "ts": ts}

    def _m_apps_connections_open(self, body: dict) -> dict:
        if self.state.socket_url is None:
            return {"ok": False, "error": "not_allowed_token_type"}
        return {"ok": True, "url": self.state.socket_url()}

    def _m_users_info(self, body: dict) -> dict:
        user = self.state.users.get(body.get("user", ""))
        return {"ok": True, "user": user} if user else {"ok": False, "error": "user_not_found"}

    def _m_usergroups_list(self, body: dict) -> dict:
        return {"ok": True, "usergroups": self.state.usergroups}

    def _m_files_getUploadURLExternal(self, body: dict) -> dict:
        return {"ok": True, "upload_url": f"{self.base}/upload/F1", "file_id": "F1"}

    def _m_files_completeUploadExternal(self, body: dict) -> dict:
        error = self._check_channel(body.get("channel_id", ""))
        if error:
            return {"ok": False, "error": error}
        return {"ok": True, "files": [{"id": "F1", "title": "chart"}]}


def parse_body(raw: bytes, ctype: str) -> dict[str, Any]:
    if ctype.startswith("application/json"):
        return json.loads(raw or b"{}")
    if ctype.startswith("application/x-www-form-urlencoded"):
        form = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
        for key in ("blocks", "files"):
            if isinstance(form.get(key), str):
                form[key] = json.loads(form[key])
        return form
    return {"raw": raw.decode("utf-8", errors="replace")}
