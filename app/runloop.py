"""Running the bot: one cycle (`--once`) or until stopped, with the periodic jobs."""

from __future__ import annotations

import logging
import sys
import threading
from datetime import timedelta
from typing import Any

from app.buzzwatch import Buzzwatch
from app.jobs import JobRegistry, Scheduler
from app.lease_keeper import LeaseKeeper
from app.signals import StopRequest, install_stop_signals
from app.stdin_commands import start_stdin_commands
from core.commands.status import held_by_quiet_hours
from core.config import ConfigError
from core.delivery.worker import DeliveryReport
from core.domain import telemetry
from core.intake.pipeline import SWITCH_INTERVAL
from core.reports.query import warm_up
from sources.base import Source
from storage.atomic_json import STORE_FAILURES, failure_text

log = logging.getLogger("buzzwatch")

DELIVER_EVERY_SECONDS = 3
WARM_UP_DAYS = timedelta(days=30)  # mentions loaded for search at start-up, in the background
# --once waits this long at most for rate limits and short retries before it exits.
ONCE_MAX_WAIT = 120.0
EXIT_STORAGE_FAILED = 3


def run_once(app: Buzzwatch, stop: StopRequest) -> int:
    outcomes = app.poll_all()
    report = DeliveryReport()
    unstored = next((o for o in outcomes if o.storage), None)
    if not stop.is_set():
        try:
            app.storms.check()
            app.sla.check()
            app.archive()
            # Waits for rate limits and short retries; an update waiting only for its route's
            # group_interval goes at once (one cycle has nothing more to merge into it).
            report = app.deliverer.drain(max_wait=ONCE_MAX_WAIT, stop=stop, group_timers_now=True)
        except STORE_FAILURES as err:
            return storage_failed(app, failure_text(err))
        if app.deliverer.storage_error:
            return storage_failed(app, app.deliverer.storage_error, report)
        if unstored is not None:  # the store failed for a source (see PollOutcome.storage)
            return storage_failed(app, unstored.error, report)
    failed = [o for o in outcomes if not o.ok]
    alerts = sum(len(o.result.alerts) for o in outcomes if o.result)
    pending = app.repo.pending_outbox()
    queued = len(pending)
    # Sources another process sharing the store holds were not polled here (its lease).
    elsewhere = sum(1 for o in outcomes if o.elsewhere)
    later = (
        " (dry run: nothing was stored)"
        if app.dry_run
        else " (the Buzzwatch process polling them, or the next run, sends them)"
        if queued and elsewhere
        else " (they go out on the next run)"
        if queued
        else ""
    )
    held = held_by_quiet_hours(pending, app.clock.now())
    later = (f", {held.replace(' held', ' of them held', 1)}" if held else "") + later
    if report.dropped:  # the console's output closed: said once already, counted here
        later += f"; dropped {report.dropped} for a closed console"
    if stop.is_set():
        log.warning(
            "stopped by %s: %d source(s) polled, %d alert(s); sent %d, dead %d, "
            "not sent and still queued %d%s",
            stop.name,
            len(outcomes) - sum(1 for o in outcomes if o.deferred),
            alerts,
            report.sent,
            report.dead,
            queued,
            later,
        )
        return stop.exit_code
    log.info(
        "cycle done: %d source(s)%s, %d failed, %d alert(s); sent %d, dead %d, still queued %d%s",
        len(outcomes),
        f" ({elsewhere} polled by another Buzzwatch process on this store)" if elsewhere else "",
        len(failed),
        alerts,
        report.sent,
        report.dead,
        queued,
        later,
    )
    if outcomes and len(failed) == len(outcomes):
        log.error("every source failed: see the errors above")
        return 1
    return 0


def storage_failed(app: Buzzwatch, error: str, report: DeliveryReport | None = None) -> int:
    """--once could not store what it did (a full disk): say so in one line, exit 3."""
    sent = f"; {report.sent} message(s) sent before that" if report and report.sent else ""
    log.error(
        "stopped: storage failed (%s)%s. Free space or fix the data folder and run again: "
        "what is still queued goes then (a message whose sending could not be recorded may "
        "be sent once more)",
        error,
        sent,
    )
    return EXIT_STORAGE_FAILED


class FirstCycle:
    """Runs `then` once, when every source named has been polled once (whatever the
    outcome), or at `start()` when there are none."""

    def __init__(self, sources: list[str], then: Any) -> None:
        self._left = set(sources)
        self._then = then
        self._done = False
        self._lock = threading.Lock()

    def start(self) -> None:
        self._maybe_done()

    def polled(self, source: str) -> None:
        with self._lock:
            self._left.discard(source)
        self._maybe_done()

    def _maybe_done(self) -> None:
        with self._lock:
            if self._done or self._left:
                return
            self._done = True
        self._then()


def stop_work(app: Buzzwatch) -> None:
    """On a stop signal: fetches in flight are cut off, and a batch being analysed is left at
    its next chunk (processed again on the next start); what was stored stays."""
    app.fetcher.stop()
    app.pipeline.stop()


