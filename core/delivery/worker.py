"""The delivery worker: sends what the outbox holds, in order per destination.

At least once: an item leaves the outbox only after its send succeeded (or failed for
good, into the dead letters), and the platform's message reference is recorded in the same
write. A crash between a send and that write resends once: the only duplicate possible,
and only where the outcome was truly unknown.

One pass takes each due item through the stages, as Alertmanager's notify pipeline does:
  hold       quiet hours; a note waits behind its held or batched post (core.delivery.hold)
  ratelimit  the destination's send window; a backlog merges into a batch (.ratelimit)
  attempt    render and send (.attempt)
  retry      sent, paused, backed off, or given up (.retry)
  deadletter what will never be sent, named (.deadletter)
Per destination a failed send blocks later items (messages arrive in order). Every write
goes through the recorder (.recording), which pauses delivery while storage fails.
"""

from __future__ import annotations

import contextlib
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from core.config import QuietHours
from core.delivery.attempt import Attempt
from core.delivery.hold import QuietHold, queued_posts, release_group_timers
from core.delivery.ratelimit import Batcher, RateWindow
from core.delivery.recording import Recorder, RecordFailed
from core.delivery.retry import Retry
from core.domain.clock import Clock
from core.domain.models import OutboxItem, OutboxStatus, to_iso
from core.domain.notifier import Delivery, Notifier
from core.domain.repository import Repository

log = logging.getLogger("buzzwatch.outbox")

# The worker wakes this long after the moment a rate limit frees up, so it is free then.
WAKE_MARGIN = 0.01

CLAIM_LEASE = timedelta(minutes=1)  # a dead process's destinations wait at most this long
# A pass still sending this long after its claim claims again before each next item, and
# skips those no longer its own: slow sends, or this process stopped (SIGSTOP, a frozen VM)
# past its lease, and another process took the destination over and sent them meanwhile.
RECLAIM_AFTER = CLAIM_LEASE / 3


@dataclass
class DeliveryReport:
    sent: int = 0
    retrying: int = 0
    dead: int = 0
    dropped: int = 0  # for a destination that can never show them (a closed console)
    skipped: int = 0
    batched: int = 0


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
        self.sleep = sleep
        # The stages of a pass (see the module's docstring).
        self.recorder = Recorder(repo)
        self.quiet = QuietHold(quiet_hours or {}, tz or ZoneInfo("UTC"), repo, self.recorder)
        self.batcher = Batcher(repo, clock, self.recorder, self.quiet)
        self.retry = Retry(clock, rng or random.Random(), self.recorder)
        self.attempt = Attempt(repo, notifiers, clock, self.recorder, self.retry)
        self._windows: dict[str, RateWindow] = {}
        for name, notifier in notifiers.items():
            limit = notifier.rate_limit
            if limit:
                self._windows[name] = RateWindow(int(limit[0]), float(limit[1]))
        self._lock = threading.Lock()  # one worker at a time keeps per-destination order
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def rng(self) -> random.Random:
        """The retry stage's jitter (a test sets a seeded one)."""
        return self.retry.rng

    @rng.setter
    def rng(self, rng: random.Random) -> None:
        self.retry.rng = rng

    @property
    def storage_error(self) -> str | None:
        """Why delivery is paused (storage fails), or None."""
        return self.recorder.storage_error

    @property
    def unrecorded(self) -> int:
        """Outcomes held in memory because storage failed (lost if the process ends now)."""
        return self.recorder.unrecorded

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
                progressed = bool(report.sent or report.dead or report.dropped or report.batched)
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
            if not self.recorder.record_unrecorded():
                return report  # storage still fails: send nothing
            # A failed write ends the pass (said once); nothing more is sent in it.
            with contextlib.suppress(RecordFailed):
                self._deliver_due(report)
        return report

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
            release_group_timers(self.repo, self.recorder, to_iso(self.clock.now()) or "")
        real_sleep = self.sleep is time.sleep
        while stop is None or not stop.is_set():
            report = self.deliver_due()
            for key in vars(total):
                setattr(total, key, getattr(total, key) + getattr(report, key))
            wake = self.next_wake()
            now = self.clock.now()
            progressed = report.sent or report.dead or report.dropped or report.batched
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
        pending = self.repo.claim_outbox(CLAIM_LEASE)
        claimed_at, held = self.clock.now(), {o.id for o in pending}
        blocked: set[str] = set()
        posts_waiting = queued_posts(pending)
        for item in pending:
            now = self.clock.now()
            if now - claimed_at >= RECLAIM_AFTER:  # (renews the lease of what is still held)
                claimed_at, held = now, {o.id for o in self.repo.claim_outbox(CLAIM_LEASE)}
            if item.id not in held:  # sent (or being sent) by the process that took it over
                report.skipped += 1
                continue
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
                self.retry.finish(item, Delivery(ok=True))
                report.sent += 1
                continue
            if item.action != "post" and (item.alert_id, item.destination) in posts_waiting:
                # Its post was held back (quiet hours) or merged into a batch: the post shows
                # the latest state, so an update has nothing to add; a note waits its turn.
                if item.action == "update":
                    self.retry.finish(item, Delivery(ok=True))
                    report.sent += 1
                else:
                    report.skipped += 1
                continue
            alert = self.repo.get_alert(item.alert_id) if item.alert_id else None
            if self.quiet.hold(item, alert, now):
                report.skipped += 1
                continue
            window = self._windows.get(item.destination)
            if window is not None and not window.free(now):
                report.batched += self.batcher.merge_backlog(item.destination, window, pending)
                blocked.add(item.destination)
                report.skipped += 1
                continue
            try:
                outcome = self.attempt.run(item, alert)
            except RecordFailed:
                if window is not None:  # it may well have been sent
                    window.record(self.clock.now())
                raise
            if window is not None and outcome not in (OutboxStatus.DEAD, OutboxStatus.DROPPED):
                window.record(self.clock.now())
            if outcome == OutboxStatus.SENT:
                report.sent += 1
                posts_waiting.discard((item.alert_id, item.destination))
            elif outcome == OutboxStatus.DEAD:
                report.dead += 1
            elif outcome == OutboxStatus.DROPPED:
                report.dropped += 1
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
