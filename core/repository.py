"""What the rest of Buzzwatch needs from storage. storage/ implements it."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol, TypeVar

from core.models import Alert, Mention, OutboxItem

T = TypeVar("T")


class Repository(Protocol):
    def locked(self) -> AbstractContextManager[Any]:
        """The storage lock (re-entrant), for read-modify-writes over several calls."""

    # --- mentions ---
    def unseen(self, ids: Iterable[str]) -> list[str]:
        """The ids never stored or marked seen before, in the order given."""

    def save_cycle(
        self,
        mentions: list[Mention],
        seen_ids: list[str],
        alerts: list[Alert],
        outbox: list[OutboxItem],
    ) -> None:
        """Store one poll cycle's results. Seen ids are marked last, so a crash before the
        end means the cycle is redone (at least once), never skipped."""

    def iter_mentions(self, since: datetime | None) -> Iterable[dict[str, Any]]:
        """Stored mention records fetched on or after `since`'s day (raw dicts, read-only)."""

    # --- alerts ---
    def next_alert_ids(self, count: int) -> list[str]:
        """Reserve `count` alert ids (A1, A2, ...)."""

    def get_alert(self, alert_id: str) -> Alert | None: ...

    def archive_alerts(self, resolved_before: datetime) -> int:
        """Move alerts resolved before then out of the hot state; get_alert still finds them."""

    def find_alerts(self, predicate: Callable[[Alert], bool]) -> list[Alert]: ...

    def change_alert(
        self,
        alert_id: str,
        change: Callable[[Alert], T],
        outbox: Callable[[Alert, T], list[OutboxItem]] | None = None,
    ) -> T | None:
        """Run `change` on the stored alert under the storage lock and save it, with the
        outbox items `outbox` derives from it, in one write. None if there is no such alert.
        `change` may raise to abort; nothing is saved then."""

    # --- outbox ---
    def pending_outbox(self) -> list[OutboxItem]: ...

    def save_outbox(
        self, item: OutboxItem, alert_ref: tuple[str, str, dict[str, str]] | None = None
    ) -> None:
        """Store an outbox item's new state; with alert_ref (alert id, destination, message
        reference) also record on the alert where its message lives, in the same write."""

    def add_outbox(self, items: list[OutboxItem], state: dict[str, Any] | None = None) -> None:
        """Queue items; with `state`, also set those state keys, in the same write (so a
        "sent for date D" mark and the sends it stands for are stored together or not at all)."""

    def dead_letters(self) -> list[OutboxItem]: ...

    # --- derived files ---
    def save_file(self, relative: str, data: bytes) -> Path | None:
        """Write a file under the data folder (a digest chart); its path, or None when the
        storage is read-only (a dry run writes nothing there)."""

    # --- small state ---
    def get_state(self, key: str, default: Any = None) -> Any: ...

    def set_state(self, key: str, value: Any) -> None: ...

    def close(self) -> None: ...
