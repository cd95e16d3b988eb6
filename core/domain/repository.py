"""What the rest of Buzzwatch needs from storage. storage/ implements it."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol, TypeVar

from core.domain.models import Alert, Mention, OutboxItem, SlaView
from core.domain.query import MentionQuery

T = TypeVar("T")


class Repository(Protocol):
    # Whether a cycle's mentions may be stored ahead of the rest of it (save_cycle(mentions,
    # [], [], []), then its seen ids, alerts and outbox): only where a mention counts as seen
    # by its seen id alone (the SQL stores). TinyDB counts a stored mention as seen, so a
    # crash between the two would leave its alerts never made: it takes the cycle in one call.
    stores_mentions_ahead: bool

    def locked(self) -> AbstractContextManager[Any]:
        """The storage lock (re-entrant), for read-modify-writes over several calls. Every
        change (an ack) waits for it: hold it for short writes, never for a long read."""

    def job_lock(self, name: str) -> AbstractContextManager[Any]:
        """A lock of its own for a long job of which one runs at a time (`name`: the daily
        digest's build), in this process and in every other one sharing the store; a
        holder that dies lets go of it. Not the storage lock: holding it blocks no other
        call, so acks go on while the job reads. The job re-checks, under locked(), that
        its result is still wanted before it writes it."""

    # --- mentions ---
    def unseen(self, ids: Iterable[str]) -> list[str]:
        """The ids never stored or marked seen before, in the order given. A stored
        mention's id is never unseen, also when the record of seen ids was lost or damaged:
        a stored mention must not count twice on an alert (nor post again)."""

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
        """Stored mention records said (published, else fetched) on or after `since`'s UTC
        day (raw dicts, read-only). A backfilled mention is stored by the time it was said:
        it is found with those polled then, not with those of the day it was imported."""

    def search_mentions(
        self,
        query: MentionQuery,
        now: datetime,
        negative_threshold: float,
        positive_threshold: float,
    ) -> tuple[list[dict[str, Any]], int]:
        """The `mentions` query, run where the records are: the page asked for (newest first)
        and the total count; the same answer as core.reports.query.search_records over every record.
        A store may stop counting past max(COUNT_CAP, offset + limit) and answer a
        core.domain.query.Capped total one past it (the reply then says "10,000+"), or an
        Estimate when counting would take too long."""

    def count_mentions(self) -> int:
        """How many mention records are stored."""

    # --- alerts ---
    def next_alert_ids(self, count: int) -> list[str]:
        """Reserve `count` alert ids (A1, A2, ...). Never one issued before, also after the
        state was lost or recovered from an older copy: ids are in people's hands (buttons,
        links, `ack A12`). Keep the counter where it survives the state (storage.alert_ids)."""

    def get_alert(self, alert_id: str) -> Alert | None: ...

    def archive_alerts(self, resolved_before: datetime) -> int:
        """Move alerts resolved before then out of the hot state; get_alert still finds them."""

    def find_alerts(self, predicate: Callable[[Alert], bool]) -> list[Alert]:
        """Every alert not archived that `predicate` accepts (reads them all: prefer
        active_alerts where it will do)."""

    def iter_alerts(self) -> Iterable[Alert]:
        """Every alert not archived, in id order, read a page at a time: the daily digest
        reads them all, and memory holds one page, not every alert of the last two weeks."""

    def active_alerts(self, created_since: str = "") -> list[Alert]:
        """Alerts not resolved and, with `created_since` (ISO time), resolved ones created at
        or after it; archived ones left out; in id order. Cost grows with the open alerts,
        not with history."""

    # --- narrow reads: counted or selected where the records are, so that `status`, the SLA
    # check and the storm watch cost (in time and memory) what they return, not what is stored.
    # Alerts not resolved are never archived (only resolved ones are, and archived ones are
    # not changed): "not resolved" needs no archived test.
    def count_active_alerts(self) -> dict[str, int]:
        """How many alerts there are in each status but resolved (statuses with none left
        out), counted without reading an alert."""

    def oldest_active_alerts(
        self, statuses: Sequence[str], limit: int, offset: int = 0
    ) -> list[Alert]:
        """Alerts in one of `statuses` (not "resolved"), in the order of `statuses`, then
        oldest first (created_at), then by id number: `limit` of them after the first
        `offset`. Only those are read."""

    def sla_candidates(self, routes: Collection[str], woken_by: str) -> list[SlaView]:
        """What the SLA check may act on, in id order, storms' members left out: open alerts
        of one of `routes`, and snoozed alerts whose snooze ends at or before `woken_by`
        (ISO time). Read as SlaView rows, no alert parsed."""

    def count_mentions_between(
        self, brand: str, spans: Sequence[tuple[datetime, datetime]], negative_below: float
    ) -> list[tuple[int, int]]:
        """For each [start, end) span: how many stored mentions of `brand` (casefolded) were
        said then (published, else fetched, as iter_mentions goes by), and how many of them
        have a sentiment under `negative_below`. Counted where the records are."""

    def grouping_candidates(
        self,
        keys: Iterable[str],
        created_since: str,
        active_since: str,
        near: tuple[list[int], int] | None = None,
    ) -> list[Alert]:
        """What a poll cycle's grouping may join or count (ISO times), archived ones left out,
        in id order: not resolved and (a storm, or created at or after `active_since`); created
        at or after both times; created at or after `created_since` with one of `keys` as
        dedup key, or not resolved with one of them; and created at or after `created_since`:
        all of those, or with `near` (fingerprints, max bits apart) only those whose
        fingerprint is within that distance of one of them. Cost grows with recent alerts and
        near-duplicates, not with open alerts or history."""

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
        self, item: OutboxItem, refs: list[tuple[str, str, dict[str, str]]] | None = None
    ) -> None:
        """Store an outbox item's new state (sent: removed; dead: to the dead letters); with
        refs (alert id, destination, message reference) also record on those alerts where
        their messages live, in the same write."""

    def replace_outbox(self, old: list[OutboxItem], new: OutboxItem) -> None:
        """Swap several pending items for one (a batch) in the queue place of the first."""

    def add_outbox(self, items: list[OutboxItem], state: dict[str, Any] | None = None) -> None:
        """Queue items; with `state`, also set those state keys, in the same write (so a
        "sent for date D" mark and the sends it stands for are stored together or not at all)."""

    def dead_letters(self) -> list[OutboxItem]: ...

    def retry_dead_letters(self) -> int:
        """Put every dead letter back in the outbox, due now and with no attempts made, at
        the place in the queue it had (so it goes before what was queued after it); in one
        write. Returns how many. Two processes retrying at once requeue each item once."""

    def drop_dead_letters(self) -> int:
        """Delete every dead letter; returns how many."""

    # --- several processes sharing one store (postgres) ---
    # A store that only one process opens (tinydb, sqlite) answers as if it held every lease.
    def claim_outbox(self, lease: timedelta) -> list[OutboxItem]:
        """The pending items of the destinations this process delivers to for `lease` from
        now (those no other process holds), in order: one sender per destination keeps its
        order and its rate limit."""

    def claim_source(self, name: str, lease: timedelta) -> bool:
        """True if this process may poll source `name` now (no one else holds it); holds it
        for `lease` from now."""

    def renew_sources(self, names: Collection[str], lease: timedelta) -> int:
        """Extend this process's leases on these sources to `lease` from now; how many it
        still held (a one-process store: all)."""

    def expired_sources(self, names: Collection[str]) -> list[str]:
        """Those of these sources whose lease ran out while another process held it (it
        died or hangs): to poll now. A one-process store: none."""

    # --- requests that must act at most once (signed chat callbacks) ---
    def remember_once(self, kind: str, key: str, until: datetime) -> bool:
        """True the first time `key` (of `kind`, e.g. a used signature) is remembered; False
        while it is remembered, also after a restart and in another process sharing the
        store. Atomic: of two callers at once, one gets True. Kept until `until` (against
        the repository's clock); expired keys are pruned. A read-only store remembers in
        memory only."""

    # --- derived files ---
    def save_file(self, relative: str, data: bytes) -> Path | None:
        """Write a file under the data folder (a digest chart); its path, or None when the
        storage is read-only (a dry run writes nothing there)."""

    # --- small state ---
    def get_state(self, key: str, default: Any = None) -> Any: ...

    def set_state(self, key: str, value: Any) -> None:
        """Set one key (e.g. one source's fetch state, `source:<name>`)."""

    def all_state(self) -> dict[str, Any]:
        """Every state key and value (for migrations)."""

    def close(self) -> None: ...
