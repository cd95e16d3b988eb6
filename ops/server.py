"""The service endpoints, on `service: {host, port}`:

- `/healthz/live`: the process answers (200).
- `/healthz`: ready: the store answers and the scheduler runs (200, else 503); the checks
  in a small JSON body.
- `/metrics`: Prometheus text format.

The standard library's threaded HTTP server: two GET pages need no framework.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST

from ops.metrics import Metrics

log = logging.getLogger("buzzwatch.service")

Checks = Callable[[], dict[str, str]]  # name -> "ok" or what is wrong


class OpsServer:
    def __init__(self, host: str, port: int, metrics: Metrics, checks: Checks) -> None:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner._answer(self)

            def log_message(self, format: str, *args: object) -> None:
                log.debug("%s " + format, self.address_string(), *args)

        self.metrics, self.checks = metrics, checks
        self.httpd = ThreadingHTTPServer((host, port), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, name="service-http", daemon=True
        )

    def start(self) -> OpsServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and counting (again: nothing more)."""
        from core.domain import telemetry

        telemetry.install(None)
        if self._thread.is_alive():
            self.httpd.shutdown()
            self._thread.join()
        self.httpd.server_close()

    def _answer(self, req: BaseHTTPRequestHandler) -> None:
        path = req.path.split("?", 1)[0]
        if path == "/metrics":
            try:
                body, status, kind = self.metrics.render(), 200, CONTENT_TYPE_LATEST
            except Exception as err:  # the store is down: say so, do not die
                body, status, kind = f"metrics unavailable: {err}\n".encode(), 503, "text/plain"
        elif path == "/healthz/live":
            body, status, kind = b'{"status": "live"}\n', 200, "application/json"
        elif path == "/healthz":
            checks = self.checks()
            ready = all(v == "ok" for v in checks.values())
            status = 200 if ready else 503
            doc = {"status": "ready" if ready else "not ready", "checks": checks}
            body, kind = (json.dumps(doc) + "\n").encode(), "application/json"
        else:
            body, status, kind = b"not found\n", 404, "text/plain"
        req.send_response(status)
        req.send_header("Content-Type", kind)
        req.send_header("Content-Length", str(len(body)))
        req.end_headers()
        req.wfile.write(body)


def start_service(
    host: str, port: int, repo: Any, clock: Any, scheduler_running: Callable[[], bool]
) -> OpsServer:
    """Serve the endpoints and count core's events into the metrics, until stop()."""
    from core.domain import telemetry
    from rules.text import cap, one_line

    def checks() -> dict[str, str]:
        found = {"scheduler": "ok" if scheduler_running() else "not running"}
        try:
            repo.get_state("service:ping")  # one small read: the store answers
            found["storage"] = "ok"
        except Exception as err:
            found["storage"] = cap(one_line(str(err)) or type(err).__name__, 200)
        return found

    metrics = Metrics(repo, clock)
    server = OpsServer(host, port, metrics, checks).start()
    telemetry.install(metrics)
    log.info("service: /healthz and /metrics on http://%s:%d", host, server.port)
    return server
