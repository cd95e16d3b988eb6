"""The SQLite store's WAL checkpoints, made by a thread of their own (issue 16).

SQLite checkpoints in the commit that takes the WAL past 1,000 pages: that commit copies
the pages into the database file and waits for the disk twice, holding the store's lock.
With a poll cycle writing ~4 MB of mentions and their full-text index that was nearly every
cycle, and an ack typed then waited for it (the writer's transactions' p95 ~100 ms under
load). Here the store's connection never checkpoints (wal_autocheckpoint = 0); a thread
with its own connection makes PASSIVE checkpoints once the WAL is past CHECKPOINT_BYTES:
they wait for no reader or writer, and the store's writes go on meanwhile.

After each commit it also checks that the store's file is still the one opened: deleted or
replaced (a backup moved over it) under a running bot, SQLite in WAL mode went on writing,
without an error, to the unlinked file, and everything stored from then on was lost when
the bot stopped. Now each write from then on fails with a StorageError that says so.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
from pathlib import Path

from storage.atomic_json import StorageError

log = logging.getLogger(__name__)

CHECKPOINT_BYTES = 4 << 20  # SQLite's own point: 1,000 pages of 4 KB
IDLE_CHECK = 1.0  # seconds between looks at the WAL's size when no commit says to


class Checkpointer:
    def __init__(self, path: Path) -> None:
        self.wal = path.with_name(path.name + "-wal")
        self.limit = CHECKPOINT_BYTES
        self.path = path
        self._opened = file_identity(path)
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA busy_timeout = 10000")
        self._wake = threading.Event()
        self._stop = False
        self._thread = threading.Thread(target=self._run, name="sqlite-checkpoints", daemon=True)
        self._thread.start()

    def committed(self) -> None:
        """A commit was made: look at the WAL's size soon. StorageError if the store's file
        was deleted or replaced since it was opened (the commit went to the old file)."""
        if file_identity(self.path) != self._opened:
            raise StorageError(
                f"{self.path} was deleted or replaced while this process had it open: what "
                "it stores now goes to the old file and is lost when it stops; stop it and "
                "start it again"
            )
        self._wake.set()

    def _due(self) -> bool:
        try:
            return self.wal.stat().st_size >= self.limit
        except OSError:
            return False

    def _run(self) -> None:
        while not self._stop:
            self._wake.wait(IDLE_CHECK)
            self._wake.clear()
            if self._stop or not self._due():
                continue
            try:
                self._db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            except Exception as err:  # the next commit tries again: this thread must live
                # on, or the log grows without end (the store's connection never checkpoints)
                log.warning("SQLite checkpoint failed: %s", err)

    def close(self) -> None:
        self._stop = True
        self._wake.set()
        self._thread.join()
        with contextlib.suppress(sqlite3.Error):
            self._db.close()


def file_identity(path: Path) -> tuple[int, int] | None:
    """The file at `path` (device and inode), or None if there is none."""
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_dev, st.st_ino
