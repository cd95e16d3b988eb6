"""The bot started after the digest time sends the missed digest once the first poll cycle of
that start is stored, so it reports what came in while the bot was down (it ran before the
first poll and, marked sent, said "Mentions: 0")."""

from __future__ import annotations

import signal
import subprocess
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

from storage.factory import open_repository
from tests.botproc import read_until
from tests.conftest import digest_time_just_missed
from tests.standin.feeds import FeedServer, Route, rss
from tests.test_once_and_shutdown import start_bot, write_config

WAIT = 90.0  # a bound for a hung bot, never a measurement


def finished(seen: str) -> bool:
    """Whether the console has printed the whole daily digest (its last line is "Alerts:")."""
    _, header, rest = seen.partition("== Buzzwatch daily digest")
    return bool(header) and "\nAlerts: " in rest


def test_the_catch_up_digest_counts_the_first_polls_mentions(tmp_path: Path) -> None:
    # Posted while the bot was down, before the digest time (an hour ago).
    posted = format_datetime(datetime.now(UTC) - timedelta(hours=2), usegmt=True)
    items = [
        {"link": f"https://weibo.com/1/{i}", "guid": f"g{i}", "title": t, "description": t}
        | {"pubDate": posted}
        for i, t in enumerate(["艾克米的汉堡吃完拉肚子", "Acme refund please, awful"])
    ]
    with FeedServer() as feeds:
        # A feed that answers after a while: the poll is still running when the bot starts.
        feeds.routes["/feed.xml"] = Route(body=rss(items), delay=2.0)
        config = write_config(
            tmp_path,
            sources=[{"name": "w", "type": "rss", "url": f"{feeds.base}/feed.xml"}],
            digest={"time": digest_time_just_missed()},
        )
        proc = start_bot(config)
        try:
            seen, ok = read_until(proc, finished)
            assert ok, seen
        finally:
            proc.send_signal(signal.SIGTERM)
            _, err = proc.communicate(timeout=WAIT)
    assert proc.returncode == 0 and "Traceback" not in err, err
    digest = seen[seen.index("== Buzzwatch daily digest") :]
    assert "Mentions: 2 ·" in digest, digest
    # Sent once: the stored mark says so, and the alerts came before it.
    repo = open_repository("sqlite", tmp_path / "data", read_only=True)
    try:
        assert repo.get_state("digest")["sent_for"]
    finally:
        repo.close()
    assert seen.index("[A1]") < seen.index("== Buzzwatch daily digest")


def test_a_stop_during_the_first_poll_with_a_digest_due_ends_the_bot(tmp_path: Path) -> None:
    """The catch-up runs when the first poll ends, here because a stop cut it: the shutdown,
    waiting for that poll, must not wait for the catch-up forever (a job adding a job to the
    scheduler deadlocked it)."""
    with FeedServer() as feeds:
        feeds.routes["/feed.xml"] = Route(body=rss([]), delay=30.0)  # still fetching
        config = write_config(
            tmp_path,
            sources=[{"name": "w", "type": "rss", "url": f"{feeds.base}/feed.xml"}],
            digest={"time": digest_time_just_missed()},
        )
        proc = start_bot(config)
        try:
            deadline = time.monotonic() + WAIT
            while not feeds.recorded and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.05)  # until the first poll is fetching
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                out, err = proc.communicate(timeout=WAIT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()
                raise AssertionError("the bot did not stop") from None
    assert proc.returncode == 0 and "Traceback" not in err, err
    assert "stopped cleanly" in err
    assert "== Buzzwatch daily digest" in out  # queued when the poll ended, sent at the stop
