"""`classify`: analyse text lines or JSON lines; one JSON result per line."""

from __future__ import annotations

import argparse
import io
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
        print(
            f"error: unknown brand {args.brand!r}; brands in the config: {known}", file=sys.stderr
        )
        return 2
    brand = found.name if found else None
    # Bytes that are not UTF-8 are kept (as lone surrogates) so that only their line gets an
    # error result, from a file or stdin alike, whatever the locale says stdin is.
    stream: TextIO
    if args.file:
        stream = open(args.file, encoding="utf-8-sig", errors="surrogateescape")  # noqa: SIM115
    else:
        stream = _utf8(sys.stdin)
    try:
        for line in classify_lines(stream, analyzer, brand):
            print(line, file=out, flush=True)
    finally:
        if args.file:
            stream.close()
    return 0


def _utf8(stdin: TextIO) -> TextIO:
    """stdin read as UTF-8 (a byte-order mark dropped), undecodable bytes kept as surrogates;
    a stream without bytes under it (a test's StringIO) as it is."""
    buffer = getattr(stdin, "buffer", None)
    if buffer is None:
        return stdin
    return io.TextIOWrapper(buffer, encoding="utf-8-sig", errors="surrogateescape")
