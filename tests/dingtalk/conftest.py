"""DingTalk signs with the current time (the robot and the callbacks refuse a timestamp an
hour off), so the DingTalk tests run on a FakeClock set to now, not tests/conftest.py's; the
stand-in robot keeps that time too."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from core.domain.clock import FakeClock
from tests.dingtalk.helpers import SECRET
from tests.standin.dingtalk import RobotServer


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime.now(UTC).replace(microsecond=0))


@pytest.fixture
def robot(clock: FakeClock) -> Iterator[RobotServer]:
    """The custom robot's stand-in, signing with SECRET on `clock`."""
    with RobotServer(SECRET, now_ms=lambda: int(clock.now().timestamp() * 1000)) as server:
        yield server
