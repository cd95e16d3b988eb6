"""What the three repositories (tinydb, sqlite, postgres) share: id and value helpers, and
the alert and outbox writes whose logic is the same everywhere.

`AlertOutboxWrites` holds that logic once; each backend supplies the small steps that touch
its own storage (a transaction, a row read for update, the outbox rows' upserts and deletes),
so the SQL or the TinyDB calls stay in the backend's own module.
"""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Iterable, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, TypeVar

from core.domain.clock import Clock
from core.domain.models import Alert, OutboxItem, OutboxStatus

T = TypeVar("T")

# (alert id, destination, message reference): where an alert's message now lives.
Refs = list[tuple[str, str, dict[str, str]]]


def alert_number(alert_id: str) -> int | None:
    """12 for "A12" (any case, spaces around); None for anything that is not an alert id."""
    text = alert_id.strip().upper().removeprefix("A")
    return int(text) if text.isascii() and text.isdigit() and len(text) < 10 else None


def outbox_seq(item: OutboxItem) -> int:
    """The queue position an outbox item's id ("o12") stands for."""
    return int(item.id.removeprefix("o"))


def signed64(n: int) -> int:
    """A 64-bit fingerprint as a signed 64-bit SQL integer (SQLite INTEGER, PostgreSQL bigint)."""
    n &= (1 << 64) - 1
    return n - (1 << 64) if n >= 1 << 63 else n


def unsigned64(n: int) -> int:
    return n & ((1 << 64) - 1)


def scalar(row: Sequence[Any] | None) -> Any:
    """The first column of the one row an aggregate query (count, max) always returns."""
    if row is None:
        raise ValueError("an aggregate query returned no row")
    return row[0]


def utc_stamp(when: datetime) -> str:
    """A time as fixed-width ISO text in UTC (microseconds always given), so stamps compare
    as text in the same order as the times they stand for."""
    return when.astimezone(UTC).isoformat(timespec="microseconds")


# Mentions per write transaction of a poll cycle in PostgreSQL (issue 16: not the whole
# cycle in one; SQLite's: sqlite_mentions.SLICE, an ack there waits for one of these).
MENTION_TX = 50


def mention_slices(docs: list[T], last: bool = True) -> tuple[list[list[T]], list[T]]:
    """A cycle's mention records cut for its write transactions: the slices written first,
    and the last one, written with the cycle's seen ids, alerts and outbox items (so a crash
    in between redoes the cycle: nothing is seen yet). Without a `last` (mentions stored
    ahead of that transaction), every slice is written first."""
    if not last:
        return [docs[i : i + MENTION_TX] for i in range(0, len(docs), MENTION_TX)], []
    cut = (len(docs) - 1) // MENTION_TX * MENTION_TX if docs else 0
    return [docs[i : i + MENTION_TX] for i in range(0, cut, MENTION_TX)], docs[cut:]


ONCE_KEY_CHARS = 128


def once_key(kind: str, key: str) -> str:
    """What remember_once stores for (kind, key): the pair as text when short and plain,
    else a digest of it, so an attacker-sized or binary key (a msgId from a request body)
    costs one short row and any text column takes it."""
    text = f"{kind}:{key}"
    if len(text) <= ONCE_KEY_CHARS and text.isprintable():
        return text
    return f"{kind}:sha256:{hashlib.sha256(text.encode('utf-8', 'surrogatepass')).hexdigest()}"


