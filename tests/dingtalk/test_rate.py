"""50 alerts in one minute to one robot: none lost, never over 20 a minute at DingTalk.

The real outbox worker (rate limit from the notifier, overflow merged into batch messages)
drives the real notifier against the stand-in robot, which refuses the 21st message in any
minute with 130101 as DingTalk does. Time is a FakeClock shared by all three.
"""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime

import pytest

from core.delivery.worker import Deliverer
from core.domain.clock import FakeClock
from tests.dingtalk.helpers import add_alert, build_app
from tests.standin.dingtalk import RobotServer


@pytest.mark.parametrize("spacing", [0.0, 1.2])  # all at once, or spread over the minute
def test_fifty_alerts_in_a_minute(tmp_path, spacing: float):
    clock = FakeClock(datetime.now(UTC).replace(microsecond=0))
    with RobotServer("SECrate", now_ms=lambda: int(clock.now().timestamp() * 1000)) as robot:
        app = build_app(tmp_path, clock, robot, stdout=io.StringIO())
        deliverer = Deliverer(app.repo, app.notifiers, clock, sleep=clock.advance)
        try:
            for i in range(1, 51):
                add_alert(app, f"A{i}", title=f"第{i}条 艾克米差评")
                deliverer.deliver_due()
                clock.advance(spacing)
            deliverer.drain(max_wait=3600)
            assert app.repo.pending_outbox() == []
            assert app.repo.dead_letters() == []
        finally:
            app.close()

    assert robot.problems == []
    assert all(r["errcode"] == 0 for r in robot.requests)  # never a 130101
    assert robot.max_per_minute() <= 20
    shown: set[str] = set()
    for body in robot.accepted:
        shown |= set(re.findall(r"\bA\d+\b", body["markdown"]["text"].split("@Buzzwatch")[0]))
    assert shown == {f"A{i}" for i in range(1, 51)}  # every alert reached the group
    assert len(robot.accepted) < 50  # the overflow went out merged
