"""A stand-in for DingTalk's Stream gateway on 127.0.0.1.

dingtalk-stream's client POSTs its credentials and subscriptions to
`{DINGTALK_OPENAPI_ENDPOINT}/v1.0/gateway/connections/open`, gets a websocket endpoint and
a ticket, and connects to `endpoint?ticket=...`. Here the HTTP half checks the
credentials and hands out this server's ws:// URL with a fresh ticket; the websocket half
sends CALLBACK frames (an @bot message) and SYSTEM frames (`disconnect`), and keeps the
client's acks ({"code", "headers": {"messageId"}, ...}) with the time they arrived.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from dingtalk_stream import ChatbotMessage

from tests.wsstandin import WsStandIn

OPEN_PATH = "/v1.0/gateway/connections/open"
_ids = itertools.count(1)


class Gateway(WsStandIn):
    def __init__(self, client_id: str, client_secret: str) -> None:
        super().__init__()
        self.client_id, self.client_secret = client_id, client_secret
        self.opens: list[dict[str, Any]] = []  # each connections/open request body
        self._tickets = itertools.count(1)
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with gateway._cond:
                    gateway.opens.append(body)
                if self.path != OPEN_PATH:
                    status, answer = 404, {"code": "NotFound"}
                elif (body.get("clientId"), body.get("clientSecret")) != (client_id, client_secret):
                    status, answer = 401, {"code": "InvalidAuthentication"}
                else:
                    ticket = f"tk-{next(gateway._tickets)}"
                    status, answer = 200, {"endpoint": gateway.url("/connect"), "ticket": ticket}
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.http.daemon_threads = True
        self.endpoint = f"http://127.0.0.1:{self.http.server_address[1]}"

    def __enter__(self) -> Gateway:
        threading.Thread(target=self.http.serve_forever, daemon=True).start()
        super().__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        super().__exit__(*exc)
        self.http.shutdown()
        self.http.server_close()

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
