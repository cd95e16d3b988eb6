"""Times and durations from third parties or chat users at the edges of what datetime holds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from core.alerting.views import local_time, set_display_timezone
from core.domain.durations import parse_duration


@pytest.fixture
def west_of_utc():
    set_display_timezone(ZoneInfo("America/New_York"))
    yield
    set_display_timezone(UTC)


def test_year_one_renders_in_utc_instead_of_raising(west_of_utc) -> None:
    assert local_time(datetime(1, 1, 1, tzinfo=UTC)).endswith("-01-01 00:00 UTC")
    assert local_time("0001-01-01T00:00:00+00:00").endswith("-01-01 00:00 UTC")
    assert local_time(datetime(2026, 11, 28, 12, 0, tzinfo=UTC)) == "2026-11-28 07:00 EST"


def test_the_last_day_of_year_9999_renders_east_of_utc() -> None:
    set_display_timezone(ZoneInfo("Asia/Tokyo"))
    try:
        assert local_time(datetime(9999, 12, 31, 23, 0, tzinfo=UTC)) == "9999-12-31 23:00 UTC"
    finally:
        set_display_timezone(UTC)


@pytest.mark.parametrize("typed", ["99999999999999999999d", "9999999999999w", "3651d", 10**20])
def test_durations_beyond_ten_years_are_refused_with_a_clear_error(typed) -> None:
    with pytest.raises(ValueError, match="too long"):
        parse_duration(typed)


def test_ten_years_is_still_a_duration() -> None:
    assert parse_duration("3650d") == timedelta(days=3650)
