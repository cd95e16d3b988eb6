"""`run` (the default) and `--once`: poll and alert until stopped, or one cycle."""

from __future__ import annotations

import argparse

from app.buzzwatch import Buzzwatch
from app.runloop import run_forever, run_once, stop_work
from app.signals import StopRequest, install_stop_signals


def cmd_run(app: Buzzwatch, args: argparse.Namespace) -> int:
    if args.once:
        stop = StopRequest()
        # A signal cuts the fetches in flight (the poll ends now), leaves a batch being
        # analysed at its next chunk, and ends the drain's wait.
        restore = install_stop_signals(stop, then=lambda: stop_work(app))
        try:
            return run_once(app, stop)
        finally:
            restore()
    return run_forever(app)
