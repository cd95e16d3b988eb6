"""The hold stage: what waits before it may be sent.

Quiet hours hold back all but the most severe alert posts of a destination until the quiet
period ends. A route's group_wait (posts) and group_interval (updates) are a send time set
when the item is queued; `release_group_timers` lets a single cycle skip them.
A note or update waits behind its alert's post while that post is held or batched.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import partial
from zoneinfo import ZoneInfo

from core.config import QuietHours
from core.delivery.recording import Recorder, RecordFailed
from core.domain.models import Alert, OutboxItem, Severity, to_iso
from core.domain.repository import Repository


def queued_posts(pending: list[OutboxItem]) -> set[tuple[str, str]]:
    """(alert id, destination) of every post still queued, the alerts inside batches too."""
    queued = set()
    for o in pending:
        if o.action == "post":
            if o.alert_id:
                queued.add((o.alert_id, o.destination))
            for member in o.message.get("alert_ids", ()):
                queued.add((member, o.destination))
    return queued


def quiet_until(quiet: QuietHours, now: datetime, tz: ZoneInfo) -> datetime | None:
    """When the quiet period that `now` falls in ends, or None outside quiet hours."""
    local = now.astimezone(tz)
    sh, sm = map(int, quiet.start.split(":"))
    eh, em = map(int, quiet.end.split(":"))
    start = local.replace(hour=sh, minute=sm, second=0, microsecond=0)
    end = local.replace(hour=eh, minute=em, second=0, microsecond=0)
    if start <= end:  # e.g. 12:00-14:00
        return end if start <= local < end else None
    # Over midnight, e.g. 22:00-09:00.
    if local >= start:
        return end + timedelta(days=1)
    if local < end:
        return end
    return None


class QuietHold:
    """Each destination's quiet hours (if it has any)."""

    def __init__(
        self,
        quiet_hours: dict[str, QuietHours],
        tz: ZoneInfo,
        repo: Repository,
        recorder: Recorder,
    ) -> None:
        self.quiet_hours = quiet_hours
        self.tz = tz
        self.repo = repo
        self.recorder = recorder

    def until(self, item: OutboxItem, alert: Alert | None, now: datetime) -> datetime | None:
        """When `item` may go, if quiet hours hold it back now; None if they do not."""
        quiet = self.quiet_hours.get(item.destination)
        if (
            quiet is None
            or item.action != "post"
            or item.message.get("kind") not in ("alert", "batch")
        ):
            return None
        severity = (
            alert.severity
            if alert is not None
            else item.message.get("severity", Severity.LOW.value)
        )
        if Severity(severity).rank >= quiet.allow_severity.rank:
            return None
        return quiet_until(quiet, now, self.tz)

    def hold(self, item: OutboxItem, alert: Alert | None, now: datetime) -> bool:
        """Hold `item` back (stored) if quiet hours say so; True if it was held."""
        held = self.until(item, alert, now)
        if held is None:
            return False
        item.held_until = to_iso(held) or ""
        self.recorder.store(partial(self.repo.save_outbox, item), f"the hold of {item.id}")
        return True


def release_group_timers(repo: Repository, recorder: Recorder, stamp: str) -> None:
    """Posts waiting only for their route's group_wait, and updates waiting only for its
    group_interval, become due at `stamp`. A storage failure leaves the rest at their own
    time (the recorder's storage_error says why)."""
    for item in repo.pending_outbox():
        # Never tried yet: its time is the group timer's, not a retry's backoff.
        timed = item.action in ("post", "update") and not item.attempts
        if timed and item.next_attempt_at > stamp:
            item.next_attempt_at = stamp
            try:
                recorder.store(partial(repo.save_outbox, item), "a send time")
            except RecordFailed:
                break
