"""Stopping and finishing: Ctrl-C and SIGTERM during `--once` and the running bot, a closed
stdout, and `--once` not waiting out a route's group_interval (a slow source and the
shutdown: tests/test_stop_cuts_slow_fetches.py). Real `bot.py` processes
where a signal or a closed pipe is the point (the rest in-process, tests/cli_fixture.py),
against stand-ins on 127.0.0.1; the timeouts are generous bounds, far under what the old
behaviour took (a 100 s Retry-After, a two-minute retry loop, a 60 s fetch deadline)."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from core.alerting.routing import Router
from core.config import StorageConfig
from core.delivery.worker import Deliverer
from core.domain.clock import FakeClock
from core.domain.models import Mention
from core.intake.pipeline import Pipeline
from listeners.webhook import WebhookNotifier
from rules.analyze import Analyzer
from storage.factory import open_repository
from storage.tinydb_repo import TinyDBRepository
from tests.cli_fixture import Cli
from tests.conftest import ROOT, clean_env, make_config
from tests.standin.chat import ChatServer
from tests.standin.feeds import rss

START = datetime(2026, 11, 28, 2, 0, tzinfo=UTC)
COMPLAINT = {
    "title": "艾克米的汉堡吃完拉肚子，怀疑食物中毒",
    "description": "艾克米的汉堡吃完拉肚子，怀疑食物中毒，要求退款",
    "link": "https://weibo.com/1/a",
    "guid": "https://weibo.com/1/a",
}


def write_config(tmp_path: Path, **parts: Any) -> Path:
    data: dict[str, Any] = {
        "data_dir": str(tmp_path / "data"),
        "timezone": "UTC",
        "brands": [{"name": "Acme", "keywords": ["Acme", "艾克米"]}],
        "sources": [],
        "destinations": {"console": {"type": "console"}},
        "routes": [{"name": "all", "match": {"brand": "Acme"}, "to": ["console"]}],
        "fetch": {"allow_hosts": ["127.0.0.1"]},
        # No daily digest unless a test asks for one: the default (09:00) would make a
        # running bot's start-up differ with the hour of the day the tests run at.
        "digest": {"enabled": False},
    }
    data.update(parts)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def feed_file(tmp_path: Path, items: list[dict[str, str]]) -> str:
    path = tmp_path / "feed.xml"
    path.write_bytes(rss(items))
    return str(path)


def start_bot(
    config: Path, *args: str, stdout: Any = subprocess.PIPE, stdin: Any = subprocess.DEVNULL
) -> subprocess.Popen[str]:
    """`python bot.py --config <config> <args>` started in the config's folder."""
    return subprocess.Popen(
        [sys.executable, str(ROOT / "bot.py"), "--config", str(config), *args],
        cwd=config.parent,
        env=clean_env(),
        stdin=stdin,
        stdout=stdout,
        stderr=subprocess.PIPE,
        text=True,
    )


def run_bot(
    config: Path, *args: str, stdout: Any = subprocess.PIPE
) -> subprocess.CompletedProcess[str]:
    """start_bot's command, run to its end (a minute at most)."""
    return subprocess.run(
        [sys.executable, str(ROOT / "bot.py"), "--config", str(config), *args],
        cwd=config.parent,
        env=clean_env(),
        stdin=subprocess.DEVNULL,
        stdout=stdout,
        stderr=subprocess.PIPE,
        text=True,
        timeout=60,
    )


def wait_for(condition: Callable[[], bool], proc: subprocess.Popen[str], what: str) -> None:
    """Wait (at most 30 s) until `condition()`; fail early if the bot exits first."""
    end = time.monotonic() + 30
    while not condition():
        if proc.poll() is not None:
            pytest.fail(f"the bot exited ({proc.returncode}) before {what}: {proc.stderr.read()}")
        if time.monotonic() > end:
            proc.kill()
            pytest.fail(f"no {what} within 30 s")
        time.sleep(0.05)


