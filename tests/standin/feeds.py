"""A stand-in feed host: fixed feeds by path, 304s, slow, trickled, gzipped, oversized."""

from __future__ import annotations

import gzip
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from tests.standin.base import Reply, Request, StandInServer


@dataclass
class Route:
    body: bytes = b""
    status: int = 200
    content_type: str = "application/rss+xml; charset=utf-8"
    etag: str | None = None
    delay: float = 0.0  # seconds before the first byte
    trickle: float = 0.0  # seconds between 1 KB chunks
    gzip: bool = False
    headers: dict[str, str] = field(default_factory=dict)


class FeedServer(StandInServer):
    """Serves `routes[path]` (the path with its query); 404 for any other path."""

    def __init__(self) -> None:
        super().__init__()
        self.routes: dict[str, Route | Callable[[], Route]] = {}

    def handle(self, request: Request) -> Reply:
        route = self.routes.get(request.target)
        if callable(route):
            route = route()
        if route is None:
            return Reply(404, content_type=None)
        if route.delay:
            time.sleep(route.delay)
        if route.etag and request.headers.get("If-None-Match") == route.etag:
            return Reply(304, content_type=None, headers={"ETag": route.etag})
        headers = {}
        if route.gzip:
            headers["Content-Encoding"] = "gzip"
        if route.etag:
            headers["ETag"] = route.etag
        headers.update(route.headers)
        body = gzip.compress(route.body) if route.gzip else route.body
        return Reply(route.status, body, route.content_type, headers, route.trickle)


def rss(items: list[dict[str, str]], title: str = "test feed") -> bytes:
    """A small RSS 2.0 document; item values are inserted as given (tests pass XML-safe text)."""
    parts = [
        f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>{title}</title><link>http://127.0.0.1/</link><description>t</description>'
    ]
    for it in items:
        parts.append("<item>")
        for key, value in it.items():
            parts.append(f"<{key}>{value}</{key}>")
        parts.append("</item>")
    parts.append("</channel></rss>")
    return "".join(parts).encode("utf-8")
