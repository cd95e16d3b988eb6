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
        raise ValueError(f"duration too long: {str(typed)[:30]!r} (at most 3650d)")
    return timedelta(seconds=seconds)


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
