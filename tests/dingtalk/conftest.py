"""DingTalk signs with the current time (the robot and the callbacks refuse a timestamp an
hour off), so the DingTalk tests run on a FakeClock set to now, not tests/conftest.py's."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from core.domain.clock import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime.now(UTC).replace(microsecond=0))
