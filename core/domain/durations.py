"""Human durations as people type them in config and chat: 30s, 5m, 24h, 7d, 1h30m."""

from __future__ import annotations

import re
from datetime import timedelta

_PART = re.compile(r"(\d+)\s*([smhdw])")
_WHOLE = re.compile(r"^(?:\d+\s*[smhdw]\s*)+$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
# Longer than anything Buzzwatch schedules or looks back over; bigger numbers typed in chat
# ("snooze A1 99999999999999999999d") would overflow datetime arithmetic.
MAX_DURATION = timedelta(days=3650)
# How far back an on-demand digest or stats report looks: chat `digest since:`, `stats
# since:` and `bot.py digest --since` (core/commands/parsing.py, app/cli/digest.py) all take this range.
REPORT_SINCE = (timedelta(hours=1), timedelta(days=92))


class DurationTooLong(ValueError):
    """A duration written right but longer than MAX_DURATION: the reply can give the range."""


def parse_duration(value: str | int | float | timedelta) -> timedelta:
    """Parse '5m', '1h30m', '7d' (or a number of seconds) into a timedelta.

    Raises ValueError with a message a person can act on.
    """
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool):
        raise ValueError(f"not a duration: {value!r}")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError(f"duration must not be negative: {value!r}")
        return _bounded(value, value)
    text = str(value).strip().lower()
    if not text or not _WHOLE.match(text):
        raise ValueError(f"not a duration: {value!r} (use e.g. 30s, 5m, 24h, 7d, 1h30m)")
    seconds = sum(int(n) * _UNIT_SECONDS[u] for n, u in _PART.findall(text))
    return _bounded(seconds, value)


def _bounded(seconds: float, typed: object) -> timedelta:
    if seconds > MAX_DURATION.total_seconds():
        raise DurationTooLong(f"duration too long: {str(typed)[:30]!r} (at most 3650d)")
    return timedelta(seconds=seconds)


def check_report_since(since: timedelta) -> timedelta:
    """`since` if within REPORT_SINCE, else ValueError('takes between 1h and 92d')."""
    low, high = REPORT_SINCE
    if not low <= since <= high:
        raise ValueError(f"takes between {format_duration(low)} and {format_duration(high)}")
    return since


def format_duration(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds <= 0:
        return "0s"
    out = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        n, seconds = divmod(seconds, size)
        if n:
            out.append(f"{n}{unit}")
    return "".join(out[:2])
