"""Fetching feeds over HTTP without trusting the other end.

feedparser would fetch a URL itself with no timeout and no size limit, so Buzzwatch fetches
with httpx instead: connect and read timeouts, a total deadline, a byte cap counted on the
decompressed bytes as they are produced (a gzip bomb stops at about the cap), http/https
only, every redirect hop checked again, and conditional GET (ETag / Last-Modified) so an
unchanged feed costs a 304.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpcore
import httpx

from core.config import FetchConfig
from core.domain.durations import format_duration
from core.domain.notifier import retry_after_seconds
from sources.inflate import EncodingError, decoded
from sources.netguard import AddressPolicy, BlockedAddress, GuardedBackend, deadline_scope

MAX_REDIRECTS = 5
# A host that says 429/503 without Retry-After rests this long, doubling per repeat.
BACKOFF_FIRST = 30.0
BACKOFF_MAX = 3600.0


class FetchError(Exception):
    """Why a fetch failed, in words for the log and the health report."""

    def __init__(self, message: str, status: int | None = None, host: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.host = host


class FetchStopped(FetchError):
    """Buzzwatch is shutting down: the fetch was cut off, or not started."""

    deferred = True  # not the source's failure: it is polled again on the next start


class HostBackoff(FetchError):
    """The host asked us to slow down (429/503) and its pause is not over: not fetched."""

    deferred = True  # the poller does not count this as the source failing


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


def make_client(
    cfg: FetchConfig,
    policy: AddressPolicy | None = None,
    backend: GuardedBackend | None = None,
) -> httpx.Client:
    """An httpx client; with a policy, it connects only to addresses the policy allows
    (through `backend`, a GuardedBackend for that policy, when given)."""
    timeout = httpx.Timeout(
        connect=cfg.connect_timeout.total_seconds(),
        read=cfg.read_timeout.total_seconds(),
        write=cfg.read_timeout.total_seconds(),
        pool=cfg.connect_timeout.total_seconds(),
    )
    limits = httpx.Limits(
        max_connections=max(20, cfg.workers * 2), max_keepalive_connections=max(20, cfg.workers)
    )
    transport = httpx.HTTPTransport(limits=limits, trust_env=False)
    if backend is None and policy is not None:
        backend = GuardedBackend(policy)
    if backend is not None:
        # httpx has no parameter for httpcore's network backend; the pool it built has one.
        transport._pool._network_backend = backend
    return httpx.Client(
        transport=transport,
        timeout=timeout,
        follow_redirects=False,  # followed by hand, so each hop is checked
        headers={
            "User-Agent": cfg.user_agent,
            # Only what sources/inflate.py decodes, whatever optional decoders are installed.
            "Accept-Encoding": "gzip, deflate",
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
    *,
    guard: Callable[[str], None],
    gate: HostGate | None = None,
    stopping: threading.Event | None = None,
) -> FetchResult:
    """GET `url` within the config's limits. Raises FetchError with a readable reason.

    `guard(url)` checks every hop (scheme and address policy: Fetcher.guard); it has no
    default, so no caller fetches without the address checks by accident. `stopping`, once
    set, ends a wait for a host name's lookup (Fetcher.stop)."""
    gate = gate or HostGate(per_host=1_000_000)  # no politeness asked for
    deadline = time.monotonic() + cfg.deadline.total_seconds()
    # The client's streams (GuardedBackend) end every connect, handshake, read and write at
    # the deadline, so a server dribbling its headers a byte at a time is cut off too; name
    # lookups end at it as well.
    with deadline_scope(deadline, stopping) as scope:
        try:
            return _fetch(client, url, cfg, etag, last_modified, guard, gate, deadline)
        except FetchError as err:
            if scope.hit:
                raise FetchError(_past_deadline(cfg), err.status, err.host) from None
            raise


def _past_deadline(cfg: FetchConfig) -> str:
    seconds = cfg.deadline.total_seconds()
    spelled = format_duration(cfg.deadline) if seconds == int(seconds) else f"{seconds:g}s"
    return f"timed out: no complete answer within the {spelled} deadline"


