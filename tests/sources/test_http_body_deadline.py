"""The fetch deadline and Fetcher.stop() cover every wait of a fetch: a body that trickles
in (each read well inside the read timeout) and the host name's lookup."""

from __future__ import annotations

import socket
import threading

import pytest

from core.config import FetchConfig
from sources.http import Fetcher, FetchError
from tests.feedserver import rss


class TricklingBody:
    """Sends full headers (with Content-Length), then the body a byte every 0.1 s."""

    def __init__(self) -> None:
        self.body = rss([{"title": f"story {i}", "guid": f"g{i}"} for i in range(20)])
        self.stopping = threading.Event()
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        threading.Thread(target=self._serve, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}/feed.xml"

    def _serve(self) -> None:
        try:
            conn, _ = self.sock.accept()
        except OSError:
            return
        with conn:
            try:
                conn.recv(65536)
                conn.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\n"
                    b"Content-Length: %d\r\n\r\n" % len(self.body)
                )
                for byte in self.body:
                    if self.stopping.wait(0.1):
                        return
                    conn.sendall(bytes([byte]))
            except OSError:
                pass

    def close(self) -> None:
        self.stopping.set()
        self.sock.close()


def test_a_body_sent_a_byte_at_a_time_ends_at_the_deadline() -> None:
    server = TricklingBody()
    fetcher = Fetcher(FetchConfig(allow_hosts=["127.0.0.1"], read_timeout="1s", deadline="1s"))
    try:
        with pytest.raises(FetchError, match="no complete answer within the 1s deadline"):
            fetcher.get(server.url)
    finally:
        fetcher.close()
        server.close()
