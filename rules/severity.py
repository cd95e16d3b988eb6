"""One severity from the flags, the sentiment and the reach."""

from __future__ import annotations

from collections.abc import Collection

from core.domain.models import Flag, Severity

MEGA_REACH = 1_000_000
WIDE_REACH = 10_000  # followers from which a complaint is seen by many


def severity_of(
    flags: Collection[str], sentiment: float, reach: int, positive_threshold: float
) -> Severity:
    """critical: a critical aspect that is not praise, or a complaint with mega reach;
    high: a complaint from a KOL or an author with wide reach, or a critical aspect in praise;
    medium: any other complaint, a question or a KOL post; low: the rest.

    The sentiment score's size does not raise severity: the model is often near -1 for a
    mild grumble, and a team drowning in "high" alerts stops reading them.
    """
    negative = Flag.NEGATIVE in flags
    if Flag.CRITICAL in flags:
        return Severity.HIGH if sentiment >= positive_threshold else Severity.CRITICAL
    if negative and reach >= MEGA_REACH:
        return Severity.CRITICAL
    if negative and (Flag.KOL in flags or reach >= WIDE_REACH):
        return Severity.HIGH
    if negative or Flag.QUESTION in flags or Flag.KOL in flags:
        return Severity.MEDIUM
    return Severity.LOW
