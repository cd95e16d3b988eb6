"""Worker processes the bot starts for CPU-bound work (feed parsing, mention analysis).

One way to start them, shared by every pool: spawned, not forked (the bot's process has
threads, and locks they may hold); deaf to SIGINT and SIGTERM (Ctrl-C reaches the whole
process group and a service manager's SIGTERM the whole control group: the bot stops its
workers itself, and a task in flight then finishes); gone when the bot that started them is
(a bot killed outright cannot stop them, and they, holding both ends of their task queue,
never see it close).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, InvalidStateError, ProcessPoolExecutor, process
from typing import Any

ORPHAN_CHECK_S = 1.0  # how often a worker checks that the bot that started it is there


def worker_pool(
    workers: int, initializer: Callable[..., object] | None = None, initargs: tuple[Any, ...] = ()
) -> ProcessPoolExecutor:
    """A pool of `workers` processes started as above; `initializer(*initargs)` then runs in
    each (it must be a module-level function, and its arguments picklable)."""
    return _Pool(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_worker_start,
        initargs=(os.getpid(), initializer, initargs),
    )


class _Pool(ProcessPoolExecutor):
    """Python 3.11's pool, with 3.12's fix for a worker that dies while a task it had not
    started was cancelled (the analysis pool cancels the chunks this process takes back):
    3.11's manager thread raised InvalidStateError marking that task failed, a traceback in
    the log, and left the rest undone (the other workers not stopped, the queues not closed;
    a wait on a running task ran to its timeout)."""

    def _start_executor_manager_thread(self) -> None:
        super()._start_executor_manager_thread()
        manager = getattr(self, "_executor_manager_thread", None)
        if sys.version_info < (3, 12) and type(manager) is process._ExecutorManagerThread:
            manager.__class__ = _Manager  # (set before any worker can have died: just started)


class _Manager(process._ExecutorManagerThread):
    def terminate_broken(self, cause: Any) -> None:
        for item in list(self.pending_work_items.values()):
            item.future.set_exception = _unless_done(item.future)  # type: ignore[method-assign,assignment]
        super().terminate_broken(cause)


def _unless_done(future: Future[Any]) -> Callable[[BaseException | None], None]:
    """future.set_exception, a no-op on a future that is done or cancelled (as 3.12 has it:
    checking first would race with a cancel)."""
    set_exception = future.set_exception

    def set_unless_done(exception: BaseException | None) -> None:
        with contextlib.suppress(InvalidStateError):
            set_exception(exception)

    return set_unless_done


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
