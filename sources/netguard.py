"""Which addresses Buzzwatch may fetch from: no loopback, private or metadata endpoints.

A feed URL comes from a config file, a redirect or a pushed mention, so it could point at
the machine's own admin ports or a cloud metadata service (server-side request forgery).
Every host name is resolved, every address it resolves to is checked, and the connection
is then made to one of those checked addresses (GuardedBackend), so a DNS answer that
changes between the check and the connect (DNS rebinding) cannot swap in another one.
The config may allow named hosts, addresses or networks explicitly (fetch.allow_hosts).

The same backend enforces a fetch's total deadline: httpx and httpcore only time single
socket operations, so a server that sends a header byte every few seconds would never be
cut off. Within `deadline_scope(...)` every connect, TLS handshake, read and write on a
stream this backend made waits at most until the deadline, and none starts after it. So does
the host name's lookup (getaddrinfo has no timeout): it runs in a small pool of daemon
threads, and the fetch stops waiting for it at the deadline, or when the fetch is stopped.
"""

from __future__ import annotations

import contextvars
import ipaddress
import queue
import re
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpcore

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]

# Names that reach a cloud metadata service on every major provider.
METADATA_NAMES = frozenset(
    {
        "metadata",
        "metadata.google.internal",
        "metadata.goog",
        "instance-data",
        "instance-data.ec2.internal",
    }
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")
# inet_aton accepts 1 to 4 dot-separated parts in decimal, octal (0...) or hex (0x...).
_LEGACY_IPV4 = re.compile(r"^(0x[0-9a-f]*|[0-9]+)(\.(0x[0-9a-f]*|[0-9]+)){0,3}\.?$", re.I)


class BlockedAddress(Exception):
    """A URL or address Buzzwatch refuses to fetch, with the reason."""


def parse_ip(host: str) -> IPAddress | None:
    """The address a host string spells, in any spelling a C resolver accepts
    (127.0.0.1, 2130706433, 0x7f000001, 0177.0.0.1, 127.1, [::ffff:127.0.0.1]), else None."""
    host = host.strip().strip("[]")
    if "%" in host:  # an IPv6 zone index (fe80::1%eth0)
        host = host.split("%", 1)[0]
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if not _LEGACY_IPV4.match(host):
        return None
    parts = host.rstrip(".").split(".")
    try:
        numbers = [
            int(p, 0) if not (len(p) > 1 and p[0] == "0" and p[1] not in "xX") else int(p, 8)
            for p in parts
        ]
    except ValueError:
        raise BlockedAddress(f"{host!r} is a malformed numeric address") from None
    # The last part fills the remaining bytes: 127.1 is 127.0.0.1, 2130706433 is too.
    widths = [1] * (len(numbers) - 1) + [4 - (len(numbers) - 1)]
    value = 0
    for number, width in zip(numbers, widths, strict=True):
        if number >= 256**width:
            raise BlockedAddress(f"{host!r} is a malformed numeric address")
        value = value * 256**width + number
    return ipaddress.IPv4Address(value)


def embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one carries (mapped, compatible, 6to4, Teredo, NAT64)."""
    if ip.ipv4_mapped:
        return ip.ipv4_mapped
    if ip.sixtofour:
        return ip.sixtofour
    if ip.teredo:
        return ip.teredo[1]
    if ip in _NAT64 or ip in _NAT64_LOCAL:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if int(ip) >> 32 == 0 and int(ip) > 1:  # deprecated IPv4-compatible ::a.b.c.d
        return ipaddress.IPv4Address(int(ip))
    return None


def why_forbidden(ip: IPAddress) -> str | None:
    """Why an address is not a public one, or None if it is."""
    if isinstance(ip, ipaddress.IPv6Address):
        inner = embedded_ipv4(ip)
        if inner is not None:
            reason = why_forbidden(inner)
            return f"{reason} (inside {ip})" if reason else None
    checks = (
        ("loopback", ip.is_loopback),
        ("unspecified", ip.is_unspecified),
        ("link-local (cloud metadata lives here)", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("private", ip.is_private),
        ("reserved", ip.is_reserved),
    )
    for name, hit in checks:
        if hit:
            return f"{ip} is a {name} address"
    if not ip.is_global:  # shared CGNAT space 100.64/10 (Alibaba Cloud metadata), etc.
        return f"{ip} is not a public address"
    return None


def _system_resolve(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as err:
        raise BlockedAddress(f"cannot resolve {host!r}: {err}") from None
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class AddressPolicy:
    """Decides whether a host may be fetched, and to which of its addresses to connect."""

    def __init__(self, allow_hosts: Iterable[str] = (), resolver: Resolver | None = None) -> None:
        self.allowed_names: set[str] = set()
        self.allowed_nets: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        for entry in allow_hosts:
            entry = entry.strip().lower().rstrip(".")
            try:
                self.allowed_nets.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
            except ValueError:
                self.allowed_names.add(entry)
        self.resolver = resolver or _system_resolve

    def _address_allowed(self, ip: IPAddress) -> bool:
        return any(ip.version == net.version and ip in net for net in self.allowed_nets)

    def check_address(self, ip: IPAddress, host: str) -> None:
        if self._address_allowed(ip):
            return
        reason = why_forbidden(ip)
        if reason:
            raise BlockedAddress(
                f"refusing {host}: {reason}; list it in fetch.allow_hosts to allow it"
            )

    def addresses(self, host: str, port: int) -> list[str]:
        """The checked addresses to connect to for host:port. Raises BlockedAddress."""
        name = host.strip().strip("[]").lower().rstrip(".")
        if not name:
            raise BlockedAddress("URL has no host")
        literal = parse_ip(name)
        if literal is not None:
            self.check_address(literal, host)
            return [str(literal)]
        if name in self.allowed_names:
            return resolve_in_time(self.resolver, name, port)
        if name in METADATA_NAMES or name == "localhost" or name.endswith(".localhost"):
            raise BlockedAddress(f"refusing {host}: an internal host name")
        found = resolve_in_time(self.resolver, name, port)
        if not found:
            raise BlockedAddress(f"cannot resolve {host!r}: no addresses")
        for address in found:  # every one: a resolver may hand out any of them later
            ip = parse_ip(address)
            if ip is None:
                raise BlockedAddress(f"{host!r} resolved to {address!r}, not an address")
            self.check_address(ip, f"{host} ({address})")
        return found

    def check_url(self, url: str) -> None:
        """The guard for every request and redirect hop: http(s) to a permitted host."""
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError as err:
            raise BlockedAddress(f"refusing malformed URL: {err}") from None
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https"):
            raise BlockedAddress(
                f"refusing {scheme or 'scheme-less'} URL: only http and https are fetched"
            )
        if parts.username is not None or parts.password is not None:
            raise BlockedAddress("refusing a URL with credentials in it")
        self.addresses(parts.hostname or "", port or (443 if scheme == "https" else 80))


@dataclass
class Deadline:
    """When a fetch must be over (time.monotonic()), and whether it was cut off by it;
    `stopping`, when set, ends the wait for a name lookup at once."""

    at: float
    hit: bool = False
    stopping: threading.Event | None = None

    def left(self) -> float:
        return self.at - time.monotonic()


# The deadline of the fetch running in this thread (contextvars are per thread), read at
# every socket operation, so a pooled connection obeys whichever fetch is using it now.
_current_deadline: contextvars.ContextVar[Deadline | None] = contextvars.ContextVar(
    "buzzwatch_fetch_deadline", default=None
)


@contextmanager
def deadline_scope(at: float, stopping: threading.Event | None = None) -> Iterator[Deadline]:
    """Network operations in this block (on GuardedBackend streams, and name lookups) end by
    `at`; a lookup also ends when `stopping` is set (the sockets are cut by their owner)."""
    deadline = Deadline(at, stopping=stopping)
    token = _current_deadline.set(deadline)
    try:
        yield deadline
    finally:
        _current_deadline.reset(token)


T = TypeVar("T")

LOOKUP_THREADS = 8
# How often a wait for a lookup looks at `stopping` (a stop ends the wait this soon).
STOP_CHECK_SECONDS = 0.05


class _Lookups:
    """A few daemon threads running name lookups, so a fetch can give up waiting for one.
    Daemon threads (not a ThreadPoolExecutor, whose workers are joined at exit): a lookup
    that hangs does not hold up the exit either. Lookups beyond LOOKUP_THREADS wait their
    turn, within their own fetch's deadline."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._jobs: queue.SimpleQueue[tuple[Future[Any], Callable[[], Any]]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._started = 0

    def submit(self, job: Callable[[], T]) -> Future[T]:
        future: Future[T] = Future()
        with self._lock:
            if self._started < self.size:
                self._started += 1
                threading.Thread(target=self._work, name="dns-lookup", daemon=True).start()
        self._jobs.put((future, job))
        return future

    def _work(self) -> None:
        while True:
            future, job = self._jobs.get()
            if not future.set_running_or_notify_cancel():  # its fetch gave up meanwhile
                continue
            try:
                result = job()
            except BaseException as err:  # handed to the waiting fetch, raised there
                future.set_exception(err)
            else:
                future.set_result(result)


_lookups = _Lookups(LOOKUP_THREADS)


def resolve_in_time(resolver: Resolver, host: str, port: int) -> list[str]:
    """`resolver(host, port)`, waited for at most until the current fetch's deadline, or
    until it is stopped (BlockedAddress either way). Outside a fetch, called directly."""
    deadline = _current_deadline.get()
    if deadline is None:
        return resolver(host, port)
    future = _lookups.submit(lambda: resolver(host, port))
    while True:
        left = deadline.left()
        stopping = deadline.stopping
        if stopping is not None and stopping.is_set():
            future.cancel()
            raise BlockedAddress(f"looking up {host!r} was stopped")
        if left <= 0:
            future.cancel()
            deadline.hit = True
            raise BlockedAddress(f"cannot resolve {host!r} before the fetch deadline")
        try:
            return future.result(
                timeout=left if stopping is None else min(left, STOP_CHECK_SECONDS)
            )
        except FutureTimeout:
            continue


def _within_deadline(
    operation: Callable[[float | None], T], timeout: float | None, expired: type[Exception]
) -> T:
    """Run `operation(timeout)` with the timeout cut to what is left of the current deadline.
    Raises `expired` (an httpcore timeout) when the deadline has passed or cut it short."""
    deadline = _current_deadline.get()
    if deadline is None:
        return operation(timeout)
    left = deadline.left()
    if left <= 0:
        deadline.hit = True
        raise expired("the fetch deadline passed")
    cut = timeout is None or left < timeout
    try:
        return operation(left if cut else timeout)
    except httpcore.TimeoutException:
        if cut or deadline.left() <= 0:
            deadline.hit = True
            raise expired("the fetch deadline passed") from None
        raise


class DeadlineStream(httpcore.NetworkStream):
    """A network stream whose every wait ends at the current fetch deadline."""

    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return _within_deadline(
            lambda t: self._stream.read(max_bytes, t), timeout, httpcore.ReadTimeout
        )

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        # What is left is worked out once per write; a GET's request is one small send.
        _within_deadline(lambda t: self._stream.write(buffer, t), timeout, httpcore.WriteTimeout)

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        # Python's handshake timeout covers the whole handshake, not each record.
        return DeadlineStream(
            _within_deadline(
                lambda t: self._stream.start_tls(ssl_context, server_hostname, t),
                timeout,
                httpcore.ConnectTimeout,
            )
        )

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class GuardedBackend(httpcore.SyncBackend):
    """httpcore's network backend, connecting only to addresses the policy checked.

    httpcore still uses the URL's host name for TLS (SNI and certificate checks); only the
    TCP connection goes to the checked IP, so the answer that was checked is the one used.
    Its streams end every wait at the current fetch deadline (deadline_scope).
    """

    def __init__(self, policy: AddressPolicy) -> None:
        self.policy = policy

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        try:
            addresses = self.policy.addresses(host, port)
        except BlockedAddress as err:
            raise httpcore.ConnectError(str(err)) from None
        last: Exception | None = None
        for address in addresses:

            def connect(t: float | None, address: str = address) -> httpcore.NetworkStream:
                return super(GuardedBackend, self).connect_tcp(
                    address, port, t, local_address, socket_options
                )

            try:
                stream = _within_deadline(connect, timeout, httpcore.ConnectTimeout)
            except httpcore.ConnectError as err:
                last = err
                continue
            return DeadlineStream(stream)
        raise last or httpcore.ConnectError(f"no address to connect to for {host}")
