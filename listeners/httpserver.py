"""The HTTP servers Buzzwatch listens with: the push endpoint, Slack's HTTP mode and
DingTalk's callback and ack pages.

The standard library's threading server listens with a backlog of 5 and starts a thread
per connection without limit: a burst of a few hundred connections is mostly reset by
the kernel, and a flood starts thousands of threads. Here the kernel queues up to
BACKLOG connections while at most MAX_WORKERS requests are being handled; a connection
waits in the queue until a worker is free. A port that cannot be had is a ConfigError
naming the setting, not a traceback.

A client that sends its request a byte at a time (each byte inside any read timeout)
would hold a worker for as long as it likes, and MAX_WORKERS such clients would lock
every other request out. Each connection therefore has CONNECTION_DEADLINE seconds in
all: then its socket is shut down and the worker is free again. Real requests here
(a Slack command, a DingTalk callback, a pushed batch) take milliseconds.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from socketserver import BaseServer, ThreadingMixIn
from typing import TYPE_CHECKING, Any, TypeVar

from core.config import ConfigError

log = logging.getLogger("buzzwatch.http")

BACKLOG = 1024  # the kernel caps it at net.core.somaxconn (4096 on current Linux)
MAX_WORKERS = 32  # requests handled at once per server; more wait in the backlog
CONNECTION_DEADLINE = 20.0  # seconds a connection may take in all, request and answer


# The mixin goes before a server class (HTTPServer, WSGIServer) and uses its methods; the type
# checker is told so. At run time it is a plain mixin, as ThreadingMixIn is.
if TYPE_CHECKING:
    _MixedInto = BaseServer
else:
    _MixedInto = object


class BoundedThreads(ThreadingMixIn, _MixedInto):
    """A thread per request, at most `max_workers` at once, and a real listen backlog."""

    daemon_threads = True
    request_queue_size = BACKLOG
    max_workers = MAX_WORKERS
    connection_deadline = CONNECTION_DEADLINE

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._slots = threading.BoundedSemaphore(self.max_workers)
        self._stopping = threading.Event()
        super().__init__(*args, **kwargs)

    def process_request(self, request: Any, client_address: Any) -> None:
        # Waiting here stops the accept loop, so new connections queue in the backlog.
        while not self._slots.acquire(timeout=0.25):
            if self._stopping.is_set():
                self.shutdown_request(request)
                return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        cutoff = threading.Timer(self.connection_deadline, _cut, args=(request,))
        cutoff.daemon = True
        cutoff.start()
        try:
            super().process_request_thread(request, client_address)
        finally:
            cutoff.cancel()
            self._slots.release()

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hangs up or stalls is routine; the default prints a traceback.
        err = sys.exc_info()[1]
        if isinstance(err, (ConnectionError, TimeoutError)):
            log.debug("connection from %s ended: %r", client_address[0], err)
            return
        # Anything else is a request that failed here (a full disk under an ack): say so.
        log.error(
            "a request from %s failed: %s",
            client_address[0],
            f"{type(err).__name__}: {err}",
            exc_info=log.isEnabledFor(logging.DEBUG),
        )

    def stop(self) -> None:
        """Stop serving and close the listening socket."""
        self._stopping.set()
        self.shutdown()
        self.server_close()


def _cut(request: Any) -> None:
    """End a connection that outlived its deadline: its blocked read returns at once."""
    with contextlib.suppress(OSError):  # already closed
        request.shutdown(socket.SHUT_RDWR)


class Server(BoundedThreads, HTTPServer):
    """For BaseHTTPRequestHandler handlers."""


ServerT = TypeVar("ServerT", bound=HTTPServer)


def listen(
    server_class: type[ServerT],
    host: str,
    port: int,
    handler: type[BaseHTTPRequestHandler],
    setting: str,
) -> ServerT:
    """`server_class((host, port), handler)`, or a ConfigError that names `setting`."""
    try:
        return server_class((host, port), handler)
    except OSError as err:
        raise ConfigError(f"{setting}: cannot listen on {host}:{port}: {why(err)}") from None


def answer_json(
    handler: BaseHTTPRequestHandler, status: int, body: dict[str, Any], close: bool = False
) -> None:
    """Answer a request with `body` as UTF-8 JSON; `close`: and end the connection."""
    data = json.dumps(body, ensure_ascii=False).encode("utf-8")
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json; charset=utf-8")
    handler.send_header("Content-Length", str(len(data)))
    if close:
        handler.send_header("Connection", "close")
    handler.end_headers()
    handler.wfile.write(data)
    if close:
        handler.close_connection = True


def why(err: OSError) -> str:
    if err.errno == errno.EADDRINUSE:
        return (
            "the port is in use (by another program, or another Buzzwatch);"
            " stop that or choose another port"
        )
    if err.errno == errno.EADDRNOTAVAIL:
        return "this machine has no such address"
    if err.errno == errno.EACCES:
        return "permission denied (ports below 1024 need privileges)"
    return err.strerror or str(err)
