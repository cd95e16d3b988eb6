"""The byte cap is counted on the decoded body as it is produced: a gzip bomb is stopped
with about the cap in memory, not after it has been inflated a network chunk at a time."""

from __future__ import annotations

import gzip
import tracemalloc
import zlib
from collections.abc import Iterator

import pytest

from core.config import FetchConfig
from sources.http import Fetcher, FetchError
from sources.inflate import decoded
from tests.standin.feeds import FeedServer, Route, rss

CAP = 1_000_000
BOMB_BYTES = 200_000_000  # ~200 KB of gzip on the wire


def _bomb(size: int) -> bytes:
    """`size` zero bytes, gzipped, made without holding them."""
    packer = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    block = bytes(1_000_000)
    parts = [packer.compress(block) for _ in range(size // len(block))]
    return b"".join([*parts, packer.flush()])


@pytest.fixture(scope="module")
def bomb() -> bytes:
    return _bomb(BOMB_BYTES)


def test_a_gzip_bomb_is_stopped_near_the_cap(bomb: bytes) -> None:
    assert len(bomb) < 300_000
    fetcher = Fetcher(FetchConfig(allow_hosts=["127.0.0.1"], max_bytes=CAP))
    with FeedServer() as server:
        server.routes["/bomb.xml"] = Route(bomb, headers={"Content-Encoding": "gzip"})
        tracemalloc.start()
        try:
            with pytest.raises(FetchError, match="over the 1,000,000-byte cap"):
                fetcher.get(server.base + "/bomb.xml")
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
            fetcher.close()
    # The cap, one decoded piece and one network chunk; inflating a network chunk whole
    # held tens of megabytes.
    assert peak < 3 * CAP, f"peak {peak:,} bytes held for a {CAP:,}-byte cap"


def test_pieces_never_exceed_the_step() -> None:
    bomb = _bomb(20_000_000)
    raw = [bomb[i : i + 65536] for i in range(0, len(bomb), 65536)]
    seen = 0
    for piece in decoded(raw, "gzip", step=4096):
        assert len(piece) <= 4096
        seen += len(piece)
    assert seen == 20_000_000


def _chunks(data: bytes, size: int) -> Iterator[bytes]:
    return (data[i : i + size] for i in range(0, len(data), size))


@pytest.mark.parametrize(
    ("encoding", "encode"),
    [
        ("gzip", gzip.compress),
        ("x-gzip", gzip.compress),
        ("deflate", zlib.compress),
        ("deflate", lambda b: zlib.compress(b)[2:-4]),  # raw deflate, as some servers send
        ("gzip, gzip", lambda b: gzip.compress(gzip.compress(b))),
        ("identity", lambda b: b),
    ],
)
def test_every_encoding_we_ask_for_reads_back(encoding: str, encode) -> None:  # type: ignore[no-untyped-def]
    body = rss([{"title": f"story {i}", "guid": f"g{i}"} for i in range(300)])
    assert b"".join(decoded(_chunks(encode(body), 777), encoding, step=1000)) == body


def test_a_fetch_asks_only_for_what_it_decodes_and_reads_gzip() -> None:
    body = rss([{"title": "hello", "guid": "g1"}])
    fetcher = Fetcher(FetchConfig(allow_hosts=["127.0.0.1"]))
    try:
        with FeedServer() as server:
            server.routes["/f.xml"] = Route(body, gzip=True)
            assert fetcher.get(server.base + "/f.xml").content == body
            assert (
                server.assert_called("/f.xml", times=1)[0].headers["Accept-Encoding"]
                == "gzip, deflate"
            )
    finally:
        fetcher.close()


def test_a_broken_or_unreadable_encoding_is_a_clear_fetch_error() -> None:
    fetcher = Fetcher(FetchConfig(allow_hosts=["127.0.0.1"]))
    try:
        with FeedServer() as server:
            server.routes["/bad.xml"] = Route(
                b"not gzip at all", headers={"Content-Encoding": "gzip"}
            )
            server.routes["/br.xml"] = Route(b"\x0b\x02\x80", headers={"Content-Encoding": "br"})
            with pytest.raises(FetchError, match="gzip encoding is broken"):
                fetcher.get(server.base + "/bad.xml")
            with pytest.raises(FetchError, match="br-encoded, which is not read here"):
                fetcher.get(server.base + "/br.xml")
    finally:
        fetcher.close()


def test_bytes_that_decode_to_nothing_count_against_the_cap_too() -> None:
    # A tiny gzip stream, then two megabytes of junk after its end (ignored once decoded).
    body = gzip.compress(rss([{"title": "x", "guid": "g"}])) + bytes(2_000_000)
    fetcher = Fetcher(FetchConfig(allow_hosts=["127.0.0.1"], max_bytes=CAP))
    try:
        with FeedServer() as server:
            # No Content-Length (the body is sent until the connection closes).
            server.routes["/tail.xml"] = Route(
                body, headers={"Content-Encoding": "gzip"}, trickle=1e-6
            )
            with pytest.raises(FetchError, match="over the 1,000,000-byte cap"):
                fetcher.get(server.base + "/tail.xml")
    finally:
        fetcher.close()