def dumps(value: Any) -> str:
    """Compact JSON as stored in a record column."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class AlertOutboxWrites(ABC):
    """change_alert and the outbox writes of the Repository protocol, over a backend's steps."""

    # --- the backend's steps ------------------------------------------------------------------

    @abstractmethod
    def _write(self) -> AbstractContextManager[Any]:
        """One write: all of it is stored, or none (nested writes join the outer one)."""

    def _read_for_change(self) -> AbstractContextManager[Any]:
        """Held while an alert is read, changed and written back (by default one write)."""
        return self._write()

    @abstractmethod
    def _alert_for_update(self, n: int) -> tuple[Alert, bool] | None:
        """Alert number `n` and whether it is archived, read for a change; None if absent."""

    @abstractmethod
    def _put_alerts(self, alerts: list[Alert], archived: bool = False) -> None: ...

    @abstractmethod
    def _next_outbox_seqs(self, count: int) -> list[int]:
        """Reserve `count` outbox positions, ascending, never handed out before."""

    @abstractmethod
    def _put_outbox(self, rows: list[tuple[int, OutboxItem]]) -> None:
        """Insert or replace pending items at these positions."""

    @abstractmethod
    def _delete_outbox(self, seqs: list[int]) -> None:
        """Remove the pending items at these positions (those that are there)."""

    @abstractmethod
    def _put_dead_letter(self, seq: int, item: OutboxItem) -> None: ...

    @abstractmethod
    def _take_dead_letters(self) -> list[OutboxItem]:
        """Delete every dead letter and return the ones this write deleted, in queue order."""

    @abstractmethod
    def set_state(self, key: str, value: Any) -> None: ...

    # --- the shared logic -------------------------------------------------------------------

    def change_alert(
        self,
        alert_id: str,
        change: Callable[[Alert], T],
        outbox: Callable[[Alert, T], list[OutboxItem]] | None = None,
    ) -> T | None:
        n = alert_number(alert_id)
        if n is None:
            return None
        with self._read_for_change():
            found = self._alert_for_update(n)
            if found is None or found[1]:  # archived ones are not changed
                return None
            alert = found[0]
            result = change(alert)
            with self._write():
                self._put_alerts([alert])
                if outbox:
                    self._insert_outbox(outbox(alert, result))
            return result

    def _insert_outbox(self, items: list[OutboxItem]) -> None:
        """Queue new items at the end, each given its id ("o<position>") unless it has one."""
        if not items:
            return
        seqs = self._next_outbox_seqs(len(items))
        for seq, item in zip(seqs, items, strict=True):
            item.id = item.id or f"o{seq}"
        self._put_outbox([(outbox_seq(item), item) for item in items])

    def add_outbox(self, items: list[OutboxItem], state: dict[str, Any] | None = None) -> None:
        with self._write():
            for key, value in (state or {}).items():
                self.set_state(key, value)
            self._insert_outbox(items)

    def save_outbox(self, item: OutboxItem, refs: Refs | None = None) -> None:
        """Record an attempt's outcome: sent items leave the outbox, dead ones move to the
        dead letters, others stay with their new retry time. `refs` (alert id, destination,
        message reference) record where alerts' messages now live, in the same write."""
        seq = outbox_seq(item)
        with self._write():
            if item.status == OutboxStatus.PENDING:
                self._put_outbox([(seq, item)])
            else:
                self._delete_outbox([seq])
                if item.status == OutboxStatus.DEAD:
                    self._put_dead_letter(seq, item)
            self._record_refs(refs or [])

    def retry_dead_letters(self) -> int:
        with self._write():
            dead = self._take_dead_letters()
            for item in dead:
                item.status, item.attempts = OutboxStatus.PENDING.value, 0
                item.next_attempt_at = item.held_until = item.last_error = ""
            self._put_outbox([(outbox_seq(item), item) for item in dead])
        return len(dead)

    def drop_dead_letters(self) -> int:
        with self._write():
            return len(self._take_dead_letters())

    def _record_refs(self, refs: Iterable[tuple[str, str, dict[str, str]]]) -> None:
        for alert_id, destination, ref in refs:
            n = alert_number(alert_id)
            found = self._alert_for_update(n) if n is not None else None
            if found is not None:
                alert, archived = found
                alert.messages[destination] = ref
                self._put_alerts([alert], archived=archived)

    def replace_outbox(self, old: list[OutboxItem], new: OutboxItem) -> None:
        """Swap several pending items for one (a batch), in one write. The batch takes the
        place in the queue of the first item it replaces, so order is kept."""
        seqs = [outbox_seq(o) for o in old]
        with self._write():
            self._delete_outbox(seqs)
            new.id = f"o{min(seqs)}"
            self._put_outbox([(min(seqs), new)])


class OneProcessLeases(ABC):
    """The lease methods of a store that only one process opens (its process lock says so):
    this process holds every destination and every source."""

    @abstractmethod
    def pending_outbox(self) -> list[OutboxItem]: ...

    def claim_outbox(self, lease: timedelta) -> list[OutboxItem]:
        return self.pending_outbox()

    def claim_source(self, name: str, lease: timedelta) -> bool:
        return True

    def renew_sources(self, names: Collection[str], lease: timedelta) -> int:
        return len(names)

    def expired_sources(self, names: Collection[str]) -> list[str]:
        return []


class SQLOnceKeys(ABC):
    """remember_once (see Repository) over the SQL stores' once_keys(key, until) table, in
    one transaction: expired keys pruned, then the key inserted unless it is there. The
    key's primary index makes that atomic, also between processes sharing a server."""

    clock: Clock
    _param = "%s"  # the driver's placeholder: psycopg's; sqlite3's ("?") where it says so

    @abstractmethod
    def _write(self) -> AbstractContextManager[Any]:
        """One write transaction, yielding the connection."""

    def remember_once(self, kind: str, key: str, until: datetime) -> bool:
        p = self._param
        with self._write() as db:
            db.execute(f"DELETE FROM once_keys WHERE until <= {p}", (utc_stamp(self.clock.now()),))
            added = db.execute(
                f"INSERT INTO once_keys(key, until) VALUES ({p}, {p}) ON CONFLICT DO NOTHING",
                (once_key(kind, key), utc_stamp(until)),
            )
            return bool(added.rowcount == 1)


class StateStore(Protocol):
    def get_state(self, key: str, default: Any = None) -> Any: ...

    def set_state(self, key: str, value: Any) -> None: ...


def reserve_from_state(store: StateStore, key: str, count: int) -> list[int]:
    """The next `count` numbers of a counter kept in a store's state (the embedded stores'
    alert and outbox ids); the caller holds the write that stores it."""
    first = int(store.get_state(key, 0)) + 1
    store.set_state(key, first + count - 1)
    return list(range(first, first + count))
