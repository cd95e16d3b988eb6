"""`import`: backfill mentions from a .jsonl or .csv file."""

from __future__ import annotations

import argparse
import functools
import sys
from pathlib import Path
from typing import TextIO

from app.buzzwatch import Buzzwatch
from app.replies import say


def cmd_import(app: Buzzwatch, args: argparse.Namespace, out: TextIO) -> int:
    from sources.importer import import_file

    path = Path(args.file)
    if not path.is_file():
        what = "no such file"
        if path.is_dir():
            what = "a directory, not a file"
        elif path.exists():
            what = "not a regular file"
        print(f"error: {path}: {what}", file=sys.stderr)
        return 2
    try:
        process = functools.partial(app.pipeline.process, alert=args.alert)
        report = import_file(path, args.source, process, app.clock, progress=not args.no_progress)
    except (ValueError, UnicodeDecodeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    app.deliver_now()
    say(report.summary(), out)
    return 0 if report.accepted or not report.rows else 1
