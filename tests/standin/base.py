"""One loopback HTTP server for every stand-in: recorded requests and call assertions.

A subclass answers each request in `handle` (a `Reply`); the base parses the request,
records it (in arrival order, under a lock), writes the reply and offers the assertions a
test makes about what was called. Only 127.0.0.1, port chosen by the OS, so stand-ins never
collide between tests or pytest-xdist workers.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit


@dataclass
class Request:
    verb: str  # GET, POST
    target: str  # the path with its query, as sent
    path: str  # without the query
    query: dict[str, str]
    headers: Message  # case-insensitive, as HTTP headers are
    raw: bytes

    def json(self) -> Any:
        return json.loads(self.raw or b"{}")


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    content_type: str | None = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    trickle: float = 0.0  # seconds between 1 KB chunks (no Content-Length, then close)

    @classmethod
    def json(cls, data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Reply:
        return cls(status, json.dumps(data).encode(), "application/json", headers or {})

    @classmethod
    def text(cls, text: str, status: int = 200) -> Reply:
        return cls(status, text.encode(), "text/plain")


class StandInServer:
    """Subclasses implement `handle`; tests use `url`, `recorded` and the assertions."""

    def __init__(self) -> None:
        self.recorded: list[Request] = []  # every request, in arrival order
        self._lock = threading.RLock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._httpd.daemon_threads = True
        self.port: int = self._httpd.server_address[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def handle(self, request: Request) -> Reply:
        raise NotImplementedError

    def address(self, path: str = "/") -> str:
        return self.base + path

    # --- call assertions ----------------------------------------------------------------

    def requests_to(self, path: str, verb: str | None = None) -> list[Request]:
        """Recorded requests to `path` (without its query), optionally of one verb."""
        with self._lock:
            return [r for r in self.recorded if r.path == path and (verb is None or r.verb == verb)]

    def assert_called(self, path: str, times: int | None = None) -> list[Request]:
        calls = self.requests_to(path)
        seen = sorted({r.path for r in self.recorded})
        assert calls, f"{path} was never called (called: {seen})"
        if times is not None:
            assert len(calls) == times, f"{path} called {len(calls)} times, expected {times}"
        return calls

    def assert_not_called(self, path: str) -> None:
        calls = self.requests_to(path)
        assert not calls, f"{path} was called {len(calls)} times: {[c.target for c in calls]}"

    # --- the server ---------------------------------------------------------------------

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def _record(self, request: Request) -> None:
        with self._lock:
            self.recorded.append(request)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                self._serve("GET")

            def do_POST(self) -> None:
                self._serve("POST")

            def _serve(self, verb: str) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                parts = urlsplit(self.path)
                request = Request(
                    verb,
                    self.path,
                    parts.path,
                    {k: v[0] for k, v in parse_qs(parts.query).items()},
                    self.headers,
                    raw,
                )
                standin._record(request)
                self._write(standin.handle(request))

            def _write(self, reply: Reply) -> None:
                self.send_response(reply.status)
                if reply.content_type:
                    self.send_header("Content-Type", reply.content_type)
                for k, v in reply.headers.items():
                    self.send_header(k, v)
                if not reply.trickle and reply.status != 304:
                    self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                try:
                    if reply.trickle:
                        for i in range(0, len(reply.body), 1024):
                            self.wfile.write(reply.body[i : i + 1024])
                            self.wfile.flush()
                            time.sleep(reply.trickle)
                    else:
                        self.wfile.write(reply.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a deadline test), as it may
                if reply.trickle:
                    self.close_connection = True

        return Handler
