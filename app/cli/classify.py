"""`classify`: analyse text lines or JSON lines; one JSON result per line."""

from __future__ import annotations

import argparse
import sys
from typing import TextIO

from core.config import Config
from rules.analyze import Analyzer


def cmd_classify(config: Config, args: argparse.Namespace, out: TextIO) -> int:
    from rules.classify import classify_lines

    analyzer = Analyzer(config)
    found = config.brand(args.brand) if args.brand else None
    if args.brand and found is None:
        known = ", ".join(b.name for b in config.brands)
        print(f"unknown brand {args.brand!r}; brands in the config: {known}", file=sys.stderr)
        return 2
    brand = found.name if found else None
    stream = open(args.file, encoding="utf-8") if args.file else sys.stdin  # noqa: SIM115
    try:
        for line in classify_lines(stream, analyzer, brand):
            print(line, file=out, flush=True)
    finally:
        if args.file:
            stream.close()
    return 0
