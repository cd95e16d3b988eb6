"""The rate-limit stage: each destination's send window, and batching behind it.

The notifier's rate limit is kept; when a backlog builds up behind it, waiting alert posts
merge into one batch message instead of being dropped.
"""

from __future__ import annotations

import logging
from collections import deque
from datetime import datetime, timedelta
from functools import partial

from core.delivery.hold import QuietHold
from core.delivery.recording import Recorder
from core.domain.clock import Clock
from core.domain.models import OutboxItem, OutboxStatus, Severity, to_iso
from core.domain.repository import Repository

log = logging.getLogger("buzzwatch.outbox")

# Alert posts waiting behind a rate limit merge into one message when more are waiting than
# the destination takes in BATCH_AFTER seconds (and at least BATCH_MIN); a short queue waits.
BATCH_AFTER = 60.0
BATCH_MIN = 3
BATCH_MAX = 20


class RateWindow:
    """Send times for one destination, to keep under `limit` messages per `period` seconds."""

    def __init__(self, limit: int, period: float) -> None:
        self.limit = limit
        self.period = period
        self.sent: deque[datetime] = deque()

    def _trim(self, now: datetime) -> None:
        while self.sent and (now - self.sent[0]).total_seconds() >= self.period:
            self.sent.popleft()

    def free(self, now: datetime) -> bool:
        self._trim(now)
        return len(self.sent) < self.limit

    def next_free(self, now: datetime) -> datetime:
        self._trim(now)
        if len(self.sent) < self.limit:
            return now
        return self.sent[0] + timedelta(seconds=self.period)

    def record(self, now: datetime) -> None:
        self.sent.append(now)


class Batcher:
    """Folds alert posts waiting behind a destination's rate limit into batch messages."""

    def __init__(
        self, repo: Repository, clock: Clock, recorder: Recorder, quiet: QuietHold
    ) -> None:
        self.repo = repo
        self.clock = clock
        self.recorder = recorder
        self.quiet = quiet

    def merge_backlog(self, destination: str, window: RateWindow, pending: list[OutboxItem]) -> int:
        """Fold the alert posts waiting for this destination into one batch message."""
        stamp = to_iso(self.clock.now()) or ""
        posts = [
            o
            for o in pending
            if o.destination == destination
            and o.action == "post"
            and o.message.get("kind") == "alert"
            and o.status == OutboxStatus.PENDING
            and (not o.next_attempt_at or o.next_attempt_at <= stamp)
            and not (o.held_until and o.held_until > stamp)  # quiet hours keep their own
        ]
        now = self.clock.now()
        found = {o.id: self.repo.get_alert(o.alert_id) for o in posts}
        posts = [
            o
            for o in posts
            if self.quiet.until(o, found[o.id], now) is None
            # A storm keeps a message of its own: acting on its members updates it.
            and not ((alert := found[o.id]) is not None and alert.kind == "storm")
        ]
        if len(posts) <= max(BATCH_MIN, int(window.limit * BATCH_AFTER / window.period)):
            return 0
        posts = posts[:BATCH_MAX]
        members = [a for a in (self.repo.get_alert(o.alert_id) for o in posts) if a is not None]
        worst = max(
            (Severity(a.severity) for a in members), key=lambda v: v.rank, default=Severity.LOW
        )
        batch = OutboxItem(
            id="",
            destination=destination,
            action="post",
            message={
                "kind": "batch",
                "alert_ids": [o.alert_id for o in posts],
                "severity": worst.value,
            },
            created_at=stamp,
        )
        self.recorder.store(partial(self.repo.replace_outbox, posts, batch), "a batch")
        for o in posts:
            o.status = OutboxStatus.SENT.value  # merged: this pass must not send it again
        log.info(
            "destination=%s: %d alerts waiting behind the rate limit merged into one message",
            destination,
            len(posts),
        )
        return len(posts)
