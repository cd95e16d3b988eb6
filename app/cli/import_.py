"""`import`: backfill mentions from a .jsonl or .csv file."""

from __future__ import annotations

import argparse
import functools
import signal
import sys
from contextlib import nullcontext
from pathlib import Path
from typing import TextIO

from tqdm.contrib.logging import logging_redirect_tqdm

from app.buzzwatch import Buzzwatch
from app.replies import say
from app.signals import StopRequest, install_stop_signals
from storage.atomic_json import STORE_FAILURES, failure_text


def cmd_import(app: Buzzwatch, args: argparse.Namespace, out: TextIO) -> int:
    from sources.importer import ImportReport, import_file

    path = Path(args.file)
    if not path.is_file():
        what = "no such file"
        if path.is_dir():
            what = "a directory, not a file"
        elif path.exists():
            what = "not a regular file"
        print(f"error: {path}: {what}", file=sys.stderr)
        return 2
    # Ctrl-C or SIGTERM ends the import after the batch in flight (not with a traceback in
    # the middle of it): what was read is stored, the report says where it stopped.
    stop = StopRequest()
    restore = install_stop_signals(stop)
    report = ImportReport()
    # A log line written while the bar is drawn went on the bar's line; tqdm's own redirect
    # clears the bar, writes the line and draws the bar again.
    redirect = nullcontext() if args.no_progress else logging_redirect_tqdm()
    try:
        process = functools.partial(app.pipeline.process, alert=args.alert)
        with redirect:
            import_file(
                path,
                args.source,
                process,
                app.clock,
                progress=not args.no_progress,
                stop=stop,
                report=report,
            )
    except (ValueError, UnicodeDecodeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except STORE_FAILURES as err:  # a full disk: how far it got, and that a re-run is safe
        from app.runloop import EXIT_STORAGE_FAILED

        print(f"error: {failure_text(err)}", file=sys.stderr)
        print(
            f"import stopped at line {report.last_line}: {report.stored} mention(s) stored "
            "before it; free space (or fix the data folder) and run the same import again "
            "(what is stored is skipped as seen before)",
            file=sys.stderr,
        )
        return EXIT_STORAGE_FAILED
    finally:
        restore()
    if not stop.is_set():
        app.deliver_now()
    say(report.summary(), out)
    if report.stopped:
        return 128 + (stop.signum or signal.SIGINT)  # 130, 143: not all of the file is in
    return 0 if report.accepted or not report.rows else 1
