"""listeners/httpserver.py: what a handler's failure leaves in the log."""

from __future__ import annotations

import logging
import threading
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
