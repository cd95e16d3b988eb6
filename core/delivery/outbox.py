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

When an outcome cannot be recorded (a full disk), it is held in memory and nothing more is
sent until a write works again: the item is still due in storage, and sending on would post
it again on every pass.
"""

from __future__ import annotations

import contextlib
import logging
import random
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NoReturn
from zoneinfo import ZoneInfo

from core.config import QuietHours
from core.domain import telemetry
from core.domain.clock import Clock
from core.domain.durations import format_duration
from core.domain.models import Alert, OutboxItem, OutboxStatus, Severity, to_iso
from core.domain.notifier import Delivery, Notifier, Outgoing
from core.domain.repository import Repository

log = logging.getLogger("buzzwatch.outbox")

# A retryable failure is retried for this long (a chat service's outage can last hours;
# an alert must not be dropped for it), then the item goes to the dead letters.
GIVE_UP_AFTER = timedelta(hours=24)
BASE_DELAY = 2.0
# Once a destination is back, its next try comes within a minute (a 10-minute cap left a
# recovered channel waiting over 6 minutes with its backlog behind it).
MAX_DELAY = 60.0
# Alert posts waiting behind a rate limit merge into one message when more are waiting than
# the destination takes in BATCH_AFTER seconds (and at least BATCH_MIN); a short queue waits.
BATCH_AFTER = 60.0
BATCH_MIN = 3
BATCH_MAX = 20


# The worker wakes this long after the moment a rate limit frees up, so it is free then.
WAKE_MARGIN = 0.01

MISCONFIGURED_PAUSE = timedelta(minutes=10)
MAX_RETRY_AFTER = 3600.0  # a Retry-After date far in the future must not park a queue


def backoff(attempts: int, retry_after: float | None, rng: random.Random) -> float:
    """Seconds to wait before the next try: full jitter on an exponential, never under
    Retry-After (itself capped at an hour)."""
    # The exponent is capped: a day of tries a minute apart passes 2**1024, too big for a float.
    delay = rng.uniform(BASE_DELAY, min(MAX_DELAY, BASE_DELAY * 2 ** min(attempts, 32)))
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


class RecordFailed(Exception):
    """The outcome of an attempt could not be stored: the pass ends here."""


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
            limit = notifier.rate_limit
            if limit:
                self._windows[name] = RateWindow(int(limit[0]), float(limit[1]))
        # Outcomes of sends that could not be recorded (a full disk), oldest first. While
        # any is left, nothing is sent: the item is still due in storage, and sending on would
        # post it again on every pass (54 copies of one alert were seen).
        self._unrecorded: list[tuple[OutboxItem, list[tuple[str, str, dict[str, str]]]]] = []
        self.storage_error: str | None = None
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
        timeout = every
        while not self._stop.is_set():
            self._wake.wait(timeout)
            self._wake.clear()
            if self._stop.is_set():
                break
            try:
                report = self.deliver_due()
                progressed = bool(report.sent or report.dead or report.batched)
                timeout = self._worker_wait(every, progressed)
            except Exception:  # the worker must outlive one bad pass (a full disk, a bug)
                log.exception("delivery pass failed; trying again shortly")
                timeout = every

    def _worker_wait(self, every: float, progressed: bool = False) -> float:
        """Seconds until the worker's next pass: `every`, or sooner when the next item can
        go before that (a rate limit that frees up in under a second, a retry coming due).
        A rate limit must not cost a whole `every` per message."""
        wake = self.next_wake()
        if wake is None:
            return every
        seconds = (wake - self.clock.now()).total_seconds()
        if seconds <= 0:
            # Due now: a rate limit that freed up while the pass was sending elsewhere goes
            # at once; due but not sent in a pass that sent nothing: no busy loop.
            return 0.0 if progressed else every
        return min(every, seconds + WAKE_MARGIN)

    def deliver_due(self) -> DeliveryReport:
        report = DeliveryReport()
        with self._lock:
            if not self._record_unrecorded():
                return report  # storage still fails: send nothing
            # A failed write ends the pass (said once); nothing more is sent in it.
            with contextlib.suppress(RecordFailed):
                self._deliver_due(report)
        return report

    # --- when outcomes cannot be recorded ---------------------------------------------------

    def _record(
        self, item: OutboxItem, refs: list[tuple[str, str, dict[str, str]]] | None = None
    ) -> None:
        """Store an attempt's outcome. If storage fails, keep the outcome in memory (it is
        recorded once storage works again), pause delivery and end the pass."""
        try:
            self.repo.save_outbox(item, refs)
        except Exception as err:  # a full disk, a read-only folder: whatever the backend raises
            self._unrecorded.append((item, list(refs or [])))
            self._storage_failed(err, f"could not record the outcome of item {item.id}")
        self._storage_works()

    def _store(self, write: Callable[[], object], what: str) -> None:
        """A write that comes before any send (a quiet-hours hold, a batch): if it fails,
        nothing was sent; the pass ends and the next one tries again."""
        try:
            write()
        except Exception as err:
            self._storage_failed(err, f"could not store {what}")
        self._storage_works()

    def _storage_failed(self, err: Exception, what: str) -> NoReturn:
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

    def _storage_works(self) -> None:
        if self.storage_error is not None:
            log.warning("storage works again: delivery resumes")
            self.storage_error = None

    @property
    def unrecorded(self) -> int:
        """Outcomes held in memory because storage failed (lost if the process ends now)."""
        return len(self._unrecorded)

    def _record_unrecorded(self) -> bool:
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
            self._storage_works()
        return True

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
                    try:
                        self._store(lambda i=item: self.repo.save_outbox(i), "a send time")
                    except RecordFailed:
                        break  # it goes at its own time; storage_error says why
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
        posts_waiting = queued_posts(pending)
        for item in pending:
            if item.destination in self.offline:
                continue  # this process never sends there
            if (
                item.action not in ("post", "update")
                and (item.alert_id, item.destination) in posts_waiting
            ):
                continue  # a note goes after its post (held or batched), not before
            held = datetime.fromisoformat(item.held_until) if item.held_until else None
            if held is not None and held > now:
                times.append(held)
                continue
            # A hold that has ended: the item waits its turn and its rate limit like any other.
            if item.destination in heads:
                continue  # waits behind the first item of its destination
            heads.add(item.destination)
            at = datetime.fromisoformat(item.next_attempt_at) if item.next_attempt_at else now
            window = self._windows.get(item.destination)
            if window is not None:
                at = max(at, window.next_free(now))
            times.append(at)
        return min(times, default=None)

    # --- one pass ---------------------------------------------------------------------------

    def _deliver_due(self, report: DeliveryReport) -> None:
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
                self._store(lambda i=item: self.repo.save_outbox(i), f"the hold of {item.id}")
                report.skipped += 1
                continue
            window = self._windows.get(item.destination)
            if window is not None and not window.free(now):
                report.batched += self._merge_backlog(item.destination, window, pending)
                blocked.add(item.destination)
                report.skipped += 1
                continue
            try:
                outcome = self._attempt(item, alert)
            except RecordFailed:
                if window is not None:  # it may well have been sent
                    window.record(self.clock.now())
                raise
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

    def _note_follows(self, item: OutboxItem, pending: list[OutboxItem]) -> bool:
        notifier = self.notifiers.get(item.destination)
        if notifier is None or notifier.edits_in_place:
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
        found = {o.id: self.repo.get_alert(o.alert_id) for o in posts}
        posts = [
            o
            for o in posts
            if self._quiet_hold(o, found[o.id], now) is None
            # A storm keeps a message of its own: acting on its members updates it.
            and not (found[o.id] is not None and found[o.id].kind == "storm")
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
        self._store(lambda: self.repo.replace_outbox(posts, batch), "a batch")
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
        listed = batch_alerts
        if kind == "alert" and alert is not None and alert.kind == "storm":
            # A storm message lists its members as they are now (status, assignee).
            listed = [a for a in (self.repo.get_alert(m) for m in alert.members) if a is not None]
        out = Outgoing(
            action=item.action, message=item.message, alert=alert, ref=ref, alerts=listed
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

        def store_dead() -> None:
            self.repo.add_outbox(dead)
            for d in dead:
                d.status = OutboxStatus.DEAD.value
                self.repo.save_outbox(d)

        self._store(store_dead, "dead letters")
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
            self._record(item, refs)
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
            self._record(item)
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
            self._record(item)
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
        self._record(item)
        telemetry.sent(item.destination, "retrying")
        return OutboxStatus.PENDING
