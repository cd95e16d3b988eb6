"""Stopping on SIGINT (Ctrl-C) and SIGTERM: a flag the run loops wait on, set safely."""

from __future__ import annotations

import logging
import os
import signal
import threading
from typing import Any

log = logging.getLogger("buzzwatch")


class StopRequest(threading.Event):
    """Set when SIGINT (Ctrl-C) or SIGTERM asks the process to stop; `signum` says which."""

    def __init__(self) -> None:
        super().__init__()
        self.signum: int | None = None

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name if self.signum else "a stop request"

    @property
    def exit_code(self) -> int:
        """130 after Ctrl-C (128 + SIGINT: what a shell expects of an interrupted program);
        0 after SIGTERM (a service stopped as asked: systemd's clean stop)."""
        return 128 + signal.SIGINT if self.signum == signal.SIGINT else 0


def install_stop_signals(stop: StopRequest, then: Any = None) -> Any:
    """SIGINT and SIGTERM set `stop` (no KeyboardInterrupt in the middle of a write), the
    first one also runs `then()` (the main thread may be waiting on something `then` ends).
    Returns a function that puts the previous handlers back. Outside the main thread (a test
    calling main()), signals cannot be handled: no-op.

    The handler runs in the main thread between two bytecodes, possibly while that thread
    holds `stop`'s own lock inside stop.wait(): setting the event, starting a thread or
    logging there (all take locks) could deadlock. So the handler only records which signal;
    the C-level wakeup fd writes the signal's number to a pipe, and a watcher thread started
    here does the rest: logs it, sets `stop`, runs `then()`."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    wanted = (signal.SIGINT, signal.SIGTERM)
    read_fd, write_fd = os.pipe()
    os.set_blocking(write_fd, False)  # set_wakeup_fd's requirement: a signal never blocks

    def on_signal(signum: int, _frame: Any) -> None:
        if stop.signum is None:  # a plain assignment: no lock taken
            stop.signum = signum

    def watch() -> None:
        first = True
        while True:
            try:
                data = os.read(read_fd, 64)
            except OSError:
                data = b""
            if not data:  # restore() closed the write end
                os.close(read_fd)
                return
            for signum in data:
                if signum not in wanted or not first:
                    continue
                first = False
                if stop.signum is None:  # the handler has not run yet
                    stop.signum = signum
                log.info("received %s, shutting down", stop.name)
                stop.set()
                if then is not None:
                    try:
                        then()
                    except Exception:  # the stop itself must not be lost with this thread
                        log.exception("while stopping")

    threading.Thread(target=watch, name="stop-signals", daemon=True).start()
    previous_fd = signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)
    previous = {s: signal.signal(s, on_signal) for s in wanted}

    def restore() -> None:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        signal.set_wakeup_fd(previous_fd)
        os.close(write_fd)  # the watcher reads what is left, then ends

    return restore
