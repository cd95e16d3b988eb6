"""Fetching feeds over HTTP without trusting the other end.

feedparser would fetch a URL itself with no timeout and no size limit, so Buzzwatch fetches
with httpx instead: connect and read timeouts, a total deadline, a byte cap counted after
decompression (a small gzip bomb cannot blow up memory), http/https only, every redirect
hop checked again, and conditional GET (ETag / Last-Modified) so an unchanged feed costs
a 304.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import httpx

from core.config import FetchConfig

MAX_REDIRECTS = 5


class FetchError(Exception):
    """Why a fetch failed, in words for the log and the health report."""


@dataclass
class FetchResult:
    url: str
    status: int
    content: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    etag: str | None = None
    last_modified: str | None = None

    @property
    def not_modified(self) -> bool:
        return self.status == 304


def check_scheme(url: str) -> None:
    scheme = urlsplit(url).scheme.lower()
    if scheme not in ("http", "https"):
        raise FetchError(f"refusing {scheme or 'scheme-less'} URL: only http and https are fetched")


def make_client(cfg: FetchConfig) -> httpx.Client:
    timeout = httpx.Timeout(
        connect=cfg.connect_timeout.total_seconds(),
        read=cfg.read_timeout.total_seconds(),
        write=cfg.read_timeout.total_seconds(),
        pool=cfg.connect_timeout.total_seconds(),
    )
    return httpx.Client(
        timeout=timeout,
        follow_redirects=False,  # followed by hand, so each hop is checked
        headers={
            "User-Agent": cfg.user_agent,
            "Accept": "application/rss+xml, application/atom+xml, application/xml;q=0.9, */*;q=0.5",
        },
        trust_env=False,
    )


def fetch(
    client: httpx.Client,
    url: str,
    cfg: FetchConfig,
    etag: str | None = None,
    last_modified: str | None = None,
    guard: Callable[[str], None] = check_scheme,
) -> FetchResult:
    """GET `url` within the config's limits. Raises FetchError with a readable reason."""
    deadline = time.monotonic() + cfg.deadline.total_seconds()
    headers = {}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    for _ in range(MAX_REDIRECTS + 1):
        guard(url)
        try:
            with client.stream("GET", url, headers=headers) as response:
                if response.status_code == 304:
                    return FetchResult(url, 304, etag=etag, last_modified=last_modified)
                if response.status_code in (301, 302, 303, 307, 308):
                    location = response.headers.get("location", "")
                    if not location:
                        raise FetchError(f"HTTP {response.status_code} redirect without a Location")
                    url = urljoin(url, location)
                    continue
                if response.status_code >= 400:
                    raise FetchError(
                        f"HTTP {response.status_code} {response.reason_phrase}".strip()
                    )
                declared = response.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > cfg.max_bytes:
                    raise FetchError(
                        f"feed is {int(declared):,} bytes, over the {cfg.max_bytes:,}-byte cap"
                    )
                content = _read_capped(response, cfg.max_bytes, deadline)
                return FetchResult(
                    url,
                    response.status_code,
                    content,
                    headers={k.lower(): v for k, v in response.headers.items()},
                    etag=response.headers.get("etag"),
                    last_modified=response.headers.get("last-modified"),
                )
        except httpx.TimeoutException as err:
            raise FetchError(f"timed out ({type(err).__name__})") from None
        except httpx.HTTPError as err:
            raise FetchError(f"{type(err).__name__}: {err}") from None
    raise FetchError(f"more than {MAX_REDIRECTS} redirects")


def _read_capped(response: httpx.Response, max_bytes: int, deadline: float) -> bytes:
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():  # decoded: the cap applies after decompression
        size += len(chunk)
        if size > max_bytes:
            raise FetchError(f"feed is over the {max_bytes:,}-byte cap")
        if time.monotonic() > deadline:
            raise FetchError("took longer than the total deadline")
        chunks.append(chunk)
    return b"".join(chunks)
