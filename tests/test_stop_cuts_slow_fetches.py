"""A slow source does not hold up the shutdown: a stop cuts a hanging or dribbling fetch, a
feed cut off half-way is not stored as fetched, and Ctrl-C on a real `bot.py` process (running,
or in its `--once` poll) ends it promptly. Stand-ins on 127.0.0.1."""

from __future__ import annotations

import io
import signal
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from core.config import FetchConfig
from core.domain.clock import FakeClock
from core.intake.health import state_key
from sources.http import Fetcher, FetchStopped
from tests.conftest import make_config
from tests.standin.feeds import rss
from tests.standin.raw import DribblingServer, HalfFeedServer, RawServer
from tests.test_once_and_shutdown import start_bot, wait_for, write_config

SLOW_FETCH = {
    "allow_hosts": ["127.0.0.1"],
    "connect_timeout": "5s",
    "read_timeout": "60s",
    "deadline": "90s",
}


def test_fetcher_stop_cuts_a_hanging_fetch_and_refuses_new_ones() -> None:
    server = RawServer()
    fetcher = Fetcher(FetchConfig(**SLOW_FETCH))
    caught: list[BaseException] = []

    def fetch() -> None:
        try:
            fetcher.get(server.url)
        except BaseException as err:
            caught.append(err)

    worker = threading.Thread(target=fetch, daemon=True)
    worker.start()
    end = time.monotonic() + 10
    while not server.accepted and time.monotonic() < end:
        time.sleep(0.02)
    time.sleep(0.2)  # the request is sent; the read is blocked
    fetcher.stop()
    worker.join(timeout=20)
    assert not worker.is_alive()
    assert len(caught) == 1 and isinstance(caught[0], FetchStopped), caught
    assert caught[0].deferred  # the poller does not count it against the source
    with pytest.raises(FetchStopped):
        fetcher.get(server.url)
    assert server.accepted == 1  # nothing new was opened
    fetcher.close()
    server.close()


def test_a_feed_cut_off_by_stop_is_not_stored_as_fetched(tmp_path: Path, clock: FakeClock) -> None:
    """The cut ends the read as if the body were complete: without a check, the first half
    was stored with the feed's ETag, and the next start got a 304 for the rest for good."""
    from app.buzzwatch import Buzzwatch

    items = [
        {"title": f"Acme story {i}", "link": f"https://e.com/{i}", "guid": f"g{i}"}
        for i in range(10)
    ]
    body = rss(items)
    server = HalfFeedServer(body, body.index(b"Acme story 3"))
    config = make_config(
        tmp_path, sources=[{"name": "half", "type": "rss", "url": server.url}], fetch=SLOW_FETCH
    )
    app = Buzzwatch(config, clock=clock, stdout=io.StringIO())
    outcomes: list[Any] = []
    worker = threading.Thread(
        target=lambda: outcomes.append(app.poller.poll(app.sources[0])), daemon=True
    )
    worker.start()
    try:
        assert server.half_sent.wait(20)
        time.sleep(0.3)  # the first half is read; the next read blocks
        app.fetcher.stop()
        worker.join(timeout=20)
        assert not worker.is_alive()
        [outcome] = outcomes
        assert outcome.deferred and not outcome.ok, outcome
        state = app.repo.get_state(state_key("half")) or {}
        assert not state.get("fetch") and "last_success_at" not in state, state
        assert list(app.repo.iter_mentions(None)) == []
    finally:
        server.close()
        app.close()


def test_fetcher_get_raises_stopped_for_a_body_cut_short() -> None:
    body = rss([{"title": f"story {i}", "guid": f"g{i}"} for i in range(10)])
    server = HalfFeedServer(body, len(body) // 2)
    fetcher = Fetcher(FetchConfig(**SLOW_FETCH))
    caught: list[BaseException] = []

    def fetch() -> None:
        try:
            caught.append(AssertionError(f"returned {fetcher.get(server.url)}"))
        except BaseException as err:
            caught.append(err)

    worker = threading.Thread(target=fetch, daemon=True)
    worker.start()
    try:
        assert server.half_sent.wait(20)
        time.sleep(0.3)
        fetcher.stop()
        worker.join(timeout=20)
        assert not worker.is_alive()
        assert len(caught) == 1 and isinstance(caught[0], FetchStopped), caught
    finally:
        server.close()
        fetcher.close()


@pytest.mark.parametrize("dribble", [False, True], ids=["hanging", "dribbling"])
def test_ctrl_c_on_the_running_bot_does_not_wait_for_a_slow_source(
    tmp_path: Path, dribble: bool
) -> None:
    server = DribblingServer(count=600) if dribble else RawServer()
    config = write_config(
        tmp_path,
        sources=[{"name": "slow", "type": "rss", "url": server.url, "every": "1m"}],
        fetch=SLOW_FETCH,
    )
    proc = start_bot(config)
    try:
        wait_for(lambda: server.accepted >= 1, proc, "a fetch")
        time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
        server.close()
    assert proc.returncode == 130, err
    assert "received SIGINT" in err and "stopped cleanly" in err
    assert "Traceback" not in err
    assert "source=slow failed" not in err  # cut off by the stop, not the source's failure


def test_ctrl_c_during_the_once_poll_cuts_the_fetch(tmp_path: Path) -> None:
    server = RawServer()
    config = write_config(
        tmp_path,
        sources=[{"name": "slow", "type": "rss", "url": server.url}],
        fetch=SLOW_FETCH,
    )
    proc = start_bot(config, "--once")
    try:
        wait_for(lambda: server.accepted >= 1, proc, "a fetch")
        time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
        server.close()
    assert proc.returncode == 130, err
    assert "stopped by SIGINT" in err and "Traceback" not in err
    assert "every source failed" not in err
