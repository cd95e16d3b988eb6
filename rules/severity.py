"""One severity from the flags, the sentiment and the reach."""

from __future__ import annotations

from collections.abc import Collection

from core.models import Flag, Severity

MEGA_REACH = 1_000_000
VERY_NEGATIVE = -0.7


def severity_of(
    flags: Collection[str], sentiment: float, reach: int, positive_threshold: float
) -> Severity:
    """critical: a critical aspect that is not praise, or a complaint with mega reach;
    high: a complaint from a KOL or a very negative one, or a critical aspect in praise;
    medium: any complaint, question or KOL post; low: the rest.
    """
    negative = Flag.NEGATIVE in flags
    if Flag.CRITICAL in flags:
        return Severity.HIGH if sentiment >= positive_threshold else Severity.CRITICAL
    if negative and reach >= MEGA_REACH:
        return Severity.CRITICAL
    if negative and (Flag.KOL in flags or sentiment <= VERY_NEGATIVE):
        return Severity.HIGH
    if negative or Flag.QUESTION in flags or Flag.KOL in flags:
        return Severity.MEDIUM
    return Severity.LOW