def closed_pipe() -> int:
    """The write end of a pipe nobody reads any more (`| head` after it has left)."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    return write_end


# --- 1. Ctrl-C / SIGTERM while --once waits for a chat service ---------------------------------


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 0)])
def test_a_signal_during_the_once_drain_stops_it_and_leaves_the_rest_queued(
    tmp_path: Path, chat: ChatServer, signum: int, code: int
) -> None:
    chat.respond = lambda body: (429, {"Retry-After": "100"})
    config = write_config(
        tmp_path,
        sources=[{"name": "weibo", "type": "rss", "path": feed_file(tmp_path, [COMPLAINT])}],
        destinations={"chat": {"type": "webhook", "url": chat.url}},
        routes=[{"name": "all", "match": {"brand": "Acme"}, "to": ["chat"]}],
    )
    proc = start_bot(config, "--once")
    wait_for(lambda: chat.attempts >= 1, proc, "a delivery attempt")
    time.sleep(0.3)  # the 429 is recorded; --once now waits out the 100 s Retry-After
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == code, err
    assert f"received {signal.Signals(signum).name}" in err
    assert f"stopped by {signal.Signals(signum).name}" in err
    assert "still queued 1 (they go out on the next run)" in err
    assert "Traceback" not in err and chat.received == []

    # Still queued for the next run (which waits out what is left of the Retry-After).
    repo = open_repository(StorageConfig().backend, tmp_path / "data", read_only=True)
    try:
        [item] = repo.pending_outbox()
    finally:
        repo.close()
    assert item.destination == "chat" and item.attempts == 1 and item.next_attempt_at


# --- 2. a closed stdout ------------------------------------------------------------------------


@pytest.mark.parametrize("dry_run", [False, True])
def test_once_into_a_closed_pipe_ends_quietly(tmp_path: Path, dry_run: bool) -> None:
    items = [
        {**COMPLAINT, "link": f"https://weibo.com/1/{i}", "guid": f"g{i}", "title": f"{t} {i}"}
        for i, t in enumerate(["艾克米 食物中毒", "Acme refund please", "Acme is awful"])
    ]
    config = write_config(
        tmp_path, sources=[{"name": "w", "type": "rss", "path": feed_file(tmp_path, items)}]
    )
    out = closed_pipe()
    try:
        proc = start_bot(config, "--once", "-q", *(["--dry-run"] if dry_run else []), stdout=out)
    finally:
        os.close(out)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "Traceback" not in err and "Exception ignored" not in err, err
    assert err.count("console's output is closed (BrokenPipeError): console messages") == 1


def test_the_running_bot_outlives_a_closed_stdout(tmp_path: Path, chat: ChatServer) -> None:
    config = write_config(
        tmp_path,
        sources=[{"name": "w", "type": "rss", "path": feed_file(tmp_path, [COMPLAINT])}],
        destinations={"console": {"type": "console"}, "chat": {"type": "webhook", "url": chat.url}},
        routes=[{"name": "all", "match": {"brand": "Acme"}, "to": ["console", "chat"]}],
    )
    out = closed_pipe()
    try:
        proc = start_bot(config, stdout=out)
    finally:
        os.close(out)
    wait_for(lambda: len(chat.received) >= 1, proc, "the chat message")
    time.sleep(0.5)
    assert proc.poll() is None  # still running
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "Traceback" not in err and "stopped cleanly" in err
    assert err.count("console messages are dropped from now on") == 1


# --- 3. --once does not wait out group_interval -------------------------------------------------


def test_once_sends_an_update_without_waiting_for_group_interval(
    tmp_path: Path, chat: ChatServer, cli: Cli
) -> None:
    feed = feed_file(tmp_path, [COMPLAINT])
    config = write_config(
        tmp_path,
        sources=[{"name": "weibo", "type": "rss", "path": feed}],
        destinations={"chat": {"type": "webhook", "url": chat.url}},
        # Longer than --once waits at all: before, the update stayed queued.
        routes=[
            {"name": "all", "match": {"brand": "Acme"}, "to": ["chat"], "group_interval": "10m"}
        ],
    )
    first = cli("--config", str(config), "--once")
    assert first.returncode == 0, first.stderr
    copy = {**COMPLAINT, "link": "https://weibo.com/9/z", "guid": "https://weibo.com/9/z"}
    Path(feed).write_bytes(rss([COMPLAINT, copy]))
    second = cli("--config", str(config), "--once")
    assert second.returncode == 0, second.stderr
    assert [(b["action"], b["kind"]) for b in chat.received] == [
        ("post", "alert"),
        ("update", "alert"),
    ]
    assert chat.received[1]["alert"]["count"] == 2
    assert "still queued 0" in second.stderr


def test_drain_hurries_only_items_waiting_for_their_group_timer(tmp_path: Path) -> None:
    """A retry's backoff and a rate limit are still waited for; only the group timer goes."""
    with ChatServer() as chat:
        clock = FakeClock(START)
        config = make_config(
            tmp_path,
            destinations={"chat": {"type": "webhook", "url": chat.url}},
            routes=[
                {"name": "all", "match": {"brand": "Acme"}, "to": ["chat"], "burst": None},
            ],
        )
        repo = TinyDBRepository(config.data_dir, clock=clock)
        pipeline = Pipeline(config, repo, Analyzer(config), Router(config.routes), clock)
        notifier = WebhookNotifier(chat.url, None, (1, 1.0))
        slept: list[float] = []

        def sleep(seconds: float) -> None:
            slept.append(seconds)
            clock.advance(seconds)

        deliverer = Deliverer(repo, {"chat": notifier}, clock, rng=random.Random(3), sleep=sleep)

        def mention(i: int) -> Mention:
            return Mention(
                id=f"m{i}",
                source="feed",
                url=f"https://example.com/{i}",
                title="Acme burger gave me food poisoning",
                text="Acme burger gave me food poisoning, I want a refund",
                fetched_at=clock.now(),
            )

        pipeline.process("feed", [mention(1)])
        assert deliverer.drain(max_wait=60).sent == 1
        pipeline.process("feed", [mention(2)])  # joins A1: an update after group_interval
        without = deliverer.drain(max_wait=10)  # the running bot's way: it waits its turn
        assert without.sent == 0 and [b["action"] for b in chat.received] == ["post"]
        slept.clear()
        report = deliverer.drain(max_wait=10, group_timers_now=True)
        assert report.sent == 1 and [b["action"] for b in chat.received] == ["post", "update"]
        assert sum(slept) <= 1.0  # at most the 1-per-second rate limit, not the 30 s timer

        # A post held by the route's group_wait goes at once too.
        deliverer.drain(max_wait=0)
        config.routes[0].group_wait = timedelta(minutes=2)
        waiting = mention(4)
        waiting.title = waiting.text = "Acme staff were rude to my grandmother today"
        pipeline.process("feed", [waiting])
        assert deliverer.drain(max_wait=10).sent == 0
        assert deliverer.drain(max_wait=10, group_timers_now=True).sent == 1
        assert [b["action"] for b in chat.received][-1] == "post"

        # A failed update waits for its retry: that is not the group timer.
        chat.respond = lambda body: (503, {"Retry-After": "300"})
        pipeline.process("feed", [mention(3)])
        deliverer.drain(max_wait=60, group_timers_now=True)
        chat.respond = lambda body: (200, {})
        attempts = chat.attempts
        report = deliverer.drain(max_wait=60, group_timers_now=True)
        assert report.sent == 0 and chat.attempts == attempts
        notifier.client.close()
        repo.close()


