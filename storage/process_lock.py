"""One Buzzwatch process per data folder.

Each process keeps the state file in memory and writes it whole; a second process writing
the same folder would silently undo the first one's changes (an ack, an alert id). An
exclusive lock on data_dir/.lock turns that into a clear error at start.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from storage.atomic_json import StorageError


class ProcessLock:
    def __init__(self, data_dir: Path) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        self.path = data_dir / ".lock"
        self._fd: int | None = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(self._fd, 32, 0).decode(errors="replace").strip() or "?"
            os.close(self._fd)
            raise StorageError(
                f"another Buzzwatch process (pid {holder}) is using {data_dir}: stop it first, "
                "or use the chat commands of the running bot (read-only commands such as "
                "`mentions`, `command status` and `--dry-run` work alongside it)"
            ) from None
        try:  # the pid tells a second process who holds the folder
            os.ftruncate(self._fd, 0)
            os.pwrite(self._fd, str(os.getpid()).encode(), 0)
        except OSError as err:  # a full disk: say which file, not just the errno's text
            self.release()
            raise StorageError(f"could not write {self.path}: {err.strerror or err}") from err

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
