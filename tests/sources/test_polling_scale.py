"""Hundreds of sources: bounded concurrency, slow and failing ones, 304s, per-host manners."""

from __future__ import annotations

import io
import threading
import time
from pathlib import Path

from app.buzzwatch import Buzzwatch
from tests.conftest import make_config
from tests.standin.feeds import FeedServer, Route, rss


class Inflight:
    """Counts requests being answered at once (a route callable runs inside the handler)."""

    def __init__(self, body: bytes, hold: float = 0.0) -> None:
        self.body, self.hold = body, hold
        self.now = self.peak = 0
        self.lock = threading.Lock()

    def __call__(self) -> Route:
        with self.lock:
            self.now += 1
            self.peak = max(self.peak, self.now)
        time.sleep(self.hold)
        with self.lock:
            self.now -= 1
        return Route(self.body)


def test_three_hundred_sources(tmp_path: Path, clock) -> None:
    with FeedServer() as fast, FeedServer() as slow, FeedServer() as bad, FeedServer() as busy:
        sources = []
        for n in range(240):  # ETag feeds: the second cycle is all 304s
            fast.routes[f"/f{n}.xml"] = Route(
                rss(
                    [
                        {"title": f"story {n}-{i}", "guid": f"https://x.example/{n}/{i}"}
                        for i in range(5)
                    ]
                ),
                etag=f'"e{n}"',
            )
            sources.append({"name": f"fast{n}", "type": "rss", "url": f"{fast.base}/f{n}.xml"})
        for n in range(20):
            slow.routes[f"/s{n}.xml"] = Route(rss([{"title": "late"}]), delay=3.0)
            sources.append({"name": f"slow{n}", "type": "rss", "url": f"{slow.base}/s{n}.xml"})
        for n in range(20):
            bad.routes[f"/b{n}.xml"] = [
                Route(b"oops", status=500),
                Route(b"<html>not a feed</html>", content_type="text/html"),
            ][n % 2]
            sources.append({"name": f"bad{n}", "type": "rss", "url": f"{bad.base}/b{n}.xml"})
        counter = Inflight(rss([{"title": "busy"}]), hold=0.05)
        for n in range(20):
            busy.routes[f"/c{n}.xml"] = counter
            sources.append({"name": f"busy{n}", "type": "rss", "url": f"{busy.base}/c{n}.xml"})
        config = make_config(
            tmp_path,
            sources=sources,
            fetch={
                "allow_hosts": ["127.0.0.1"],
                "read_timeout": "1s",
                # (room for the 240 fast feeds through 3 connections on a loaded machine;
                # the slow host still takes 7 rounds of 1 s timeouts: some give up waiting)
                "deadline": "5s",
                "workers": 24,
                "per_host": 3,
            },
        )
        app = Buzzwatch(config, clock=clock, stdout=io.StringIO())
        done: dict[str, float] = {}
        poll = app.poller.poll
        start = time.monotonic()

        def timed(source):
            outcome = poll(source)
            done[source.name] = time.monotonic() - start
            return outcome

        app.poller.poll = timed
        outcomes = {o.source: o for o in app.poll_all()}
        wall = time.monotonic() - start

        assert len(outcomes) == 300
        assert all(outcomes[f"fast{n}"].ok for n in range(240))
        # Three at a time reach the slow host and time out; the rest give up waiting for a
        # slot at their deadline instead of piling onto it.
        slow_errors = [outcomes[f"slow{n}"].error for n in range(20)]
        assert all("timed out" in e or "no free connection" in e for e in slow_errors)
        assert any("timed out" in e for e in slow_errors)
        assert all("HTTP 500" in outcomes[f"bad{n}"].error for n in range(0, 20, 2))
        assert all("HTML page, not a feed" in outcomes[f"bad{n}"].error for n in range(1, 20, 2))
        assert all(outcomes[f"busy{n}"].ok for n in range(20))
        assert counter.peak <= 3  # per-host limit held
        # Slow sources cost their own timeout, not everyone's: the cycle is not 20 x 1 s of
        # timeouts (waits, not CPU: a loaded machine does not make the serial figure smaller).
        assert wall < 15, wall  # serially the slow sources alone would take over 20 s
        # ...and fast sources go on while slow ones hang: many are done before the slow host's
        # last source gives up (relative, so it holds on a loaded machine as on an idle one;
        # the first one gives up after 1 s, when a loaded machine had stored only 4 fast ones).
        last_slow = max(done[f"slow{n}"] for n in range(20))
        assert sum(done[f"fast{n}"] < last_slow for n in range(240)) >= 10, last_slow

        fast.recorded.clear()
        second = {o.source: o for o in app.poll_all()}
        assert all(second[f"fast{n}"].not_modified for n in range(240))
        assert len(fast.recorded) == 240
        assert all(r.headers.get("If-None-Match") == f'"e{r.path[2:-4]}"' for r in fast.recorded)
        state = app.repo.get_state("source:slow0")
        assert state["error_streak"] == 2 and state["last_error"]
        assert app.repo.get_state("source:fast0")["last_items"] == 0  # a 304 brings nothing
        app.close()


def test_a_host_that_says_429_rests_and_its_other_sources_wait(tmp_path: Path, clock) -> None:
    with FeedServer() as limited, FeedServer() as other:
        for n in range(6):
            limited.routes[f"/l{n}.xml"] = Route(
                b"slow down", status=429, headers={"Retry-After": "120"}
            )
        other.routes["/o.xml"] = Route(rss([{"title": "fine"}]))
        sources = [
            {"name": f"l{n}", "type": "rss", "url": f"{limited.base}/l{n}.xml"} for n in range(6)
        ]
        sources.append({"name": "o", "type": "rss", "url": f"{other.base}/o.xml"})
        config = make_config(
            tmp_path, sources=sources, fetch={"allow_hosts": ["127.0.0.1"], "per_host": 1}
        )
        app = Buzzwatch(config, clock=clock, stdout=io.StringIO())
        outcomes = app.poll_all()
        by_name = {o.source: o for o in outcomes}
        assert len(limited.recorded) == 1  # one 429, then the host rests
        hit = [o for o in outcomes if "HTTP 429" in o.error]
        assert len(hit) == 1 and "rests for 120s" in hit[0].error
        deferred = [o for o in outcomes if o.deferred]
        assert len(deferred) == 5
        assert by_name["o"].ok  # another host is not affected
        for o in deferred:  # waiting politely is not a failure of the source
            assert app.repo.get_state(f"source:{o.source}").get("error_streak", 0) == 0
        app.poll_all()
        assert len(limited.recorded) == 1  # still resting: nothing sent
        app.close()
