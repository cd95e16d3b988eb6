"""The fetch deadline covers the whole answer, headers included, not only the body."""

from __future__ import annotations

import io
import socket
from pathlib import Path

import pytest

from app.buzzwatch import Buzzwatch
from core.config import FetchConfig
from sources.http import Fetcher, FetchError
from tests.conftest import make_config
from tests.standin.feeds import FeedServer, Route, rss
from tests.standin.raw import DribblingServer

GOOD_ITEM = {
    "title": "请问艾克米的会员积分怎么兑换？",
    "description": "请问艾克米的会员积分怎么兑换？找不到入口",
    "link": "https://weibo.com/2/b",
    "guid": "https://weibo.com/2/b",
}


@pytest.fixture
def dribbler():
    server = DribblingServer()
    yield server
    server.close()


def test_headers_sent_a_byte_at_a_time_end_at_the_deadline(dribbler: DribblingServer) -> None:
    # Each byte comes well within the 1 s read timeout; only the 2 s deadline can end it.
    cfg = FetchConfig(allow_hosts=["127.0.0.1"], read_timeout="1s", deadline="2s")
    fetcher = Fetcher(cfg)
    try:
        with pytest.raises(FetchError, match="no complete answer within the 2s deadline"):
            fetcher.get(dribbler.url)
    finally:
        fetcher.close()
    # The client hung up: the server's next byte fails long before its 75 were sent.
    assert dribbler.finished.wait(30)
    assert dribbler.cut_off == [True]


def test_a_dribbling_source_does_not_hold_up_a_good_one(
    tmp_path: Path, clock, dribbler: DribblingServer
) -> None:
    with FeedServer() as good:
        good.routes["/good.xml"] = Route(rss([GOOD_ITEM]))
        config = make_config(
            tmp_path,
            sources=[
                {"name": "dribble", "type": "rss", "url": dribbler.url},
                {"name": "good", "type": "rss", "url": f"{good.base}/good.xml"},
            ],
            # Generous limits so the good feed answers in time on a loaded machine; the
            # dribbler (a byte per 0.2 s for 15 s) still outlasts the deadline.
            fetch={"allow_hosts": ["127.0.0.1"], "read_timeout": "5s", "deadline": "6s"},
        )
        app = Buzzwatch(config, clock=clock, stdout=io.StringIO())
        try:
            outcomes = {o.source: o for o in app.poll_all()}
            assert outcomes["good"].ok
            assert [a.summary["title"] for a in outcomes["good"].result.alerts] == [
                GOOD_ITEM["title"]
            ]
            assert not outcomes["dribble"].ok and not outcomes["dribble"].deferred
            assert "no complete answer within the 6s deadline" in outcomes["dribble"].error
            state = app.repo.get_state("source:dribble")
            assert state["error_streak"] == 1
            assert state["last_hint"] == "slow or unreachable"
            assert app.deliverer.deliver_due().sent == 1
        finally:
            app.close()
    assert dribbler.finished.wait(30)
    assert dribbler.cut_off == [True]


def test_a_tls_handshake_that_never_ends_stops_at_the_deadline() -> None:
    # The server accepts and then says nothing: the handshake would wait the whole 5 s
    # connect timeout without the deadline; with it, the fetch ends as a deadline failure.
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    port = listener.getsockname()[1]
    cfg = FetchConfig(allow_hosts=["127.0.0.1"], connect_timeout="5s", deadline="1s")
    fetcher = Fetcher(cfg)
    try:
        with pytest.raises(FetchError, match="no complete answer within the 1s deadline"):
            fetcher.get(f"https://127.0.0.1:{port}/feed.xml")
    finally:
        fetcher.close()
        listener.close()
