"""A stand-in for Slack's Socket Mode websocket on 127.0.0.1.

With tests/slack/slack_api.py answering apps.connections.open with this server's URL,
slack_sdk's real Socket Mode clients connect here: each connection is greeted with
`hello`, envelopes (slash commands, button clicks) go to the newest connection, and the
client's acks ({"envelope_id": ...}) are kept with the time they arrived. `disconnect`
asks the client to move to a new connection, as Slack does every few hours.
"""

from __future__ import annotations

import itertools
from typing import Any

from tests.standin.slack import SlackAPI
from tests.wsstandin import WsStandIn

_ids = itertools.count(1)


def hello(n: int, path: str) -> list[dict[str, Any]]:
    return [
        {
            "type": "hello",
            "num_connections": n + 1,
            "debug_info": {"host": "applink-stand-in", "approximate_connection_time": 18060},
            "connection_info": {"app_id": "A0APP"},
        }
    ]


class SocketModeServer(WsStandIn):
    def __init__(self, api: SlackAPI) -> None:
        super().__init__(greet=hello)
        self._tickets = itertools.count(1)
        api.state.socket_url = lambda: self.url(f"/link/?ticket=t{next(self._tickets)}")

    def envelope(self, kind: str, payload: dict[str, Any], conn: int | None = None) -> tuple:
        """Send an envelope; (its id, when it was sent)."""
        envelope_id = f"env-{next(_ids)}"
        frame = {
            "envelope_id": envelope_id,
            "type": kind,
            "accepts_response_payload": kind == "slash_commands",
            "retry_attempt": 0,
            "retry_reason": "",
            "payload": payload,
        }
        return envelope_id, self.send(frame, conn)

    def disconnect(self, conn: int | None = None) -> float:
        return self.send(
            {"type": "disconnect", "reason": "refresh_requested", "debug_info": {"host": "x"}},
            conn,
        )

    def ack_of(self, envelope_id: str, timeout: float = 5.0):
        return self.reply_to("envelope_id", envelope_id, timeout)
