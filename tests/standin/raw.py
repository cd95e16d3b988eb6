"""Raw TCP stand-ins on 127.0.0.1 for what an HTTP server library will not send: silence, a
header a byte at a time, a body that trickles in or is cut off half-way. The fetch tests hold
the deadline and Fetcher.stop() to them."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable


class RawServer:
    """Accepts every connection and runs `answer` on a thread of its own for it; the base
    answers nothing (the connection hangs until close()). Counts the connections."""

    def __init__(self) -> None:
        self.accepted = 0
        self.conns: list[socket.socket] = []
        self.stopping = threading.Event()
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}/feed.xml"

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            self.conns.append(conn)
            threading.Thread(target=self.answer, args=(conn,), daemon=True).start()

    def answer(self, conn: socket.socket) -> None:
        """What one connection gets (here: nothing)."""

    def close(self) -> None:
        self.stopping.set()
        self.sock.close()
        for conn in self.conns:
            conn.close()


FEED_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\n"


def feed_answer(conn: socket.socket, headers: bytes, send: Callable[[], None]) -> None:
    """Read the request, send a feed's status line and content type, `headers` (each ending
    in CRLF) and the blank line; then `send` the body. Closes the connection after; a client
    that hangs up is no error."""
    with conn:
        try:
            conn.recv(65536)
            conn.sendall(FEED_HEAD + headers + b"\r\n")
            send()
        except OSError:
            pass


class DribblingServer(RawServer):
    """Answers every request with a status line, then one header byte every `interval`
    seconds, each well inside a read timeout, so no single read ever times out. It gives up
    after `count` bytes; a connection the client closed before that is recorded as cut off."""

    def __init__(self, interval: float = 0.2, count: int = 75) -> None:
        self.interval, self.count = interval, count
        self.cut_off: list[bool] = []  # one entry per finished connection
        self.finished = threading.Event()
        super().__init__()

    def answer(self, conn: socket.socket) -> None:
        cut = False
        try:
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\nX-Slow: ")
            for _ in range(self.count):
                if self.stopping.wait(self.interval):
                    break
                conn.sendall(b"a")
        except OSError:  # the client hung up (broken pipe / reset)
            cut = True
        finally:
            conn.close()
            self.cut_off.append(cut)
            self.finished.set()


class TricklingBody(RawServer):
    """Sends full headers (with Content-Length), then `body` a byte every 0.1 s."""

    def __init__(self, body: bytes) -> None:
        self.body = body
        super().__init__()

    def answer(self, conn: socket.socket) -> None:
        def trickle() -> None:
            for byte in self.body:
                if self.stopping.wait(0.1):
                    return
                conn.sendall(bytes([byte]))

        feed_answer(conn, b"Content-Length: %d\r\n" % len(self.body), trickle)


class HalfFeedServer(RawServer):
    """Sends a feed with an ETag whose body ends when the connection closes (no
    Content-Length, no chunks): the first `cut_at` bytes at once, the rest after `release`
    is set."""

    def __init__(self, body: bytes, cut_at: int) -> None:
        self.body, self.cut_at = body, cut_at
        self.half_sent = threading.Event()
        self.release = threading.Event()
        super().__init__()

    def answer(self, conn: socket.socket) -> None:
        def in_halves() -> None:
            conn.sendall(self.body[: self.cut_at])
            self.half_sent.set()
            self.release.wait(30)
            conn.sendall(self.body[self.cut_at :])

        feed_answer(conn, b'ETag: "v1"\r\nConnection: close\r\n', in_halves)

    def close(self) -> None:
        self.release.set()
        super().close()