def run_forever(app: Buzzwatch) -> int:
    scheduler = Scheduler(app.config.fetch.workers, app.config.tz)
    sys.setswitchinterval(SWITCH_INTERVAL)  # chat threads next to a busy pipeline

    def catch_up_digest() -> None:
        # Today's digest, if its time has passed and it was not sent. Run right here, on
        # the thread of the last first poll (or the main thread when there are no sources):
        # a job adding a job could deadlock a shutdown waiting for that job
        # (APScheduler's shutdown holds the job-store lock add_job needs).
        app.digests.run_due_logged()
        app.deliverer.kick()

    # The start-up catch-up waits for every source's first poll of this start: before it,
    # what came in while the bot was down is not stored, and the digest (then marked sent)
    # would say nothing of it.
    first_cycle = FirstCycle([s.name for s in app.sources], catch_up_digest)
    jobs = JobRegistry()
    keeper = register_polls(app, jobs, scheduler, first_cycle)
    app.register_jobs(jobs)  # SLA, archive, the daily digest, the storm watch
    stop = StopRequest()
    # A signal also cuts the fetches in flight: a slow or hanging source does not hold up
    # the shutdown until its fetch deadline.
    install_stop_signals(stop, then=lambda: stop_work(app))
    from listeners import start_listeners

    app.deliverer.start(DELIVER_EVERY_SECONDS)  # before anything can kick it
    try:
        stops = start_listeners(app)
    except ConfigError as err:  # e.g. a port in use: a clear error, nothing left running
        app.deliverer.stop()
        print(f"error: {err}", file=sys.stderr)
        return 2
    if app.backend == "tinydb":
        # Day files are parsed on first use: load recent ones before someone searches. (SQLite
        # needs no warm-up: a query reads only what it needs.)
        threading.Thread(
            target=warm_up,
            args=(app.repo, app.clock.now() - WARM_UP_DAYS),
            name="warm-up",
            daemon=True,
        ).start()
    first_cycle.start()  # no sources: the catch-up (today's, if missed) runs now
    scheduler.add_all(jobs)
    scheduler.start()
    if keeper is not None:
        keeper.start()
    service = None
    if app.config.service.port is not None:
        from ops.server import start_service

        service = start_service(
            app.config.service.host,
            app.config.service.port,
            app.repo,
            app.clock,
            lambda: scheduler.running,
        )
    log.info(
        "running: %d source(s), %d destination(s); Ctrl-C to stop",
        len(app.sources),
        len(app.notifiers),
    )
    stop_reader = start_stdin_commands(app)
    if stop_reader is not None:
        stops.append(stop_reader)
    stop.wait()
    for stop_listener in stops:
        stop_listener()
    if keeper is not None:
        keeper.stop()  # (before the scheduler's shutdown: it adds take-over jobs)
    app.fetcher.stop()  # (the signal started this already) polls still fetching end now
    # Polls in flight finish promptly; what they had fetched is stored. A poll cut off in
    # its fetch is a deferral, not a failure of the source: the next start polls it again.
    scheduler.shutdown()
    app.deliverer.stop()
    app.deliverer.deliver_due()
    if app.deliverer.unrecorded:
        log.error(
            "stopped while storage fails (%s): %d sent message(s) could not be recorded and "
            "may be sent once more on the next start",
            app.deliverer.storage_error,
            app.deliverer.unrecorded,
        )
    if service is not None:
        service.stop()
    log.info("stopped cleanly")
    return stop.exit_code


def register_polls(
    app: Buzzwatch, jobs: JobRegistry, scheduler: Scheduler, first_cycle: FirstCycle
) -> LeaseKeeper | None:
    """A poll job per source, first run at the start; after each poll, the after-each-poll
    jobs run and the deliverer is woken. On a store shared by several processes, the keeper
    of this process's source leases (to start once the scheduler runs)."""
    polling: set[str] = set()  # sources being polled by this process now
    polling_lock = threading.Lock()
    keeper: LeaseKeeper | None = None

    def poll_and_deliver(source: Source) -> None:
        with polling_lock:
            if source.name in polling:
                return  # (a take-over try met the regular poll: one is enough)
            polling.add(source.name)
        if keeper is not None:
            keeper.polling(source.name)  # (its lease renewed while the poll runs)
        try:
            outcome = app.poller.poll(source)
        finally:
            with polling_lock:
                polling.discard(source.name)
            first_cycle.polled(source.name)
        telemetry.polled(outcome)
        if keeper is not None:
            keeper.polling(source.name, held=not outcome.elsewhere)
        jobs.run_after_poll()
        app.deliverer.kick()

    for source in app.sources:
        jobs.every(
            f"poll:{source.name}",
            source.every,
            poll_and_deliver,
            args=(source,),
            first_run=app.clock.now(),
            misfire_grace=late_poll_grace(source),
        )

    def take_over(source: Source) -> None:
        # Late (every poll thread busy in a burst) it is still worth doing, up to a whole
        # interval: dropped, the source would wait for this process's regular poll of it.
        scheduler.once(
            f"take-over:{source.name}",
            app.clock.now(),
            poll_and_deliver,
            args=(source,),
            misfire_grace=max(late_poll_grace(source), source.every),
        )

    if app.backend == "postgres":
        keeper = LeaseKeeper(app.repo, app.sources, take_over)
    return keeper


def late_poll_grace(source: Source) -> timedelta:
    """A late poll is still worth doing, up to half an interval late (30 s at least)."""
    return timedelta(seconds=max(30, int(source.every.total_seconds()) // 2))
