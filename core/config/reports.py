"""The daily digest and brand storm detection (volume spikes)."""

from __future__ import annotations

import re
from datetime import timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator

from core.config.base import Duration, Strict


class DigestConfig(Strict):
    """The daily digest: at `time` local time, the day that ended then, to `destinations`."""

    enabled: bool = True
    time: str = "09:00"
    timezone: str | None = None  # default: the config's timezone
    per_brand: bool = False  # one digest per brand, or one for all
    destinations: list[str] = []  # default: every destination
    # A digest later than this after its time (the bot was down) is skipped, not sent late.
    grace: Duration = timedelta(hours=6)
    top: int = Field(default=5, ge=1, le=20)  # items in each "top" list

    @field_validator("time")
    @classmethod
    def _hh_mm(cls, value: str) -> str:
        if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", value):
            raise ValueError(f"use a 24-hour local time like 09:00, not {value[:20]!r}")
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, name: str | None) -> str | None:
        try:
            return name if name is None else ZoneInfo(name).key
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown timezone {name!r} (use an IANA name like Asia/Shanghai)"
            ) from None


class StormRule(Strict):
    """When a brand's mentions in the last `window` make a storm, and when it is over."""

    window: Duration = timedelta(hours=1)
    baseline_days: int = Field(default=7, ge=1, le=28)  # the same window on each past day
    k: float = Field(default=3.0, ge=0)  # volume over baseline mean + k * stddev...
    min_ratio: float = Field(default=3.0, ge=1)  # ...and over min_ratio * mean
    min_volume: int = Field(default=20, ge=1)  # never a storm below this many mentions
    negative_share: float = Field(default=0.6, gt=0, le=1)  # or this share negative
    clear_ratio: float = Field(default=0.5, gt=0, le=1)  # over when under this * trigger level


class StormConfig(StormRule):
    enabled: bool = True
    destinations: list[str] = []  # default: every destination
    check_every: Duration = timedelta(minutes=1)
    brands: dict[str, StormRule] = {}  # brand name -> its own rule
