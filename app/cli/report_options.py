"""The options `digest` and `export` share: --brand and --since."""

from __future__ import annotations

import argparse
from datetime import timedelta

from core.config import Config


def report_args(
    config: Config, args: argparse.Namespace, report: bool = False
) -> tuple[str | None, timedelta]:
    """--brand and --since of `digest` and `export`; ValueError with a message if wrong.
    `report`: --since within the range chat's `digest since:` takes (REPORT_SINCE)."""
    from core.domain.durations import check_report_since, parse_duration

    found = config.brand(args.brand) if args.brand else None
    if args.brand and found is None:
        known = ", ".join(b.name for b in config.brands)
        raise ValueError(f"unknown brand {args.brand!r}; brands in the config: {known}")
    since = parse_duration(args.since)
    if report:
        try:
            check_report_since(since)
        except ValueError as err:
            raise ValueError(f"--since {err}") from None
    return (found.name if found else None), since