def _fetch(
    client: httpx.Client,
    url: str,
    cfg: FetchConfig,
    etag: str | None,
    last_modified: str | None,
    guard: Callable[[str], None],
    gate: HostGate,
    deadline: float,
) -> FetchResult:
    headers = {}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    for _ in range(MAX_REDIRECTS + 1):
        guard(url)
        host = host_key(url)
        try:
            with (
                gate.slot(host, deadline),
                client.stream(
                    "GET", url, headers=headers, timeout=_timeouts(cfg, deadline)
                ) as response,
            ):
                if response.status_code == 304:
                    return FetchResult(url, 304, etag=etag, last_modified=last_modified)
                if response.status_code in (301, 302, 303, 307, 308):
                    location = response.headers.get("location", "")
                    if not location:
                        raise FetchError(f"HTTP {response.status_code} redirect without a Location")
                    url = urljoin(url, location)
                    continue
                if response.status_code in (429, 503):
                    wait = gate.pause(host, response.headers.get("retry-after"))
                    raise FetchError(
                        f"HTTP {response.status_code} {response.reason_phrase}; "
                        f"{host} rests for {wait:.0f}s".strip(),
                        response.status_code,
                        host,
                    )
                if response.status_code >= 400:
                    raise FetchError(
                        f"HTTP {response.status_code} {response.reason_phrase}".strip(),
                        response.status_code,
                        host,
                    )
                gate.ok(host)
                declared = response.headers.get("content-length", "")
                if declared.isascii() and declared.isdigit() and int(declared) > cfg.max_bytes:
                    raise FetchError(
                        f"feed is {int(declared):,} bytes, over the {cfg.max_bytes:,}-byte cap"
                    )
                content = _read_capped(response, cfg)
                return FetchResult(
                    url,
                    response.status_code,
                    content,
                    headers={k.lower(): v for k, v in response.headers.items()},
                    etag=response.headers.get("etag"),
                    last_modified=response.headers.get("last-modified"),
                )
        except httpx.TimeoutException as err:
            raise FetchError(f"timed out ({type(err).__name__})", host=host) from None
        except httpx.HTTPError as err:
            raise FetchError(f"{type(err).__name__}: {err}", host=host) from None
        except httpx.InvalidURL as err:  # e.g. a redirect to "http:host/path"
            raise FetchError(f"bad URL on the way to the feed: {err}", host=host) from None
    raise FetchError(f"more than {MAX_REDIRECTS} redirects")


def _timeouts(cfg: FetchConfig, deadline: float) -> httpx.Timeout:
    """The client's timeouts, none longer than what is left before the deadline (the wait for
    a pooled connection is not a socket operation, so the backend cannot cut it)."""
    left = max(0.0, deadline - time.monotonic())
    connect = min(cfg.connect_timeout.total_seconds(), left)
    read = min(cfg.read_timeout.total_seconds(), left)
    return httpx.Timeout(connect=connect, read=read, write=read, pool=connect)


def _read_capped(response: httpx.Response, cfg: FetchConfig) -> bytes:
    """The body, at most the configured size once decoded. The body is decoded here, a
    bounded piece at a time (sources/inflate.py), so the cap bites as the bytes are made:
    a gzip bomb is stopped with about the cap in memory. The deadline needs no check here:
    every read of the body waits at most until it (DeadlineStream)."""
    max_bytes = cfg.max_bytes
    chunks: list[bytes] = []
    size = 0
    try:
        raw = _capped_raw(response.iter_raw(), max_bytes)
        for piece in decoded(raw, response.headers.get("content-encoding", "")):
            size += len(piece)
            if size > max_bytes:
                raise FetchError(f"feed is over the {max_bytes:,}-byte cap")
            chunks.append(piece)
    except EncodingError as err:
        raise FetchError(str(err)) from None
    return b"".join(chunks)


def _capped_raw(chunks: Iterator[bytes], max_bytes: int) -> Iterator[bytes]:
    """The body as sent, at most `max_bytes` of it too: data that decodes to nothing (empty
    deflate blocks, junk after the end of the gzip stream) is not read without end."""
    size = 0
    for chunk in chunks:
        size += len(chunk)
        if size > max_bytes:
            raise FetchError(f"feed is over the {max_bytes:,}-byte cap")
        yield chunk


