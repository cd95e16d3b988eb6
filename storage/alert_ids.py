"""A high-water mark for alert ids, kept outside the state it guards.

Alert ids are in people's hands (Slack buttons, DingTalk links, "ack A12" typed in chat):
one given to a second story makes an old button act on the wrong alert. The counter lives
in the state file, which can be lost with its backup; this small file survives that. It
holds a number at least as high as any id issued, moved ahead a block at a time so that
most reservations do not write it. After the state is lost, ids carry on above it (a gap
of up to a block: ids are never reused, not necessarily consecutive).

Any backend can keep one next to its data (see Repository.next_alert_ids).
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from storage.atomic_json import write_atomically

log = logging.getLogger("buzzwatch.storage")

BLOCK = 100
_ARCHIVED_ID = re.compile(rb'"id":"A(\d{1,9})"')


class AlertIdMark:
    def __init__(self, path: Path, read_only: bool = False) -> None:
        self.path = path
        self.read_only = read_only
        self._mark = self._read()

    def _read(self) -> int:
        try:
            text = self.path.read_text("ascii").strip()
        except FileNotFoundError:
            return 0
        except (OSError, UnicodeDecodeError) as err:
            log.error("%s is unreadable (%s); alert ids go by the state file alone", self.path, err)
            return 0
        if not text.isdigit():
            log.error("%s does not hold a number (%.20r); ignored", self.path, text)
            return 0
        return int(text)

    @property
    def mark(self) -> int:
        """No id above A<mark> was ever issued."""
        return self._mark

    def cover(self, last: int) -> None:
        """Before ids up to `last` are handed out: move the mark to cover them (durably).
        Raises StorageError when it cannot be written: no id is issued then."""
        if last <= self._mark or self.read_only:
            return
        mark = last + BLOCK
        write_atomically(self.path, f"{mark}\n".encode("ascii"), keep_backup=False)
        self._mark = mark


def highest_archived_id(folder: Path) -> int:
    """The highest alert number in an archive of alert records (JSON lines), 0 if none."""
    best = 0
    if not folder.exists():
        return 0
    for path in folder.glob("*.jsonl"):
        for match in _ARCHIVED_ID.finditer(path.read_bytes()):
            best = max(best, int(match.group(1)))
    return best
