"""A worker process that dies while a task it had not started was cancelled: the pool is
marked broken cleanly (Python 3.11's manager thread raised InvalidStateError there: a
traceback in the log, its other tasks never failed, its queues never closed)."""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures.process import BrokenProcessPool
from typing import Any

import pytest

from core.domain.processes import worker_pool
from tests.analysis_rig import alive


def test_a_worker_killed_with_a_cancelled_task_queued_breaks_the_pool_cleanly(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    errors: list[Any] = []
    monkeypatch.setattr(threading, "excepthook", errors.append)
    pool = worker_pool(1)
    try:
        pid = pool.submit(os.getpid).result(timeout=60)
        running = pool.submit(time.sleep, 60)  # the worker's
        queued = pool.submit(time.sleep, 60)  # in the call queue: running too, for the pool
        pending = [pool.submit(time.sleep, 60) for _ in range(3)]  # not handed over yet
        assert all(f.cancel() for f in pending[:2])  # taken back (offload._takes)
        os.kill(pid, 9)
        for f in (running, queued, pending[2]):
            with pytest.raises(BrokenProcessPool):
                f.result(timeout=30)  # pending[2] waited for ever before: never failed
        manager = pool._executor_manager_thread
        if manager is not None:
            manager.join(timeout=30)
            assert not manager.is_alive()
        assert errors == []  # was: InvalidStateError: CANCELLED: <Future ...>
        assert not alive(pid)
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
