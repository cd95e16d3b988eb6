"""A stand-in for DingTalk's Stream gateway on 127.0.0.1.

dingtalk-stream's client POSTs its credentials and subscriptions to
`{DINGTALK_OPENAPI_ENDPOINT}/v1.0/gateway/connections/open`, gets a websocket endpoint and
a ticket, and connects to `endpoint?ticket=...`. Here the HTTP half (a tests/standin server) checks the
credentials and hands out this server's ws:// URL with a fresh ticket; the websocket half
sends CALLBACK frames (an @bot message) and SYSTEM frames (`disconnect`), and keeps the
client's acks ({"code", "headers": {"messageId"}, ...}) with the time they arrived.
"""

from __future__ import annotations

import itertools
import json
import time
from typing import Any

from dingtalk_stream import ChatbotMessage

from tests.standin.base import Reply, Request, StandInServer
from tests.wsstandin import WsStandIn

OPEN_PATH = "/v1.0/gateway/connections/open"
_ids = itertools.count(1)


class ConnectionsOpen(StandInServer):
    """The HTTP half: checks the app's credentials, hands out a ws:// URL and a ticket."""

    def __init__(self, gateway: Gateway) -> None:
        super().__init__()
        self.gateway = gateway
        self._tickets = itertools.count(1)

    def handle(self, request: Request) -> Reply:
        body = request.json()
        if request.path != OPEN_PATH:
            return Reply.json({"code": "NotFound"}, 404)
        credentials = (body.get("clientId"), body.get("clientSecret"))
        if credentials != (self.gateway.client_id, self.gateway.client_secret):
            return Reply.json({"code": "InvalidAuthentication"}, 401)
        ticket = f"tk-{next(self._tickets)}"
        return Reply.json({"endpoint": self.gateway.url("/connect"), "ticket": ticket})


class Gateway(WsStandIn):
    def __init__(self, client_id: str, client_secret: str) -> None:
        super().__init__()
        self.client_id, self.client_secret = client_id, client_secret
        self.http = ConnectionsOpen(self)
        self.endpoint = self.http.base

    @property
    def opens(self) -> list[dict[str, Any]]:
        """Each connections/open request body."""
        return [r.json() for r in self.http.recorded]

    def __enter__(self) -> Gateway:
        self.http.__enter__()
        super().__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        super().__exit__(*exc)
        self.http.__exit__(*exc)

    def message(self, payload: dict[str, Any], conn: int | None = None) -> tuple[str, float]:
        """Send an @bot message as a CALLBACK frame; (the frame's messageId, when sent)."""
        frame_id = f"frame-{next(_ids)}"
        frame = {
            "specVersion": "1.0",
            "type": "CALLBACK",
            "headers": {
                "topic": ChatbotMessage.TOPIC,
                "messageId": frame_id,
                "contentType": "application/json",
                "appId": "app-1",
                "time": str(int(time.time() * 1000)),
            },
            "data": json.dumps(payload, ensure_ascii=False),
        }
        return frame_id, self.send(frame, conn)

    def disconnect(self, conn: int | None = None) -> str:
        frame_id = f"sys-{next(_ids)}"
        self.send(
            {
                "specVersion": "1.0",
                "type": "SYSTEM",
                "headers": {"topic": "disconnect", "messageId": frame_id},
                "data": json.dumps({"reason": "the gateway is restarting"}),
            },
            conn,
        )
        return frame_id

    def ack_of(self, frame_id: str, timeout: float = 5.0):
        return self.wait(
            lambda: next(
                (
                    r
                    for r in self.received
                    if (r.data.get("headers") or {}).get("messageId") == frame_id
                ),
                None,
            ),
            timeout,
        )
