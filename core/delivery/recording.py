"""Storing what the delivery stages decide, and what happens when storage fails.

When an outcome cannot be recorded (a full disk), it is held in memory and nothing more is
sent until a write works again: the item is still due in storage, and sending on would post
it again on every pass (54 copies of one alert were seen).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import NoReturn

from core.domain.models import OutboxItem
from core.domain.repository import Repository

log = logging.getLogger("buzzwatch.outbox")

# (alert id, destination, message reference): where an alert's message now lives.
Refs = list[tuple[str, str, dict[str, str]]]


class RecordFailed(Exception):
    """The outcome of an attempt could not be stored: the pass ends here."""


class Recorder:
    """Writes the outbox's changes; on a storage failure it pauses delivery (ends the pass,
    says so once) and keeps unrecorded outcomes in memory, oldest first."""

    def __init__(self, repo: Repository) -> None:
        self.repo = repo
        self._unrecorded: list[tuple[OutboxItem, Refs]] = []
        self.storage_error: str | None = None

    def record(self, item: OutboxItem, refs: Refs | None = None) -> None:
        """Store an attempt's outcome. If storage fails, keep the outcome in memory (it is
        recorded once storage works again), pause delivery and end the pass."""
        try:
            self.repo.save_outbox(item, refs)
        except Exception as err:  # a full disk, a read-only folder: whatever the backend raises
            self._unrecorded.append((item, list(refs or [])))
            self._failed(err, f"could not record the outcome of item {item.id}")
        self._works()

    def store(self, write: Callable[[], object], what: str) -> None:
        """A write that comes before any send (a quiet-hours hold, a batch): if it fails,
        nothing was sent; the pass ends and the next one tries again."""
        try:
            write()
        except Exception as err:
            self._failed(err, f"could not store {what}")
        self._works()

    def _failed(self, err: Exception, what: str) -> NoReturn:
        if self.storage_error is None:
            log.error(
                "%s (%s): delivery is paused until storage works again; nothing is sent "
                "meanwhile, and nothing already sent is sent again",
                what,
                err,
            )
        else:
            log.debug("storage still fails: %s (%s)", what, err)
        self.storage_error = str(err)
        raise RecordFailed(what) from err

    def _works(self) -> None:
        if self.storage_error is not None:
            log.warning("storage works again: delivery resumes")
            self.storage_error = None

    @property
    def unrecorded(self) -> int:
        """Outcomes held in memory because storage failed (lost if the process ends now)."""
        return len(self._unrecorded)

    def record_unrecorded(self) -> bool:
        """Record the outcomes held in memory, oldest first; True when none is left (sends
        may go on)."""
        while self._unrecorded:
            item, refs = self._unrecorded[0]
            try:
                self.repo.save_outbox(item, refs)
            except Exception as err:
                self.storage_error = str(err)
                log.debug("storage still fails (%s): delivery stays paused", err)
                return False
            self._unrecorded.pop(0)
            self._works()
        return True