def test_stop_request_exit_codes() -> None:
    from app.signals import StopRequest

    stop = StopRequest()
    stop.signum = signal.SIGINT
    assert stop.exit_code == 130
    stop.signum = signal.SIGTERM
    assert stop.exit_code == 0


SIGNAL_STORM = """
import logging, os, signal, sys, threading, time
sys.path.insert(0, sys.argv[1])
logging.basicConfig(level=logging.INFO, format="%(message)s")
# The main thread below never sleeps: without a short switch interval, the killing thread
# waits up to 5 ms for the GIL after each of its sleeps (15 s for 3,000 signals). Each signal
# still lands while the main thread loops in stop.wait(), as many times as before.
sys.setswitchinterval(0.0001)
from app.signals import StopRequest, install_stop_signals
stop = StopRequest()
ran = []
restore = install_stop_signals(stop, then=lambda: ran.append(1))
done = threading.Event()
def kill() -> None:
    for _ in range(int(sys.argv[2])):
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.0005)
    done.set()
threading.Thread(target=kill, daemon=True).start()
while not done.is_set():
    stop.wait(0.00001)  # what drain() does between sends, in the main thread
stop.wait(10)
restore()
print(stop.is_set(), stop.signum == signal.SIGTERM, ran)
"""


def test_signals_arriving_while_the_main_thread_waits_on_the_stop_event_do_not_hang_it() -> None:
    """The handler used to set the event (taking its lock) from inside the main thread's own
    stop.wait(), which could hold that lock: a deadlock, until SIGKILL. It takes no lock now."""
    proc = subprocess.Popen(
        [sys.executable, "-c", SIGNAL_STORM, str(ROOT), "3000"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        out, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        pytest.fail("hung: a signal handler deadlocked on the stop event's lock")
    assert proc.returncode == 0, err
    assert out.split() == ["True", "True", "[1]"], (out, err)  # `then` ran once
    assert err.count("received SIGTERM, shutting down") == 1, err
    assert "Traceback" not in err
