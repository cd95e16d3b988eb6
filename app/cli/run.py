"""`run` (the default) and `--once`: poll and alert until stopped, or one cycle."""

from __future__ import annotations

import argparse

from app.buzzwatch import Buzzwatch
from app.runloop import run_forever, run_once
from app.signals import StopRequest, install_stop_signals


def cmd_run(app: Buzzwatch, args: argparse.Namespace) -> int:
    if args.once:
        stop = StopRequest()
        # A signal cuts the fetches in flight (the poll ends now) and ends the drain's wait.
        restore = install_stop_signals(stop, then=app.fetcher.stop)
        try:
            return run_once(app, stop)
        finally:
            restore()
    return run_forever(app)
