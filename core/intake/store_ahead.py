"""A batch's mentions stored ahead, chunk by chunk, in a thread of their own.

A poll cycle stores its mentions before its alerts, in short transactions (the store's
`save_cycle` with no seen ids, alerts or outbox), outside the storage lock. Most of a
transaction's time is SQLite's: the full-text index (C) and the commit reaching the disk
(synchronous = FULL), during which Python's interpreter lock is free. So each chunk is
stored in this thread as soon as it is analysed, while the pipeline's own thread analyses
and routes the next one; one thread, so the chunks are stored in order, in the same
transactions as before. The pipeline waits for them all before it takes the storage lock
for grouping and the cycle's last transaction (the seen ids: a crash before it redoes the
cycle, and mentions stored again are replaced by id).
"""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures

from core.domain.models import Mention
from core.domain.repository import Repository


class StoreAhead:
    def __init__(self, repo: Repository) -> None:
        self.repo = repo
        self._lock = threading.Lock()
        self._thread: ThreadPoolExecutor | None = None
        self._pending: list[Future[None]] = []

    def submit(self, mentions: list[Mention]) -> None:
        """Store these mentions (the batch's next ones) in the thread."""
        with self._lock:
            if self._thread is None:
                self._thread = ThreadPoolExecutor(1, thread_name_prefix="store-ahead")
            thread = self._thread
        self._pending.append(thread.submit(self.repo.save_cycle, mentions, [], [], []))

    def wait(self, quiet: bool = False) -> None:
        """Until every chunk submitted is stored; then the first one's error, if any failed
        (`quiet`: none, the caller has an error of its own to raise)."""
        pending, self._pending = self._pending, []
        wait_futures(pending)
        for f in pending:
            if not quiet:
                f.result()

    def close(self) -> None:
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            thread.shutdown(wait=True)
