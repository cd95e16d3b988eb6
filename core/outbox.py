"""The delivery worker: sends what the outbox holds, in order per destination.

At least once: an item leaves the outbox only after its send succeeded (or failed for
good, into the dead letters). A failed send blocks later items for the same destination,
so messages arrive in order; retries back off exponentially with jitter and honour the
platform's Retry-After.
"""

from __future__ import annotations

import logging
import random
import threading
from dataclasses import dataclass
from datetime import timedelta

from core.clock import Clock
from core.models import OutboxItem, OutboxStatus, to_iso
from core.notify import Delivery, Notifier, Outgoing
from core.repository import Repository

log = logging.getLogger("buzzwatch.outbox")

MAX_ATTEMPTS = 12
BASE_DELAY = 2.0
MAX_DELAY = 600.0


def backoff(attempts: int, retry_after: float | None, rng: random.Random) -> float:
    """Seconds to wait before the next try: full jitter on an exponential, never under Retry-After."""
    delay = rng.uniform(BASE_DELAY, min(MAX_DELAY, BASE_DELAY * 2**attempts))
    return max(delay, retry_after or 0.0)


@dataclass
class DeliveryReport:
    sent: int = 0
    retrying: int = 0
    dead: int = 0
    skipped: int = 0


class Deliverer:
    def __init__(
        self,
        repo: Repository,
        notifiers: dict[str, Notifier],
        clock: Clock,
        rng: random.Random | None = None,
    ) -> None:
        self.repo = repo
        self.notifiers = notifiers
        self.clock = clock
        self.rng = rng or random.Random()
        self._lock = threading.Lock()  # one worker at a time keeps per-destination order

    def deliver_due(self) -> DeliveryReport:
        with self._lock:
            return self._deliver_due()

    def _deliver_due(self) -> DeliveryReport:
        report = DeliveryReport()
        now = self.clock.now()
        stamp = to_iso(now) or ""
        blocked: set[str] = set()
        for item in self.repo.pending_outbox():
            if item.destination in blocked:
                report.skipped += 1
                continue
            if item.next_attempt_at and item.next_attempt_at > stamp:
                blocked.add(item.destination)
                report.skipped += 1
                continue
            outcome = self._attempt(item)
            if outcome == OutboxStatus.SENT:
                report.sent += 1
            elif outcome == OutboxStatus.DEAD:
                report.dead += 1
            else:
                report.retrying += 1
                blocked.add(item.destination)
        return report

    def _attempt(self, item: OutboxItem) -> OutboxStatus:
        notifier = self.notifiers.get(item.destination)
        if notifier is None:
            return self._finish(
                item,
                Delivery(
                    ok=False,
                    retryable=False,
                    error=f"no destination named {item.destination!r} in the config",
                ),
            )
        alert = self.repo.get_alert(item.alert_id) if item.alert_id else None
        ref = alert.messages.get(item.destination) if alert else None
        if item.message.get("kind") == "alert" and alert is None:
            return self._finish(
                item,
                Delivery(
                    ok=False, retryable=False, error=f"alert {item.alert_id} no longer exists"
                ),
            )
        if item.action == "update" and not ref:
            # An earlier post to this destination always goes first (a pending one blocks
            # this item), so no reference means that post died: post the alert afresh.
            item.action = "post"
        out = Outgoing(action=item.action, message=item.message, alert=alert, ref=ref)
        try:
            payload = notifier.render(out)
            delivery = notifier.send(out, payload)
        except Exception as err:  # a bug in one notifier must not stop the others
            log.exception("destination=%s item=%s: notifier crashed", item.destination, item.id)
            delivery = Delivery(ok=False, retryable=True, error=f"{type(err).__name__}: {err}")
        return self._finish(item, delivery)

    def _finish(self, item: OutboxItem, delivery: Delivery) -> OutboxStatus:
        now = self.clock.now()
        item.attempts += 1
        if delivery.ok:
            item.status = OutboxStatus.SENT.value
            item.sent_at = to_iso(now) or ""
            item.ref = delivery.ref
            keep_ref = item.action == "post" and item.alert_id and delivery.ref
            self.repo.save_outbox(
                item, (item.alert_id, item.destination, delivery.ref) if keep_ref else None
            )
            return OutboxStatus.SENT
        item.last_error = delivery.error[:500]
        if not delivery.retryable or item.attempts >= MAX_ATTEMPTS:
            item.status = OutboxStatus.DEAD.value
            log.error(
                "destination=%s item=%s gave up after %d attempt(s): %s",
                item.destination,
                item.id,
                item.attempts,
                item.last_error,
            )
            self.repo.save_outbox(item)
            return OutboxStatus.DEAD
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
        self.repo.save_outbox(item)
        return OutboxStatus.PENDING
