"""The highest alert id issued, kept outside the state it guards.

Alert ids are in people's hands (Slack buttons, DingTalk links, "ack A12" typed in chat):
one given to a second story makes an old button act on the wrong alert. The counter lives
in the state file, which can be lost with its backup, or replaced by an older copy; this
small append-only file survives that. Before ids are handed out, the highest of them is
appended (one fsync); at start the counter carries on above the highest number in it.

Any backend can keep one next to its data (see Repository.next_alert_ids).
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

from storage.atomic_json import StorageError, fsync_dir, write_atomically

log = logging.getLogger("buzzwatch.storage")

COMPACT_AT = 64 * 1024  # bytes; then the file is rewritten as one line
_ARCHIVED_ID = re.compile(rb'"id":"A(\d{1,9})"')


class AlertIdMark:
    def __init__(self, path: Path, read_only: bool = False) -> None:
        self.path = path
        self.read_only = read_only
        self._mark = self._read()

    def _read(self) -> int:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return 0
        # A torn last line is from a reservation whose ids were never stored: ignore it.
        numbers = [int(w) for w in raw.split() if w.isdigit() and len(w) < 10]
        if raw.strip() and not numbers:
            log.error("%s holds no number; alert ids go by the state file alone", self.path)
        return max(numbers, default=0)

    @property
    def mark(self) -> int:
        """No id above A<mark> was ever issued from this folder."""
        return self._mark

    def cover(self, last: int) -> None:
        """Before ids up to `last` are handed out: record it durably. Raises StorageError
        when it cannot be written: no id is issued then."""
        if last <= self._mark or self.read_only:
            return
        line = f"\n{last}\n".encode("ascii")  # the leading newline closes off a torn line
        if self.path.exists() and self.path.stat().st_size > COMPACT_AT:
            write_atomically(self.path, line, keep_backup=False)
        else:
            new_file = not self.path.exists()
            try:
                with open(self.path, "ab") as f:
                    f.write(line)
                    f.flush()
                    os.fsync(f.fileno())
            except OSError as err:
                raise StorageError(
                    f"could not append to {self.path}: {err.strerror or err}"
                ) from err
            if new_file:
                fsync_dir(self.path.parent)
        self._mark = last


def highest_archived_id(folder: Path) -> int:
    """The highest alert number in an archive of alert records (JSON lines), 0 if none."""
    best = 0
    if not folder.exists():
        return 0
    for path in folder.glob("*.jsonl"):
        for match in _ARCHIVED_ID.finditer(path.read_bytes()):
            best = max(best, int(match.group(1)))
    return best
