"""A websocket server on 127.0.0.1 for driving the chat SDKs' real clients in tests.

Built on `websockets`' threaded server. It greets each new connection (`greet`), keeps
every text frame a client sends with the time it arrived, and lets a test send frames to
the newest connection. Slack's Socket Mode and DingTalk's Stream gateway stand-ins build
on it (tests/slack/socket_mode.py, tests/dingtalk/gateway.py).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from websockets.exceptions import ConnectionClosed
from websockets.sync.server import ServerConnection, serve


@dataclass
class Received:
    conn: int  # which connection (0 = the first the client opened)
    data: dict[str, Any]
    at: float  # time.monotonic() when it arrived


class WsStandIn:
    def __init__(self, greet: Callable[[int, str], list[dict[str, Any]]] | None = None) -> None:
        self.greet = greet or (lambda n, path: [])
        self.received: list[Received] = []
        self.paths: list[str] = []  # the request path (with query) of each connection
        self._conns: list[ServerConnection] = []
        self._cond = threading.Condition()
        self.server = serve(self._handle, "127.0.0.1", 0, compression=None)
        self.port = self.server.socket.getsockname()[1]
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path: str = "/") -> str:
        return f"ws://127.0.0.1:{self.port}{path}"

    def __enter__(self) -> WsStandIn:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self._thread.join(5)

    # --- for tests ----------------------------------------------------------------------

    def connections(self) -> int:
        with self._cond:
            return len(self._conns)

    def send(self, frame: dict[str, Any], conn: int | None = None) -> float:
        """Send a frame to connection `conn` (default: the newest); the time it was sent."""
        with self._cond:
            ws = self._conns[-1 if conn is None else conn]
        sent = time.monotonic()
        ws.send(json.dumps(frame, ensure_ascii=False))
        return sent

    def close(self, conn: int) -> None:
        with self._cond:
            ws = self._conns[conn]
        ws.close()

    def wait(self, check: Callable[[], Any], timeout: float = 5.0) -> Any:
        """Wait until `check()` is truthy (re-checked on every frame and connection)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                value = check()
                if value:
                    return value
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"timed out after {timeout} s; received {self.received}")
                self._cond.wait(min(left, 0.05))

    def wait_connections(self, n: int, timeout: float = 5.0) -> None:
        self.wait(lambda: len(self._conns) >= n, timeout)

    def reply_to(self, key: str, value: Any, timeout: float = 5.0) -> Received:
        """The first frame received whose `key` equals `value`, waiting for it."""
        return self.wait(
            lambda: next((r for r in self.received if r.data.get(key) == value), None), timeout
        )

    # --- the server -----------------------------------------------------------------------

    def _handle(self, ws: ServerConnection) -> None:
        with self._cond:
            n = len(self._conns)
            self._conns.append(ws)
            self.paths.append(ws.request.path if ws.request else "")
            self._cond.notify_all()
        try:
            for frame in self.greet(n, self.paths[n]):
                ws.send(json.dumps(frame))
            for message in ws:
                data = json.loads(message)
                with self._cond:
                    self.received.append(Received(n, data, time.monotonic()))
                    self._cond.notify_all()
        except ConnectionClosed:
            pass
