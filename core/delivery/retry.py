"""The retry stage: what follows an attempt.

Sent: the item leaves the outbox, and where the message now lives is recorded in the same
write. A misconfigured destination pauses (nothing can go there until a person fixes it).
A retryable failure backs off exponentially with jitter and honours Retry-After, for up to
GIVE_UP_AFTER; a permanent one, or one past that, goes to the dead letters. One the notifier
drops (its destination can never show it, said once) leaves the queue unsent.
"""

from __future__ import annotations

import logging
import random
from datetime import datetime, timedelta

from core.delivery.deadletter import give_up
from core.delivery.recording import Recorder, Refs
from core.domain import telemetry
from core.domain.clock import Clock
from core.domain.durations import format_duration
from core.domain.models import Alert, OutboxItem, OutboxStatus, to_iso
from core.domain.notifier import Delivery

log = logging.getLogger("buzzwatch.outbox")

# A retryable failure is retried for this long (a chat service's outage can last hours;
# an alert must not be dropped for it), then the item goes to the dead letters.
GIVE_UP_AFTER = timedelta(hours=24)
BASE_DELAY = 2.0
# Once a destination is back, its next try comes within a minute (a 10-minute cap left a
# recovered channel waiting over 6 minutes with its backlog behind it).
MAX_DELAY = 60.0

MISCONFIGURED_PAUSE = timedelta(minutes=10)
MAX_RETRY_AFTER = 3600.0  # a Retry-After date far in the future must not park a queue


def backoff(attempts: int, retry_after: float | None, rng: random.Random) -> float:
    """Seconds to wait before the next try: full jitter on an exponential, never under
    Retry-After (itself capped at an hour)."""
    # The exponent is capped: a day of tries a minute apart passes 2**1024, too big for a float.
    delay = rng.uniform(BASE_DELAY, min(MAX_DELAY, BASE_DELAY * 2 ** min(attempts, 32)))
    return max(delay, min(retry_after or 0.0, MAX_RETRY_AFTER))


class Retry:
    def __init__(self, clock: Clock, rng: random.Random, recorder: Recorder) -> None:
        self.clock = clock
        self.rng = rng
        self.recorder = recorder

    def finish(
        self, item: OutboxItem, delivery: Delivery, batch_alerts: list[Alert] | None = None
    ) -> OutboxStatus:
        """Record the outcome of one attempt at `item`; `batch_alerts`: the alerts a sent
        batch carried (each records the batch's message reference)."""
        now = self.clock.now()
        item.attempts += 1
        if delivery.ok:
            item.status = OutboxStatus.SENT.value
            item.sent_at = to_iso(now) or ""
            item.ref = delivery.ref
            refs: Refs = []
            if item.action == "post" and item.alert_id and delivery.ref:
                refs.append((item.alert_id, item.destination, delivery.ref))
            for a in batch_alerts or []:
                refs.append((a.id, item.destination, {**delivery.ref, "batch": "1"}))
            self.recorder.record(item, refs)
            telemetry.sent(item.destination, "sent")
            return OutboxStatus.SENT
        item.last_error = delivery.error[:500]
        created = datetime.fromisoformat(item.created_at) if item.created_at else now
        if delivery.misconfigured and now - created < GIVE_UP_AFTER:
            # Nothing can go there until the config is fixed: keep it (and everything behind
            # it, in order), try again now and then, and say so once each time.
            item.next_attempt_at = to_iso(now + MISCONFIGURED_PAUSE) or ""
            log.error(
                "destination=%s is misconfigured, its messages wait (next try in %s): %s",
                item.destination,
                format_duration(MISCONFIGURED_PAUSE),
                item.last_error,
            )
            self.recorder.record(item)
            telemetry.sent(item.destination, "misconfigured")
            return OutboxStatus.PENDING
        if delivery.dropped:  # the notifier said so once; no line per message
            item.status = OutboxStatus.DROPPED.value
            log.debug(
                "destination=%s item=%s dropped: %s", item.destination, item.id, item.last_error
            )
            self.recorder.record(item)
            telemetry.sent(item.destination, "dropped")
            return OutboxStatus.DROPPED
        if not delivery.retryable or now - created >= GIVE_UP_AFTER:
            return give_up(item, self.recorder)
        wait = backoff(item.attempts, delivery.retry_after, self.rng)
        item.next_attempt_at = to_iso(now + timedelta(seconds=wait)) or ""
        log.warning(
            "destination=%s item=%s attempt %d failed (%s); retrying in %.0fs",
            item.destination,
            item.id,
            item.attempts,
            item.last_error,
            wait,
        )
        self.recorder.record(item)
        telemetry.sent(item.destination, "retrying")
        return OutboxStatus.PENDING
