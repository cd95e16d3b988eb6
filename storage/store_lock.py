"""The embedded store's lock: re-entrant, and a poll cycle writing its mentions in slices
gives way to the threads waiting for it between two slices (issue 16).

A plain lock is not handed over: the writer released it after a slice, went on preparing
the next one (holding the GIL) and took the lock again before a waiting ack thread (woken,
but not yet given a core on a busy machine) did, so an ack waited for several slices
(p95 110-220 ms with two query processes running, `lock wait` measured in the ack).
"""

from __future__ import annotations

import threading
from typing import Any

GIVE_WAY = 0.5  # seconds a writer waits at most for the others (so it is never starved)


class StoreLock:
    """A re-entrant lock (`with lock:`) that counts the threads waiting to take it."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._turns = threading.Condition(threading.Lock())
        self._waiting = 0
        self._owner = 0  # the thread holding it
        self._depth = 0

    def __enter__(self) -> StoreLock:
        if not self._lock.acquire(blocking=False):  # (free, or this thread's already)
            self._wait()
        self._owner = threading.get_ident()
        self._depth += 1
        return self

    def _wait(self) -> None:
        with self._turns:
            self._waiting += 1
        try:
            self._lock.acquire()
        finally:
            with self._turns:
                self._waiting -= 1
                if not self._waiting:
                    self._turns.notify_all()

    def __exit__(self, *exc: Any) -> None:
        self._depth -= 1
        if not self._depth:
            self._owner = 0
        self._lock.release()

    @property
    def waiting(self) -> bool:
        """Whether another thread waits to take the lock."""
        return bool(self._waiting)

    def give_way(self, timeout: float = GIVE_WAY) -> None:
        """Wait until no other thread waits for the lock (at most `timeout`): a background
        writer calls this before it takes the lock again (not while it holds it)."""
        if self._owner == threading.get_ident():
            return
        with self._turns:
            self._turns.wait_for(lambda: not self._waiting, timeout)


class Urgent:
    """The changes people make (an ack), counted while they run: a background writer gives
    way to them between its transactions (the PostgreSQL store: its writes take no lock an
    ack waits for, but they take the cores and the GIL an ack's round trips wait for)."""

    def __init__(self) -> None:
        self._turns = threading.Condition(threading.Lock())
        self._running = 0

    def __enter__(self) -> Urgent:
        with self._turns:
            self._running += 1
        return self

    def __exit__(self, *exc: Any) -> None:
        with self._turns:
            self._running -= 1
            if not self._running:
                self._turns.notify_all()

    def give_way(self, timeout: float = GIVE_WAY) -> None:
        """Wait until no change runs (at most `timeout`)."""
        with self._turns:
            self._turns.wait_for(lambda: not self._running, timeout)


def local_job_lock(owner: object, name: str) -> threading.Lock:
    """`owner`'s lock for job `name`, in this process (made the first time it is asked for;
    dict.setdefault is atomic: two threads asking at once get the same lock)."""
    locks: dict[str, threading.Lock] = owner.__dict__.setdefault("_job_locks", {})
    return locks.setdefault(name, threading.Lock())


class JobLocks:
    """Repository.job_lock for a store that one process opens (SQLite, TinyDB): a lock per
    job name, in this process. It is not the store's lock: holding it blocks no other call."""

    def job_lock(self, name: str) -> threading.Lock:
        return local_job_lock(self, name)
