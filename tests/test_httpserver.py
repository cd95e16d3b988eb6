"""listeners/httpserver.py: what a handler's failure leaves in the log."""

from __future__ import annotations

import logging
import socket
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler

import pytest

from listeners.httpserver import Server, listen


class Failing(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        raise RuntimeError("the ack could not be stored")

    def log_message(self, *args: object) -> None:
        pass


def test_a_handler_that_fails_is_logged_as_an_error_not_hidden(
    caplog: pytest.LogCaptureFixture,
) -> None:
    server = listen(Server, "127.0.0.1", 0, Failing, "test.port")
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with caplog.at_level(logging.INFO), pytest.raises((urllib.error.URLError, OSError)):
            url = f"http://127.0.0.1:{server.server_address[1]}/"
            urllib.request.urlopen(url, timeout=10)
    finally:
        server.stop()
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors and "the ack could not be stored" in errors[0].getMessage()


class Hello(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"hello"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


class OneWorker(Server):
    max_workers = 1
    connection_deadline = 1.0


def test_a_client_that_dribbles_its_request_cannot_hold_the_only_worker() -> None:
    # The slow client takes the one worker and sends a byte every 0.2 s, never finishing its
    # headers; without a per-connection deadline the next request would wait for ever.
    server = listen(OneWorker, "127.0.0.1", 0, Hello, "test.port")
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    stop = threading.Event()
    cut = threading.Event()

    def dribble() -> None:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
            conn.sendall(b"GET / HTTP/1.1\r\n")
            try:
                while not stop.wait(0.2):
                    conn.sendall(b"X")
                    conn.settimeout(0.01)
                    try:
                        if conn.recv(1) == b"":
                            break
                    except TimeoutError:
                        pass
            except OSError:
                pass
            cut.set()

    slow = threading.Thread(target=dribble, daemon=True)
    slow.start()
    time.sleep(0.3)  # let the slow client take the worker first
    try:
        answer = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=30)
        assert answer.read() == b"hello"
        assert cut.wait(10), "the dribbling connection was never cut"
    finally:
        stop.set()
        server.stop()
