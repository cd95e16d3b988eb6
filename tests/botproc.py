"""Reading a running bot process's stdout in tests, with a bound: a bot that goes quiet fails
the test instead of hanging it."""

from __future__ import annotations

import os
import select
import subprocess
import time
from collections.abc import Callable

WAIT = 90.0  # a bound for a hung bot, never a measurement


def read_until(
    proc: subprocess.Popen, done: Callable[[str], bool], wait: float = WAIT
) -> tuple[str, bool]:
    """What the bot has printed on stdout (a pipe) until `done(printed)`, the bot exits or
    `wait` seconds pass; and whether `done` was reached."""
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    raw = b""
    deadline = time.monotonic() + wait
    while not done(raw.decode("utf-8", "replace")):
        left = deadline - time.monotonic()
        if left <= 0:
            return raw.decode("utf-8", "replace"), False
        ready, _, _ = select.select([fd], [], [], min(left, 1.0))
        if not ready:
            continue
        chunk = os.read(fd, 65536)
        if not chunk:  # the bot closed stdout: it has exited
            return raw.decode("utf-8", "replace"), done(raw.decode("utf-8", "replace"))
        raw += chunk
    return raw.decode("utf-8", "replace"), True
