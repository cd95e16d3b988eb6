"""A stand-in for a chat service's webhook on 127.0.0.1, for delivery fault tests.

Records every JSON body it accepts; `respond` decides each answer, so a test can make it
fail with 500s for a while, answer 429 with Retry-After, or refuse for good.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Answer = tuple[int, dict[str, str]]


class ChatServer:
    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []  # accepted messages, in arrival order
        self.attempts = 0
        self.respond: Callable[[dict[str, Any]], Answer] = lambda body: (200, {})
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length))
                with server._lock:
                    server.attempts += 1
                    status, headers = server.respond(body)
                    if status == 200:
                        server.received.append(body)
                        answer = json.dumps(
                            {"ok": True, "id": f"msg{len(server.received)}"}
                        ).encode()
                    else:
                        answer = json.dumps({"ok": False}).encode()
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}/hook"

    def __enter__(self) -> ChatServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
