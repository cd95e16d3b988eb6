"""The fetch deadline and Fetcher.stop() cover every wait of a fetch: a body that trickles
in (each read well inside the read timeout) and the host name's lookup."""

from __future__ import annotations

import threading

import pytest

from core.config import FetchConfig
from sources.http import Fetcher, FetchError, FetchStopped
from sources.netguard import AddressPolicy
from tests.standin.feeds import rss
from tests.standin.raw import TricklingBody


def test_a_body_sent_a_byte_at_a_time_ends_at_the_deadline() -> None:
    server = TricklingBody(rss([{"title": f"story {i}", "guid": f"g{i}"} for i in range(20)]))
    fetcher = Fetcher(FetchConfig(allow_hosts=["127.0.0.1"], read_timeout="1s", deadline="1s"))
    try:
        with pytest.raises(FetchError, match="no complete answer within the 1s deadline"):
            fetcher.get(server.url)
    finally:
        fetcher.close()
        server.close()


class HangingResolver:
    """A name lookup that does not answer until released (getaddrinfo has no timeout)."""

    def __init__(self, answer: str = "127.0.0.1") -> None:
        self.answer = answer
        self.entered = threading.Event()
        self.release = threading.Event()

    def __call__(self, host: str, port: int) -> list[str]:
        self.entered.set()
        self.release.wait(60)
        return [self.answer]


def fetch_in_thread(fetcher: Fetcher, url: str) -> tuple[threading.Thread, list[BaseException]]:
    caught: list[BaseException] = []

    def fetch() -> None:
        try:
            fetcher.get(url)
        except BaseException as err:
            caught.append(err)

    worker = threading.Thread(target=fetch, daemon=True)
    worker.start()
    return worker, caught


def test_a_name_lookup_that_hangs_ends_at_the_deadline() -> None:
    resolver = HangingResolver()
    cfg = FetchConfig(allow_hosts=["127.0.0.1"], deadline="1s")
    fetcher = Fetcher(cfg, AddressPolicy(["127.0.0.1"], resolver=resolver))
    try:
        worker, caught = fetch_in_thread(fetcher, "http://feeds.example.test:9/feed.xml")
        worker.join(timeout=20)  # the lookup itself goes on hanging until released
        assert not worker.is_alive()
        [err] = caught
        assert isinstance(err, FetchError) and not isinstance(err, FetchStopped)
        assert "no complete answer within the 1s deadline" in str(err)
    finally:
        resolver.release.set()
        fetcher.close()


def test_stop_ends_the_wait_for_a_name_lookup() -> None:
    resolver = HangingResolver()
    cfg = FetchConfig(allow_hosts=["127.0.0.1"], deadline="60s")
    fetcher = Fetcher(cfg, AddressPolicy(["127.0.0.1"], resolver=resolver))
    try:
        worker, caught = fetch_in_thread(fetcher, "http://feeds.example.test:9/feed.xml")
        assert resolver.entered.wait(20)
        fetcher.stop()
        worker.join(timeout=20)
        assert not worker.is_alive()
        assert len(caught) == 1 and isinstance(caught[0], FetchStopped), caught
    finally:
        resolver.release.set()
        fetcher.close()


def test_a_slow_answer_inside_the_deadline_is_still_checked() -> None:
    resolver = HangingResolver(answer="10.0.0.7")  # a private address: SSRF
    cfg = FetchConfig(allow_hosts=["127.0.0.1"], deadline="30s")
    fetcher = Fetcher(cfg, AddressPolicy(["127.0.0.1"], resolver=resolver))
    threading.Thread(
        target=lambda: resolver.entered.wait(20) and resolver.release.set(), daemon=True
    ).start()
    try:
        with pytest.raises(FetchError, match=r"refusing .*10\.0\.0\.7 is a private address"):
            fetcher.get("http://feeds.example.test:9/feed.xml")
    finally:
        resolver.release.set()
        fetcher.close()
