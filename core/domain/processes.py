"""Worker processes the bot starts for CPU-bound work (feed parsing, mention analysis).

One way to start them, shared by every pool: spawned, not forked (the bot's process has
threads, and locks they may hold); deaf to SIGINT and SIGTERM (Ctrl-C reaches the whole
process group and a service manager's SIGTERM the whole control group: the bot stops its
workers itself, and a task in flight then finishes); gone when the bot that started them is
(a bot killed outright cannot stop them, and they, holding both ends of their task queue,
never see it close).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Any

ORPHAN_CHECK_S = 1.0  # how often a worker checks that the bot that started it is there


def worker_pool(
    workers: int, initializer: Callable[..., object] | None = None, initargs: tuple[Any, ...] = ()
) -> ProcessPoolExecutor:
    """A pool of `workers` processes started as above; `initializer(*initargs)` then runs in
    each (it must be a module-level function, and its arguments picklable)."""
    return ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_worker_start,
        initargs=(os.getpid(), initializer, initargs),
    )


def _worker_start(
    parent: int, initializer: Callable[..., object] | None, initargs: tuple[Any, ...]
) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    threading.Thread(target=_exit_with, args=(parent,), daemon=True).start()
    if initializer is not None:
        initializer(*initargs)


def _exit_with(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(ORPHAN_CHECK_S)
    os._exit(0)
