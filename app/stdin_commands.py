"""Chat commands typed into the running bot's terminal (or piped into its stdin)."""

from __future__ import annotations

import logging
import os
import select
import sys
import threading
from typing import TYPE_CHECKING, Any, TextIO

from app.replies import reply_text
from core.commands.service import is_read_only
from listeners.console import Output

if TYPE_CHECKING:
    from app.buzzwatch import Buzzwatch

log = logging.getLogger("buzzwatch")

# A line typed into the running bot longer than this (bytes, no newline yet) is dropped.
MAX_STDIN_LINE = 64 * 1024


def _may_read_stdin(fd: int) -> bool:
    """Whether reading `fd` now is safe: a pipe or a file, or a terminal this process is in
    the foreground of. A background process reading its terminal is stopped (SIGTTIN)."""
    try:
        return not os.isatty(fd) or os.tcgetpgrp(fd) == os.getpgrp()
    except OSError:  # a terminal that is not ours: leave it alone
        return False


def run_stdin_command(app: Buzzwatch, line: str, out: Output) -> None:
    """One line typed into the running bot: a chat command from the local console user.
    Its reply goes to `out`; when that is closed (the reader of stdout left), the command
    still runs, silently: typed blind, an ack or resolve still counts (said once in the log
    by `out`)."""
    text = line.strip()
    if not text:
        return
    if text.lower() in {"quit", "exit", "q"}:
        out.print("The bot keeps running: Ctrl-C stops it.")
        return
    try:
        reply = app.run_command(text)
    except Exception:  # one bad command must not end the reader
        log.exception("command %r failed", text[:80])
        return
    if app.dry_run and reply.ok and not is_read_only(text):
        reply.text += "\n(dry run: not stored; forgotten when the bot stops)"
    out.print(reply_text(reply))
    if reply.changed:
        app.deliverer.kick()


def read_stdin_commands(
    app: Buzzwatch, fd: int, out: TextIO | Output | None, stop: threading.Event
) -> None:
    """Run each line read from `fd` as a chat command until end of file (which ends only this
    reader, not the bot) or `stop`; replies go to `out` (None: sys.stdout) for as long as it
    can be written to, and the commands go on running after it is closed. Reads the
    descriptor directly (no buffered stream whose lock a blocked daemon thread would hold at
    exit), and never while in the background of a terminal: it waits until brought to the
    foreground."""
    if not isinstance(out, Output):
        out = Output(out)
    pending = b""
    skipping = False  # dropping the rest of an over-long line
    told_background = False
    while not stop.is_set():
        if not _may_read_stdin(fd):
            if not told_background:
                log.info("in the background: not reading commands from the terminal")
                told_background = True
            stop.wait(1.0)
            continue
        try:
            ready, _, _ = select.select([fd], [], [], 0.5)
            if not ready or not _may_read_stdin(fd):
                continue
            chunk = os.read(fd, 4096)
        except (OSError, ValueError):  # the terminal went away, stdin was closed
            return
        if not chunk:
            if pending and not skipping:
                run_stdin_command(app, pending.decode("utf-8", "replace"), out)
            return
        pending += chunk
        while b"\n" in pending:
            line, pending = pending.split(b"\n", 1)
            if skipping:
                skipping = False
                continue
            run_stdin_command(app, line.decode("utf-8", "replace"), out)
        if len(pending) > MAX_STDIN_LINE:
            if not skipping:
                out.print("That line is too long: ignored.")
            pending, skipping = b"", True


def start_stdin_commands(app: Buzzwatch) -> Any:
    """Take chat commands from stdin while the bot runs, in a daemon thread; a function that
    stops it, or None when there is no stdin."""
    try:
        fd = sys.stdin.fileno() if sys.stdin is not None else -1
        os.fstat(fd)
    except (OSError, ValueError, AttributeError):
        return None
    if os.isatty(fd) and _may_read_stdin(fd):
        log.info("commands: type `help` and Enter for the list (ack, assign, resolve, status…)")
    stop = threading.Event()
    out = Output(app.stdout)  # None: sys.stdout, looked up at each print
    threading.Thread(
        target=read_stdin_commands, args=(app, fd, out, stop), name="stdin-commands", daemon=True
    ).start()
    return stop.set
