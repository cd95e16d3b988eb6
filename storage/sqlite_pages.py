"""The SQLite store's long reads on a connection of their own (issue 16: no ack waits).

iter_mentions (the daily digest's week, a storm's day, an export) read its pages of 5,000
records on the store's one connection, under the store's lock: ~90 ms a page on the 1M
store under load, and an ack typed meanwhile waited for the page being read (p95 ~120 ms
while the digest was built, bench/digest_ack.py). Here they are read on a second
connection, which in WAL mode reads the last commit while the store's connection writes;
its own lock keeps it to one thread at a time (the digest and a storm check take turns).
Each page is its own statement, so a long read holds no snapshot between two pages (a
page may so see records stored after the one before it, as it did on the store's one).
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from pathlib import Path
from typing import Any

CACHE_KB = 4 << 10  # its page cache (the OS's file cache keeps what it reads, too)


class PageReader:
    def __init__(self, path: Path) -> None:
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA busy_timeout = 10000")
        self._db.execute("PRAGMA query_only = ON")
        self._db.execute("PRAGMA mmap_size = 0")  # (sqlite_schema.connect says why)
        self._db.execute(f"PRAGMA cache_size = -{CACHE_KB}")
        self._lock = threading.Lock()

    def page(self, sql: str, params: tuple[Any, ...]) -> list[Any]:
        """One page's rows (sqlite_search.mentions_said_since's PageReader)."""
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    def close(self) -> None:
        with self._lock, contextlib.suppress(sqlite3.Error):
            self._db.close()
