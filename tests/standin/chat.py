"""A stand-in for a chat service's JSON webhook (POST /hook), for delivery fault tests.

Records every JSON body it accepts; `respond` decides each answer, so a test can make it
fail with 500s for a while, answer 429 with Retry-After, or refuse for good. A body that is
not JSON gets a 400, as a real webhook answers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.standin.base import Reply, Request, StandInServer

Answer = tuple[int, dict[str, str]]  # status, extra headers


class ChatServer(StandInServer):
    PATH = "/hook"

    def __init__(self) -> None:
        super().__init__()
        self.received: list[dict[str, Any]] = []  # accepted messages, in arrival order
        self.attempts = 0
        self.respond: Callable[[dict[str, Any]], Answer] = lambda body: (200, {})

    @property
    def url(self) -> str:
        return self.address(self.PATH)

    def handle(self, request: Request) -> Reply:
        try:
            body = request.json()
        except ValueError:
            return Reply.json({"ok": False, "error": "invalid_json"}, 400)
        with self._lock:
            self.attempts += 1
            status, headers = self.respond(body)
            if status != 200:
                return Reply.json({"ok": False}, status, headers)
            self.received.append(body)
            return Reply.json({"ok": True, "id": f"msg{len(self.received)}"}, 200, headers)