def host_key(url: str) -> str:
    """host[:port], the unit of politeness."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = None
    host = (parts.hostname or "").lower()
    return f"{host}:{port}" if port else host


class HostGate:
    """Politeness per host: at most `per_host` requests at once, and a rest after a 429 or
    503 (as long as Retry-After says, capped at an hour; else 30 s doubling per repeat).
    Sources on a resting host are not fetched until the rest is over."""

    def __init__(self, per_host: int, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.per_host = per_host
        self.monotonic = monotonic
        self._lock = threading.Lock()
        self._slots: dict[str, threading.BoundedSemaphore] = {}
        self._rest_until: dict[str, float] = {}
        self._strikes: dict[str, int] = {}

    def resting(self, host: str) -> float:
        """Seconds `host` still rests, 0 if it does not."""
        with self._lock:
            return max(0.0, self._rest_until.get(host, 0.0) - self.monotonic())

    @contextmanager
    def slot(self, host: str, deadline: float) -> Iterator[None]:
        rest = self.resting(host)
        if rest > 0:
            raise HostBackoff(f"{host} asked us to slow down; resting {rest:.0f}s more", host=host)
        with self._lock:
            sem = self._slots.setdefault(host, threading.BoundedSemaphore(self.per_host))
        if not sem.acquire(timeout=max(0.0, deadline - time.monotonic())):
            raise FetchError(f"no free connection to {host} before the deadline", host=host)
        try:
            rest = self.resting(host)  # it may have said 429 while we waited for the slot
            if rest > 0:
                raise HostBackoff(
                    f"{host} asked us to slow down; resting {rest:.0f}s more", host=host
                )
            yield
        finally:
            sem.release()

    def pause(self, host: str, retry_after: str | None) -> float:
        with self._lock:
            strikes = self._strikes.get(host, 0) + 1
            self._strikes[host] = strikes
            wait = retry_after_seconds(retry_after)
            if wait is None:
                wait = BACKOFF_FIRST * 2 ** (strikes - 1)
            wait = min(wait, BACKOFF_MAX)
            self._rest_until[host] = max(self._rest_until.get(host, 0.0), self.monotonic() + wait)
            return wait

    def ok(self, host: str) -> None:
        if host in self._strikes:
            with self._lock:
                self._strikes.pop(host, None)


STOPPING = "not fetched: Buzzwatch is shutting down"


class StoppableBackend(GuardedBackend):
    """A GuardedBackend whose connections `stop()` cuts from another thread, so a shutdown
    does not wait for a slow or hanging server up to the fetch deadline: each open socket is
    shut down (which wakes a read or write blocked on it), and no connection, read or write
    starts after it. A TLS handshake under way is the one wait left (its connect timeout)."""

    def __init__(self, policy: AddressPolicy) -> None:
        super().__init__(policy)
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._open: set[_CuttableStream] = set()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        if self.stopping.is_set():
            raise httpcore.ConnectError(STOPPING)
        inner = super().connect_tcp(host, port, timeout, local_address, socket_options)
        stream = _CuttableStream(inner, self)
        with self._lock:
            self._open.add(stream)
        if self.stopping.is_set():  # stop() ran while this one was connecting
            stream.cut()
        return stream

    def stop(self) -> None:
        self.stopping.set()
        with self._lock:
            streams = list(self._open)
        for stream in streams:
            stream.cut()

    def _closed(self, stream: _CuttableStream) -> None:
        with self._lock:
            self._open.discard(stream)


class _CuttableStream(httpcore.NetworkStream):
    def __init__(self, stream: httpcore.NetworkStream, backend: StoppableBackend) -> None:
        self._stream = stream
        self._backend = backend

    def _check(self, error: type[Exception]) -> None:
        if self._backend.stopping.is_set():
            raise error(STOPPING)

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        self._check(httpcore.ReadError)
        data = self._stream.read(max_bytes, timeout)
        # A cut() wakes a blocked read with b"", which for a body delimited by the closing of
        # the connection (no Content-Length, no chunks) would look like its normal end.
        self._check(httpcore.ReadError)
        return data

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._check(httpcore.WriteError)
        self._stream.write(buffer, timeout)

    def close(self) -> None:
        self._backend._closed(self)
        self._stream.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        self._check(httpcore.ConnectError)
        # The TLS stream takes over the socket; this wrapper goes on standing for it.
        self._stream = self._stream.start_tls(ssl_context, server_hostname, timeout)
        if self._backend.stopping.is_set():
            self.cut()
        return self

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)

    def cut(self) -> None:
        """Shut the socket down: a read blocked on it returns at once (end of stream)."""
        sock = self._stream.get_extra_info("socket")
        if not isinstance(sock, socket.socket):
            return
        # The plain socket's shutdown, also for a TLS one: no TLS state is touched under a
        # thread that may be reading it. OSError: already closed, or mid-TLS-handshake.
        with contextlib.suppress(OSError):
            socket.socket.shutdown(sock, socket.SHUT_RDWR)


class Fetcher:
    """The one way sources fetch: the config's limits, the address policy on every hop,
    and politeness per host. Shared by every source (one connection pool)."""

    def __init__(self, cfg: FetchConfig, policy: AddressPolicy | None = None) -> None:
        self.cfg = cfg
        self.policy = policy or AddressPolicy(cfg.allow_hosts)
        self.backend = StoppableBackend(self.policy)
        self.client = make_client(cfg, self.policy, self.backend)
        self.gate = HostGate(cfg.per_host)

    def stop(self) -> None:
        """Shutting down: fetches in flight end now and new ones do not start; both raise
        FetchStopped (a deferral, not a failure of the source). Safe from any thread."""
        self.backend.stop()

    def guard(self, url: str) -> None:
        try:
            self.policy.check_url(url)
        except BlockedAddress as err:
            raise FetchError(str(err), host=host_key(url)) from None

    def get(
        self, url: str, etag: str | None = None, last_modified: str | None = None
    ) -> FetchResult:
        if self.backend.stopping.is_set():
            raise FetchStopped(STOPPING, host=host_key(url))
        try:
            result = fetch(
                self.client,
                url,
                self.cfg,
                etag,
                last_modified,
                guard=self.guard,
                gate=self.gate,
                stopping=self.backend.stopping,
            )
        except FetchError:
            if self.backend.stopping.is_set():  # cut off by stop(): whatever it looked like
                raise FetchStopped(STOPPING, host=host_key(url)) from None
            raise
        if self.backend.stopping.is_set():
            # It ended after stop(): the body may be cut short in a way that looks complete,
            # and storing it with its ETag would hide the rest for good (the next start gets
            # a 304). Fetched again on the next start instead.
            raise FetchStopped(STOPPING, host=host_key(url))
        return result

    def close(self) -> None:
        self.client.close()
