"""The running bot's delivery thread (Deliverer.start), not a hand-driven deliver_due()."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from core.delivery.worker import Deliverer
from tests.core.test_delivery_faults import Node, posted_alert_ids
from tests.standin.chat import ChatServer

START = datetime(2026, 11, 28, 2, 0, tzinfo=UTC)


class TickingClock:
    """Real elapsed time from a fixed date: time passes as it does for the worker thread's
    waits, and no result depends on the time of day."""

    def __init__(self, start: datetime) -> None:
        self._start = start
        self._t0 = time.monotonic()

    def now(self) -> datetime:
        return self._start + timedelta(seconds=time.monotonic() - self._t0)

    def advance(self, seconds: float) -> None:  # Node's drain sleep; unused here
        raise AssertionError("a ticking clock is not moved by hand")


def test_the_worker_wakes_when_the_rate_limit_frees_up_not_a_whole_pass_later(
    tmp_path: Path,
) -> None:
    clock = TickingClock(START)
    arrived = threading.Event()
    with ChatServer() as chat:

        def accept(body: dict) -> tuple[int, dict[str, str]]:
            if len(chat.received) == 3:  # this is the fourth
                arrived.set()
            return 200, {}

        chat.respond = accept
        node = Node(tmp_path, chat, clock, rate=(1, 0.2))  # type: ignore[arg-type]
        node.push(4)
        deliverer = Deliverer(node.repo, {"chat": node.notifier}, clock)
        # A pass every 10 minutes: only waking at the next allowed send gets four messages
        # out within the test's bound (the old worker sent one, then slept 600 s).
        deliverer.start(600)
        try:
            deliverer.kick()
            assert arrived.wait(30), f"only {len(chat.received)} of 4 sent"
        finally:
            deliverer.stop()
            node.close()
        assert posted_alert_ids(chat) == ["A1", "A2", "A3", "A4"]
