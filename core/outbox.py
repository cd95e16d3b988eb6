"""The delivery worker: sends what the outbox holds, in order per destination.

At least once: an item leaves the outbox only after its send succeeded (or failed for
good, into the dead letters), and the platform's message reference is recorded in the same
write. A crash between a send and that write resends once: the only duplicate possible,
and only where the outcome was truly unknown.

A message that cannot be rendered (nothing was sent; it would render the same way again)
goes to the dead letters at once, named, so it never holds up the messages behind it.

Per destination: a failed send blocks later items (messages arrive in order); retries back
off exponentially with jitter and honour Retry-After; the notifier's rate limit is kept,
and when a backlog builds up behind it, waiting alert posts merge into one batch message
instead of being dropped; quiet hours hold back all but the most severe alerts.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from core import telemetry
from core.clock import Clock
from core.config import QuietHours
from core.durations import format_duration
from core.models import Alert, OutboxItem, OutboxStatus, Severity, to_iso
from core.notify import Delivery, Notifier, Outgoing
from core.repository import Repository

log = logging.getLogger("buzzwatch.outbox")

# A retryable failure is retried for this long (a chat service's outage can last hours;
# an alert must not be dropped for it), then the item goes to the dead letters.
GIVE_UP_AFTER = timedelta(hours=24)
BASE_DELAY = 2.0
MAX_DELAY = 600.0
# Alert posts waiting behind a rate limit merge into one message when more are waiting than
# the destination takes in BATCH_AFTER seconds (and at least BATCH_MIN); a short queue waits.
BATCH_AFTER = 60.0
BATCH_MIN = 3
BATCH_MAX = 20


MISCONFIGURED_PAUSE = timedelta(minutes=10)
MAX_RETRY_AFTER = 3600.0  # a Retry-After date far in the future must not park a queue


def backoff(attempts: int, retry_after: float | None, rng: random.Random) -> float:
    """Seconds to wait before the next try: full jitter on an exponential, never under
    Retry-After (itself capped at an hour)."""
    delay = rng.uniform(BASE_DELAY, min(MAX_DELAY, BASE_DELAY * 2**attempts))
    return max(delay, min(retry_after or 0.0, MAX_RETRY_AFTER))


def render_failure(what: str, destination: str, err: Exception) -> Delivery:
    """A message that could not be rendered: permanent, and named so it can be found."""
    return Delivery(
        ok=False,
        retryable=False,
        error=f"{what} could not be rendered for {destination}: {type(err).__name__}: {err}",
    )


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


CLAIM_LEASE = timedelta(minutes=1)  # a dead process's destinations wait at most this long


@dataclass
class DeliveryReport:
    sent: int = 0
    retrying: int = 0
    dead: int = 0
    skipped: int = 0
    batched: int = 0


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


class Deliverer:
    def __init__(
        self,
        repo: Repository,
        notifiers: dict[str, Notifier],
        clock: Clock,
        rng: random.Random | None = None,
        quiet_hours: dict[str, QuietHours] | None = None,
        tz: ZoneInfo | None = None,
        sleep: Callable[[float], None] = time.sleep,
        offline: set[str] | None = None,
    ) -> None:
        """`offline`: configured destinations this process cannot reach (a command run
        without their secrets); their messages stay queued for the bot."""
        self.repo = repo
        self.offline = offline or set()
        self.notifiers = notifiers
        self.clock = clock
        self.rng = rng or random.Random()
        self.quiet_hours = quiet_hours or {}
        self.tz = tz or ZoneInfo("UTC")
        self.sleep = sleep
        self._windows: dict[str, RateWindow] = {}
        for name, notifier in notifiers.items():
            limit = getattr(notifier, "rate_limit", None)
            if limit:
                self._windows[name] = RateWindow(int(limit[0]), float(limit[1]))
        self._lock = threading.Lock()  # one worker at a time keeps per-destination order
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # --- the background worker (the running bot) ----------------------------------------

    def start(self, every: float) -> None:
        """Deliver in a thread of its own: on a kick, or every `every` seconds."""
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._run, args=(every,), name="deliverer", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None

    def kick(self) -> None:
        """Something was queued: deliver soon. Never blocks the caller (a poll, a chat
        handler) on a slow chat service when the worker runs; delivers inline when not
        (command line, tests)."""
        if self._thread is not None and self._thread.is_alive():
            self._wake.set()
        else:
            self.deliver_due()

    def _run(self, every: float) -> None:
        while not self._stop.is_set():
            self._wake.wait(every)
            self._wake.clear()
            if self._stop.is_set():
                break
            try:
                self.deliver_due()
            except Exception:  # the worker must outlive one bad pass (a full disk, a bug)
                log.exception("delivery pass failed; trying again shortly")

    def deliver_due(self) -> DeliveryReport:
        with self._lock:
            return self._deliver_due()

    def drain(
        self,
        max_wait: float = 60.0,
        *,
        stop: threading.Event | None = None,
        group_timers_now: bool = False,
    ) -> DeliveryReport:
        """Deliver until nothing is left that can go within `max_wait` seconds (for --once:
        waits out rate limits and short retries, not long backoffs).

        `stop`: once set (Ctrl-C), the drain returns after the send in progress; what was
        not sent stays queued. A real sleep waits on it, so it ends at once; an injected one
        (a test's fake clock) runs as is and `stop` is checked after it.
        `group_timers_now`: posts waiting only for their route's group_wait, and updates
        waiting only for its group_interval, go at once. The timers let a running bot's later
        polls join a story before it is posted or edited; a single cycle has already grouped
        all it has, and would otherwise wait the timers out."""
        total = DeliveryReport()
        deadline = self.clock.now() + timedelta(seconds=max_wait)
        if group_timers_now:
            stamp = to_iso(self.clock.now()) or ""
            for item in self.repo.pending_outbox():
                # Never tried yet: its time is the group timer's, not a retry's backoff.
                timed = item.action in ("post", "update") and not item.attempts
                if timed and item.next_attempt_at > stamp:
                    item.next_attempt_at = stamp
                    self.repo.save_outbox(item)
        real_sleep = self.sleep is time.sleep
        while stop is None or not stop.is_set():
            report = self.deliver_due()
            for key in vars(total):
                setattr(total, key, getattr(total, key) + getattr(report, key))
            wake = self.next_wake()
            now = self.clock.now()
            progressed = report.sent or report.dead or report.batched
            if wake is None or wake > deadline or (wake <= now and not progressed):
                return total
            seconds = max(0.0, (wake - now).total_seconds())
            if stop is not None and real_sleep:
                stop.wait(seconds)
            else:
                self.sleep(seconds)
        return total

    def next_wake(self) -> datetime | None:
        """When the next pending item could go, or None when the outbox is empty."""
        pending = self.repo.pending_outbox()
        if not pending:
            return None
        now = self.clock.now()
        times = []
        heads: set[str] = set()
        for item in pending:
            if item.held_until:
                times.append(datetime.fromisoformat(item.held_until))
                continue
            if item.destination in heads:
                continue  # waits behind the first item of its destination
            heads.add(item.destination)
            at = datetime.fromisoformat(item.next_attempt_at) if item.next_attempt_at else now
            window = self._windows.get(item.destination)
            if window is not None:
                at = max(at, window.next_free(now))
            times.append(at)
        return min(times)

    # --- one pass ---------------------------------------------------------------------------

    def _deliver_due(self) -> DeliveryReport:
        report = DeliveryReport()
        # A store shared by several processes (postgres) hands each destination's items to
        # one of them at a time: in order, under one rate limit, sent at least once.
        claim = getattr(self.repo, "claim_outbox", None)
        pending = claim(CLAIM_LEASE) if claim else self.repo.pending_outbox()
        blocked: set[str] = set()
        posts_waiting = queued_posts(pending)
        for item in pending:
            now = self.clock.now()
            stamp = to_iso(now) or ""
            if item.held_until and item.held_until > stamp:
                report.skipped += 1
                continue
            if item.destination in blocked or item.destination in self.offline:
                report.skipped += 1
                continue
            if item.next_attempt_at and item.next_attempt_at > stamp:
                blocked.add(item.destination)
                report.skipped += 1
                continue
            if item.action == "update" and self._note_follows(item, pending):
                # A platform that cannot edit messages would show the change twice.
                self._finish(item, Delivery(ok=True))
                report.sent += 1
                continue
            if item.action != "post" and (item.alert_id, item.destination) in posts_waiting:
                # Its post was held back (quiet hours) or merged into a batch: the post shows
                # the latest state, so an update has nothing to add; a note waits its turn.
                if item.action == "update":
                    self._finish(item, Delivery(ok=True))
                    report.sent += 1
                else:
                    report.skipped += 1
                continue
            alert = self.repo.get_alert(item.alert_id) if item.alert_id else None
            held = self._quiet_hold(item, alert, now)
            if held is not None:
                item.held_until = to_iso(held) or ""
                self.repo.save_outbox(item)
                report.skipped += 1
                continue
            window = self._windows.get(item.destination)
            if window is not None and not window.free(now):
                report.batched += self._merge_backlog(item.destination, window, pending)
                blocked.add(item.destination)
                report.skipped += 1
                continue
            outcome = self._attempt(item, alert)
            if window is not None and outcome != OutboxStatus.DEAD:
                window.record(self.clock.now())
            if outcome == OutboxStatus.SENT:
                report.sent += 1
                posts_waiting.discard((item.alert_id, item.destination))
            elif outcome == OutboxStatus.DEAD:
                report.dead += 1
            else:
                report.retrying += 1
                blocked.add(item.destination)
        return report

    def _note_follows(self, item: OutboxItem, pending: list[OutboxItem]) -> bool:
        notifier = self.notifiers.get(item.destination)
        if getattr(notifier, "edits_in_place", True):
            return False
        return any(
            o.action == "reply"
            and o.alert_id == item.alert_id
            and o.destination == item.destination
            and o.status == OutboxStatus.PENDING
            and o.created_at == item.created_at
            for o in pending
        )

    def _quiet_hold(self, item: OutboxItem, alert: Alert | None, now: datetime) -> datetime | None:
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

    def _merge_backlog(
        self, destination: str, window: RateWindow, pending: list[OutboxItem]
    ) -> int:
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
        posts = [
            o for o in posts if self._quiet_hold(o, self.repo.get_alert(o.alert_id), now) is None
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
        self.repo.replace_outbox(posts, batch)
        for o in posts:
            o.status = OutboxStatus.SENT.value  # merged: this pass must not send it again
        log.info(
            "destination=%s: %d alerts waiting behind the rate limit merged into one message",
            destination,
            len(posts),
        )
        return len(posts)

    def _attempt(self, item: OutboxItem, alert: Alert | None) -> OutboxStatus:
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
        kind = item.message.get("kind")
        if kind == "alert" and alert is None:
            return self._finish(
                item,
                Delivery(
                    ok=False, retryable=False, error=f"alert {item.alert_id} no longer exists"
                ),
            )
        ref = alert.messages.get(item.destination) if alert else None
        if item.action == "update" and ref and ref.get("batch"):
            # Sent inside a batch: there is no message of its own to edit; the note says it.
            return self._finish(item, Delivery(ok=True))
        if item.action == "update" and not ref:
            # An earlier post to this destination always goes first (a pending one blocks
            # this item), so no reference means that post died: post the alert afresh.
            item.action = "post"
        batch_alerts: list[Alert] = []
        if kind == "batch":
            found = (self.repo.get_alert(a) for a in item.message.get("alert_ids", []))
            batch_alerts = [a for a in found if a is not None]
        out = Outgoing(
            action=item.action, message=item.message, alert=alert, ref=ref, alerts=batch_alerts
        )
        try:
            payload = notifier.render(out)
        except Exception as err:
            if kind == "batch" and len(batch_alerts) > 1:
                return self._attempt_batch_without_poison(item, notifier, out, err)
            # Nothing was sent, and the same content renders the same way next time: a retry
            # would only hold up every later message to this destination. Give up on this one.
            what = f"alert {item.alert_id}" if item.alert_id else f"{kind or 'message'}"
            if kind == "batch":
                what = "batch of " + ", ".join(a.id for a in batch_alerts)
            log.exception(
                "destination=%s item=%s: %s could not be rendered; it goes to the dead letters",
                item.destination,
                item.id,
                what,
            )
            return self._finish(item, render_failure(what, item.destination, err), batch_alerts)
        return self._send(item, notifier, out, payload, batch_alerts)

    def _send(
        self,
        item: OutboxItem,
        notifier: Notifier,
        out: Outgoing,
        payload: dict[str, Any],
        batch_alerts: list[Alert],
    ) -> OutboxStatus:
        try:
            delivery = notifier.send(out, payload)
        except Exception as err:  # a bug in one notifier must not stop the others
            log.exception("destination=%s item=%s: notifier crashed", item.destination, item.id)
            delivery = Delivery(ok=False, retryable=True, error=f"{type(err).__name__}: {err}")
        return self._finish(item, delivery, batch_alerts)

    def _attempt_batch_without_poison(
        self, item: OutboxItem, notifier: Notifier, out: Outgoing, err: Exception
    ) -> OutboxStatus:
        """A batch that cannot be rendered: the alerts that cannot be rendered on their own
        each become a dead letter, and the batch goes with the others."""
        good: list[Alert] = []
        bad: list[tuple[Alert, Exception]] = []
        for a in out.alerts:
            one = Outgoing(
                action=out.action, message={**item.message, "alert_ids": [a.id]}, alerts=[a]
            )
            try:
                notifier.render(one)
            except Exception as one_err:
                bad.append((a, one_err))
            else:
                good.append(a)
        if not bad or not good:  # nothing to single out, or nothing left: the batch is dead
            what = "batch of " + ", ".join(a.id for a in out.alerts)
            log.error(
                "destination=%s item=%s: %s could not be rendered (%s: %s); "
                "it goes to the dead letters",
                item.destination,
                item.id,
                what,
                type(err).__name__,
                err,
            )
            return self._finish(item, render_failure(what, item.destination, err), out.alerts)
        stamp = to_iso(self.clock.now()) or ""
        dead = []
        for a, why in bad:
            failure = render_failure(f"alert {a.id}", item.destination, why)
            log.error(
                "destination=%s item=%s: %s; it leaves the batch for the dead letters",
                item.destination,
                item.id,
                failure.error,
            )
            dead.append(
                OutboxItem(
                    id="",
                    destination=item.destination,
                    action="post",
                    message={"kind": "alert"},
                    created_at=item.created_at or stamp,
                    alert_id=a.id,
                    attempts=1,
                    last_error=failure.error[:500],
                )
            )
        self.repo.add_outbox(dead)
        for d in dead:
            d.status = OutboxStatus.DEAD.value
            self.repo.save_outbox(d)
        item.message = {**item.message, "alert_ids": [a.id for a in good]}
        out = Outgoing(action=out.action, message=item.message, ref=out.ref, alerts=good)
        try:
            payload = notifier.render(out)
        except Exception as again:
            what = "batch of " + ", ".join(a.id for a in good)
            log.exception(
                "destination=%s item=%s: %s could not be rendered", item.destination, item.id, what
            )
            return self._finish(item, render_failure(what, item.destination, again), good)
        return self._send(item, notifier, out, payload, good)

    def _finish(
        self, item: OutboxItem, delivery: Delivery, batch_alerts: list[Alert] | None = None
    ) -> OutboxStatus:
        now = self.clock.now()
        item.attempts += 1
        if delivery.ok:
            item.status = OutboxStatus.SENT.value
            item.sent_at = to_iso(now) or ""
            item.ref = delivery.ref
            refs: list[tuple[str, str, dict[str, str]]] = []
            if item.action == "post" and item.alert_id and delivery.ref:
                refs.append((item.alert_id, item.destination, delivery.ref))
            for a in batch_alerts or []:
                refs.append((a.id, item.destination, {**delivery.ref, "batch": "1"}))
            self.repo.save_outbox(item, refs)
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
            self.repo.save_outbox(item)
            telemetry.sent(item.destination, "misconfigured")
            return OutboxStatus.PENDING
        if not delivery.retryable or now - created >= GIVE_UP_AFTER:
            item.status = OutboxStatus.DEAD.value
            log.error(
                "destination=%s item=%s gave up after %d attempt(s): %s",
                item.destination,
                item.id,
                item.attempts,
                item.last_error,
            )
            self.repo.save_outbox(item)
            telemetry.sent(item.destination, "dead")
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
        telemetry.sent(item.destination, "retrying")
        return OutboxStatus.PENDING
