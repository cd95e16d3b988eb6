"""Buzzwatch: social-listening alerts for Slack, DingTalk and the console.

The composition root: reads the config, builds every part, and runs what the command line
asks for. `python bot.py --help` lists the commands.
"""

from __future__ import annotations

import argparse
import functools
import json
import logging
import os
import select
import shlex
import signal
import sys
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, timedelta
from pathlib import Path
from typing import Any, TextIO

import sources.kinds  # noqa: F401  (every source kind's config section, before a config is read)
from core.alerting.lifecycle import AlertService
from core.alerting.routing import Router, route_label
from core.alerting.sla import SlaWatcher
from core.alerting.views import local_time, set_display_timezone
from core.commands.context import Actor, Reply
from core.commands.service import CommandService, is_read_only
from core.config import Config, ConfigError, config_warnings, load_config
from core.delivery.worker import Deliverer, DeliveryReport
from core.domain import telemetry
from core.domain.clock import Clock, SystemClock
from core.domain.durations import format_duration
from core.domain.models import Mention
from core.domain.notifier import Notifier, Outgoing
from core.intake.health import HealthMonitor
from core.intake.pipeline import Pipeline
from core.intake.polling import Poller, PollOutcome
from core.reports.digest_service import DigestService
from core.reports.query import warm_up
from core.reports.storms import StormWatch
from listeners.console import Output
from listeners.context import NotifierContext, Secrets
from rules.analyze import Analyzer
from storage.atomic_json import StorageError

log = logging.getLogger("buzzwatch")

POLL_WORKERS = 8
DELIVER_EVERY_SECONDS = 3
SLA_EVERY_SECONDS = 30
WARM_UP_DAYS = timedelta(days=30)
# Resolved alerts leave the hot state file (rewritten on every ack) after this long; the
# digest looks back a week, and get_alert still finds archived ones.
ARCHIVE_AFTER = timedelta(days=14)  # mentions loaded for search at start-up, in the background
# --once waits this long at most for rate limits and short retries before it exits.
ONCE_MAX_WAIT = 120.0
# A line typed into the running bot longer than this (bytes, no newline yet) is dropped.
MAX_STDIN_LINE = 64 * 1024


class Buzzwatch:
    """Everything built from one config, wired together."""

    def __init__(
        self,
        config: Config,
        *,
        dry_run: bool = False,
        read_only: bool = False,
        offline_ok: bool = False,
        clock: Clock | None = None,
        stdout: TextIO | None = None,
        secrets: Secrets | None = None,
        slack_api_url: str | None = None,
        start_empty: bool = False,
    ) -> None:
        """`dry_run`: nothing sent, nothing stored. `read_only`: for queries; no
        destinations are built (no secrets needed) and the data folder is not locked, so
        it works next to a running bot. `offline_ok`: a destination that cannot be built here
        (its secret is not set) is left out and its messages stay queued for the bot.
        `start_empty`: the operator's word that a lost state (state.json and its backup both
        unreadable) may be started over empty. `secrets`: where the chat platforms' secrets
        are looked up (default: the environment). `slack_api_url`: the Slack Web API's base
        URL (default: $SLACK_API_URL, else Slack's)."""
        import httpx  # noqa: F401  (imported here so `check-config` stays light)

        from listeners import build_notifier, build_permission
        from listeners.console import DryRunNotifier
        from sources.build import build_sources
        from sources.http import Fetcher
        from storage.factory import effective_backend, open_repository

        self.config = config
        self.dry_run = dry_run
        set_display_timezone(config.tz)
        self.clock = clock or SystemClock()
        self.stdout = stdout
        self.backend = effective_backend(config.storage, config.data_dir)
        self.repo = open_repository(
            self.backend,
            config.data_dir,
            clock=self.clock,
            read_only=dry_run or read_only,
            start_empty=start_empty,
            dsn_env=config.storage.dsn_env,
        )
        self.analyzer = Analyzer(config)
        self.router = Router(config.routes)
        self.pipeline = Pipeline(config, self.repo, self.analyzer, self.router, self.clock)
        self.health = HealthMonitor(self.repo, config.health, self.clock, config.tz)
        self.poller = Poller(self.repo, self.pipeline, self.clock, self.health)
        self.alerts = AlertService(self.repo, self.clock)
        self.commands = CommandService(
            config, self.repo, self.alerts, self.clock, permission=build_permission(config)
        )
        # One connection pool, the address policy (fetch.allow_hosts) and per-host politeness.
        self.fetcher = Fetcher(config.fetch)
        self.http = self.fetcher.client
        self.context = NotifierContext(  # listeners build their clients from it too
            config=config,
            clock=self.clock,
            # Secrets from the environment variables the config names (webhooks, tokens).
            secrets=secrets or Secrets(),
            stdout=stdout,
            dry_run=dry_run,
            # The Slack Web API's base URL (GovSlack, a proxy, or a local stand-in in tests).
            slack_api_url=slack_api_url or os.environ.get("SLACK_API_URL") or None,
        )
        self.notifiers: dict[str, Notifier] = {}
        self.offline: dict[str, str] = {}  # destination -> why it is not built here
        for name, dest in config.destinations.items() if not read_only else ():
            try:
                notifier = build_notifier(name, dest, self.context)
            except ConfigError as err:
                if not offline_ok:
                    raise
                self.offline[name] = str(err)
                continue
            self.notifiers[name] = DryRunNotifier(notifier, name, stdout) if dry_run else notifier
        quiet = {n: d.quiet_hours for n, d in config.destinations.items() if d.quiet_hours}
        self.deliverer = Deliverer(
            self.repo,
            self.notifiers,
            self.clock,
            quiet_hours=quiet,
            tz=config.tz,
            offline=set(self.offline),
        )
        self.sla = SlaWatcher(config, self.repo, self.clock)
        self.digests = DigestService(config, self.repo, self.clock)
        self.storms = StormWatch(config, self.repo, self.clock)
        self.sources = build_sources(config, self.fetcher, self.clock)

    def poll_all(self) -> list[PollOutcome]:
        """One poll cycle over every source, a few at a time; one slow source delays no other."""
        if not self.sources:
            return []
        workers = min(self.config.fetch.workers, len(self.sources))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            return list(pool.map(self.poller.poll, self.sources))

    def run_command(self, text: str, actor: Actor | None = None) -> Reply:
        return self.commands.run(
            text, actor or Actor(id="local", name="console", platform="console")
        )

    def deliver_now(self) -> DeliveryReport:
        """Deliver what can go from here; say what stays queued for an offline destination."""
        report = self.deliverer.deliver_due()
        waiting: dict[str, int] = {}
        for item in self.repo.pending_outbox():
            if item.destination in self.offline:
                waiting[item.destination] = waiting.get(item.destination, 0) + 1
        for name, count in waiting.items():
            log.warning(
                "%d message(s) for %s stay queued (%s); the bot sends them when it runs",
                count,
                name,
                self.offline[name],
            )
        return report

    def archive(self) -> int:
        """Housekeeping: resolved alerts leave the hot state file after a while."""
        return self.repo.archive_alerts(self.clock.now() - ARCHIVE_AFTER)

    def close(self) -> None:
        self.http.close()
        self.repo.close()
        set_display_timezone(UTC)


# --- command line ---------------------------------------------------------------------------


def _reply_text(reply: Reply) -> str:
    from listeners.console import printable  # stored text is third-party: no escapes

    lines = [printable(reply.text)]
    for doc in reply.mentions:
        m = Mention.from_dict(doc)
        flags = ",".join(m.flags) or "-"
        head = f"  {local_time(m.when)} [{m.source}] {m.title or m.text[:80]}"
        tail = f"      {m.author or '?'} · {flags} · sentiment {m.sentiment:+.2f} · {m.url}"
        lines += [printable(head), printable(tail)]
    return "\n".join(lines)


def say(text: str, out: TextIO | None) -> None:
    """A one-shot command's answer on stdout. A reader that has left (`| head -1`) ends
    nothing: what the command did is kept, and it finishes quietly."""
    Output(out, quiet=True).print(text)


def _print_reply(reply: Reply, out: TextIO) -> None:
    say(_reply_text(reply), out)


class StopRequest(threading.Event):
    """Set when SIGINT (Ctrl-C) or SIGTERM asks the process to stop; `signum` says which."""

    def __init__(self) -> None:
        super().__init__()
        self.signum: int | None = None

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name if self.signum else "a stop request"

    @property
    def exit_code(self) -> int:
        """130 after Ctrl-C (128 + SIGINT: what a shell expects of an interrupted program);
        0 after SIGTERM (a service stopped as asked: systemd's clean stop)."""
        return 128 + signal.SIGINT if self.signum == signal.SIGINT else 0


def install_stop_signals(stop: StopRequest, then: Any = None) -> Any:
    """SIGINT and SIGTERM set `stop` (no KeyboardInterrupt in the middle of a write), the
    first one also runs `then()` (the main thread may be waiting on something `then` ends).
    Returns a function that puts the previous handlers back. Outside the main thread (a test
    calling main()), signals cannot be handled: no-op.

    The handler runs in the main thread between two bytecodes, possibly while that thread
    holds `stop`'s own lock inside stop.wait(): setting the event, starting a thread or
    logging there (all take locks) could deadlock. So the handler only records which signal;
    the C-level wakeup fd writes the signal's number to a pipe, and a watcher thread started
    here does the rest: logs it, sets `stop`, runs `then()`."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    wanted = (signal.SIGINT, signal.SIGTERM)
    read_fd, write_fd = os.pipe()
    os.set_blocking(write_fd, False)  # set_wakeup_fd's requirement: a signal never blocks

    def on_signal(signum: int, _frame: Any) -> None:
        if stop.signum is None:  # a plain assignment: no lock taken
            stop.signum = signum

    def watch() -> None:
        first = True
        while True:
            try:
                data = os.read(read_fd, 64)
            except OSError:
                data = b""
            if not data:  # restore() closed the write end
                os.close(read_fd)
                return
            for signum in data:
                if signum not in wanted or not first:
                    continue
                first = False
                if stop.signum is None:  # the handler has not run yet
                    stop.signum = signum
                log.info("received %s, shutting down", stop.name)
                stop.set()
                if then is not None:
                    try:
                        then()
                    except Exception:  # the stop itself must not be lost with this thread
                        log.exception("while stopping")

    threading.Thread(target=watch, name="stop-signals", daemon=True).start()
    previous_fd = signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)
    previous = {s: signal.signal(s, on_signal) for s in wanted}

    def restore() -> None:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        signal.set_wakeup_fd(previous_fd)
        os.close(write_fd)  # the watcher reads what is left, then ends

    return restore


def cmd_run(app: Buzzwatch, args: argparse.Namespace) -> int:
    if args.once:
        stop = StopRequest()
        # A signal cuts the fetches in flight (the poll ends now) and ends the drain's wait.
        restore = install_stop_signals(stop, then=app.fetcher.stop)
        try:
            return run_once(app, stop)
        finally:
            restore()
    return run_forever(app)


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
        except StorageError as err:
            return storage_failed(app, str(err))
        if app.deliverer.storage_error:
            return storage_failed(app, app.deliverer.storage_error, report)
        if unstored is not None:  # the source answered; its mentions could not be stored
            return storage_failed(app, unstored.error, report)
    failed = [o for o in outcomes if not o.ok]
    alerts = sum(len(o.result.alerts) for o in outcomes if o.result)
    queued = len(app.repo.pending_outbox())
    later = (
        " (dry run: nothing was stored)"
        if app.dry_run
        else " (they go out on the next run)"
        if queued
        else ""
    )
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
        "cycle done: %d source(s), %d failed, %d alert(s); sent %d, dead %d, still queued %d%s",
        len(outcomes),
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


EXIT_STORAGE_FAILED = 3


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


def run_forever(app: Buzzwatch) -> int:
    from apscheduler.executors.pool import ThreadPoolExecutor as JobPool
    from apscheduler.schedulers.background import BackgroundScheduler

    scheduler = BackgroundScheduler(
        executors={"default": JobPool(app.config.fetch.workers)},
        job_defaults={"coalesce": True, "max_instances": 1},
        timezone=app.config.tz,
    )

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

    polling: set[str] = set()  # sources being polled by this process now
    polling_lock = threading.Lock()

    def poll_and_deliver(source: Any) -> None:
        with polling_lock:
            if source.name in polling:
                return  # (a take-over try met the regular poll: one is enough)
            polling.add(source.name)
        try:
            outcome = app.poller.poll(source)
        finally:
            with polling_lock:
                polling.discard(source.name)
            first_cycle.polled(source.name)
        telemetry.polled(outcome)
        if outcome.retry_at is not None:
            # Another process holds it: try again as its lease ends, so if that process
            # died, its sources are taken over within one poll interval.
            scheduler.add_job(
                poll_and_deliver,
                "date",
                run_date=outcome.retry_at + timedelta(seconds=1),
                args=[source],
                id=f"take-over:{source.name}",
                replace_existing=True,
                misfire_grace_time=max(30, int(source.every.total_seconds()) // 2),
            )
        app.storms.check_if_due()
        app.deliverer.kick()

    for source in app.sources:
        seconds = int(source.every.total_seconds())
        scheduler.add_job(
            poll_and_deliver,
            "interval",
            args=[source],
            seconds=seconds,
            id=f"poll:{source.name}",
            next_run_time=app.clock.now(),
            # A late poll is still worth doing, up to half an interval late.
            misfire_grace_time=max(30, seconds // 2),
        )

    scheduler.add_job(
        app.sla.check, "interval", seconds=SLA_EVERY_SECONDS, id="sla", misfire_grace_time=300
    )
    stop = StopRequest()
    # A signal also cuts the fetches in flight: a slow or hanging source does not hold up
    # the shutdown until its fetch deadline.
    install_stop_signals(stop, then=app.fetcher.stop)
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
    app.digests.schedule(scheduler)  # at the digest time
    first_cycle.start()  # no sources: the catch-up (today's, if missed) runs now
    scheduler.add_job(app.archive, "interval", hours=1, id="archive", next_run_time=app.clock.now())
    scheduler.start()
    service = None
    if app.config.service.port is not None:
        from ops.server import start_service

        service = start_service(
            app.config.service.host,
            app.config.service.port,
            app.repo,
            app.clock,
            lambda: bool(scheduler.running),
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
    app.fetcher.stop()  # (the signal started this already) polls still fetching end now
    # Polls in flight finish promptly; what they had fetched is stored. A poll cut off in
    # its fetch is a deferral, not a failure of the source: the next start polls it again.
    scheduler.shutdown(wait=True)
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


# --- chat commands typed into the running bot's terminal ---------------------------------------


def _may_read_stdin(fd: int) -> bool:
    """Whether reading `fd` now is safe: a pipe or a file, or a terminal this process is in
    the foreground of. A background process reading its terminal is stopped (SIGTTIN)."""
    try:
        return not os.isatty(fd) or os.tcgetpgrp(fd) == os.getpgrp()
    except OSError:  # a terminal that is not ours: leave it alone
        return False


def run_stdin_command(app: Buzzwatch, line: str, out: Output) -> None:
    """One line typed into the running bot: a chat command from the local console user.
    Its reply goes to `out`; when that is closed (the reader of stdout left), the command
    still runs, silently: typed blind, an ack or resolve still counts (said once in the log
    by `out`)."""
    text = line.strip()
    if not text:
        return
    if text.lower() in {"quit", "exit", "q"}:
        out.print("The bot keeps running: Ctrl-C stops it.")
        return
    try:
        reply = app.run_command(text)
    except Exception:  # one bad command must not end the reader
        log.exception("command %r failed", text[:80])
        return
    if app.dry_run and reply.ok and not is_read_only(text):
        reply.text += "\n(dry run: not stored; forgotten when the bot stops)"
    out.print(_reply_text(reply))
    if reply.changed:
        app.deliverer.kick()


def read_stdin_commands(
    app: Buzzwatch, fd: int, out: TextIO | Output | None, stop: threading.Event
) -> None:
    """Run each line read from `fd` as a chat command until end of file (which ends only this
    reader, not the bot) or `stop`; replies go to `out` (None: sys.stdout) for as long as it
    can be written to, and the commands go on running after it is closed. Reads the
    descriptor directly (no buffered stream whose lock a blocked daemon thread would hold at
    exit), and never while in the background of a terminal: it waits until brought to the
    foreground."""
    if not isinstance(out, Output):
        out = Output(out)
    pending = b""
    skipping = False  # dropping the rest of an over-long line
    told_background = False
    while not stop.is_set():
        if not _may_read_stdin(fd):
            if not told_background:
                log.info("in the background: not reading commands from the terminal")
                told_background = True
            stop.wait(1.0)
            continue
        try:
            ready, _, _ = select.select([fd], [], [], 0.5)
            if not ready or not _may_read_stdin(fd):
                continue
            chunk = os.read(fd, 4096)
        except (OSError, ValueError):  # the terminal went away, stdin was closed
            return
        if not chunk:
            if pending and not skipping:
                run_stdin_command(app, pending.decode("utf-8", "replace"), out)
            return
        pending += chunk
        while b"\n" in pending:
            line, pending = pending.split(b"\n", 1)
            if skipping:
                skipping = False
                continue
            run_stdin_command(app, line.decode("utf-8", "replace"), out)
        if len(pending) > MAX_STDIN_LINE:
            if not skipping:
                out.print("That line is too long: ignored.")
            pending, skipping = b"", True


def start_stdin_commands(app: Buzzwatch) -> Any:
    """Take chat commands from stdin while the bot runs, in a daemon thread; a function that
    stops it, or None when there is no stdin."""
    try:
        fd = sys.stdin.fileno() if sys.stdin is not None else -1
        os.fstat(fd)
    except (OSError, ValueError, AttributeError):
        return None
    if os.isatty(fd) and _may_read_stdin(fd):
        log.info("commands: type `help` and Enter for the list (ack, assign, resolve, status…)")
    stop = threading.Event()
    out = Output(app.stdout)  # None: sys.stdout, looked up at each print
    threading.Thread(
        target=read_stdin_commands, args=(app, fd, out, stop), name="stdin-commands", daemon=True
    ).start()
    return stop.set


def cmd_check_config(config: Config, path: Path, out: TextIO, sample: str | None = None) -> int:
    print(f"{path}: OK", file=out)
    for warning in config_warnings(config):
        print(f"  warning: {warning}", file=out)
    print(f"  data_dir: {config.data_dir}   timezone: {config.timezone}", file=out)
    for b in config.brands:
        aspects = ", ".join(f"{n}{'!' if a.critical else ''}" for n, a in b.aspects.items()) or "-"
        print(f"  brand {b.name}: keywords {', '.join(b.keywords)}; aspects {aspects}", file=out)
    print(
        f"  KOLs listed: {len(config.kols)}; follower threshold {config.rules.kol_followers:,}",
        file=out,
    )
    for s in config.sources:
        where = getattr(s, "url", None) or getattr(s, "path", None) or ""
        state = "" if s.enabled else " (disabled)"
        print(
            f"  source {s.name} [{s.type}] every {int(s.every.total_seconds())}s {where}{state}",
            file=out,
        )
    for name, d in config.destinations.items():
        print(f"  destination {name} [{d.type}]", file=out)
    print("  routes (tried in order; the first match wins unless it says continue):", file=out)
    for i, r in enumerate(config.routes):
        m = r.match.model_dump(exclude_defaults=True, by_alias=True, mode="json")
        cont = " (continue)" if r.continue_ else ""
        when = json.dumps(m, ensure_ascii=False) if m else "everything"
        print(f"    {route_label(r, i)}: {when} -> {', '.join(r.to)}{cont}", file=out)
        timers = f"group_wait {format_duration(r.group_wait)}, group_interval {format_duration(r.group_interval)}"
        burst = (
            f"storm above {r.burst.threshold} in {format_duration(r.burst.window)}"
            if r.burst
            else "no storms"
        )
        sla = (
            f"respond within {format_duration(r.respond_within)}, then escalate to {', '.join(r.escalate_to) or 'the same channel'} (at most {r.max_escalations}x)"
            if r.respond_within
            else "no response target"
        )
        print(f"      {timers}; {burst}; {sla}", file=out)
    if sample:
        print_sample_route(config, sample, out)
    return 0


def print_sample_route(config: Config, text: str, out: TextIO) -> None:
    """Which route a mention with this text would take: for checking rules before going live."""
    mention = Analyzer(config).analyze(
        Mention(id="sample", source="sample", url="", title="", text=text)
    )
    print(f"  sample: {text[:80]!r}", file=out)
    print(
        f"    brands {mention.brands or '-'}; lang {mention.lang}; sentiment {mention.sentiment:+.2f}; "
        f"flags {mention.flags or '-'}; aspects {mention.aspects or '-'}; severity {mention.severity}",
        file=out,
    )
    if not mention.brands:
        print("    -> no brand matched: not stored, no alert", file=out)
        return
    taken = Router(config.routes).routes_for(mention)
    if not taken:
        print("    -> no route matched: stored, no alert", file=out)
    for label, route in taken:
        print(f"    -> route {label} -> {', '.join(route.to)}", file=out)
    return 0


def cmd_console(app: Buzzwatch, out: TextIO) -> int:
    print("Buzzwatch console. Type `help`, or `quit` to leave.", file=out)
    while True:
        try:
            line = input("buzzwatch> ")
        except (EOFError, KeyboardInterrupt):
            print(file=out)
            return 0
        if line.strip().lower() in {"quit", "exit", "q"}:
            return 0
        if line.strip():
            _print_reply(app.run_command(line), out)
            app.deliver_now()


def cmd_classify(config: Config, args: argparse.Namespace, out: TextIO) -> int:
    from rules.classify import classify_lines

    analyzer = Analyzer(config)
    if args.brand and config.brand(args.brand) is None:
        known = ", ".join(b.name for b in config.brands)
        print(f"unknown brand {args.brand!r}; brands in the config: {known}", file=sys.stderr)
        return 2
    brand = config.brand(args.brand).name if args.brand else None
    stream = open(args.file, encoding="utf-8") if args.file else sys.stdin  # noqa: SIM115
    try:
        for line in classify_lines(stream, analyzer, brand):
            print(line, file=out, flush=True)
    finally:
        if args.file:
            stream.close()
    return 0


def _report_args(
    config: Config, args: argparse.Namespace, report: bool = False
) -> tuple[str | None, Any]:
    """--brand and --since of `digest` and `export`; ValueError with a message if wrong.
    `report`: --since within the range chat's `digest since:` takes (REPORT_SINCE)."""
    from core.domain.durations import check_report_since, parse_duration

    found = config.brand(args.brand) if args.brand else None
    if args.brand and found is None:
        known = ", ".join(b.name for b in config.brands)
        raise ValueError(f"unknown brand {args.brand!r}; brands in the config: {known}")
    since = parse_duration(args.since)
    if report:
        try:
            check_report_since(since)
        except ValueError as err:
            raise ValueError(f"--since {err}") from None
    return (found.name if found else None), since


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def _digest_summary(app: Buzzwatch, digests: int, items: list[Any]) -> str:
    """What became of this digest's own messages (one per digest and destination); other
    items the same delivery sent are not counted."""
    ids = {i.id for i in items}
    waiting = sum(1 for i in app.repo.pending_outbox() if i.id in ids)
    dead = sum(1 for i in app.repo.dead_letters() if i.id in ids)
    destinations = len({i.destination for i in items})
    text = (
        f"digest queued: {len(items)} message(s) ({_plural(digests, 'digest')} to "
        f"{_plural(destinations, 'destination')}): {len(items) - waiting - dead} sent"
    )
    if waiting:
        text += f", {waiting} still queued"
    if dead:
        text += f", {dead} failed (see the log)"
    return text


def cmd_digest(app: Buzzwatch, args: argparse.Namespace, out: TextIO) -> int:
    try:
        brand, since = _report_args(app.config, args, report=True)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if not app.dry_run:
        messages = app.digests.on_demand(since, brand)
        items = app.digests.items(messages)
        app.repo.add_outbox(items)
        app.deliver_now()
        say(_digest_summary(app, len(messages), items), out)
        return 0
    from listeners.preview import preview_notifiers

    chart = Path(args.chart) if args.chart else Path("out")
    folder = chart if chart.suffix.lower() != ".png" else chart.parent
    messages = app.digests.on_demand(since, brand, chart_dir=folder)
    notifiers, notes = preview_notifiers(app.config, app.digests.destinations(), app.context, out)
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    for m in messages:
        if m.image and chart.suffix.lower() == ".png" and len(messages) == 1:
            m.image = m.image.replace(chart)
        for notifier in notifiers.values():
            outgoing = Outgoing(action="post", message=m.message())
            notifier.send(outgoing, notifier.render(outgoing))
        where = f"chart written to {m.image}" if m.image else "no chart (see the log)"
        print(f"{m.title}: {where}", file=sys.stderr)
    return 0


def cmd_export(config: Config, args: argparse.Namespace, out: TextIO) -> int:
    from tqdm import tqdm

    from core.reports import export
    from storage.factory import effective_backend, open_repository

    try:
        brand, since = _report_args(config, args)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    repo = open_repository(
        effective_backend(config.storage, config.data_dir),
        config.data_dir,
        read_only=True,
        dsn_env=config.storage.dsn_env,
    )
    try:
        start = SystemClock().now() - since
        docs = export.select(repo.iter_mentions(start), start, brand)
    finally:
        repo.close()
    stream = open(args.output, "w", encoding="utf-8", newline="") if args.output else out  # noqa: SIM115
    bar = tqdm(total=len(docs), unit=" mentions", file=sys.stderr, disable=len(docs) < 5000)
    try:
        n = export.write(
            docs,
            args.format,
            stream,
            negative_threshold=config.rules.negative_threshold,
            positive_threshold=config.rules.positive_threshold,
            progress=bar.update,
            tz=config.tz,
        )
    finally:
        bar.close()
        if args.output:
            stream.close()
    if args.output:
        print(f"{n} mention(s) written to {args.output}", file=sys.stderr)
    return 0


def cmd_import(app: Buzzwatch, args: argparse.Namespace, out: TextIO) -> int:
    from sources.importer import import_file

    path = Path(args.file)
    if not path.is_file():
        print(f"error: {path}: no such file", file=sys.stderr)
        return 2
    try:
        process = functools.partial(app.pipeline.process, alert=args.alert)
        report = import_file(path, args.source, process, app.clock, progress=not args.no_progress)
    except (ValueError, UnicodeDecodeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    app.deliver_now()
    say(report.summary(), out)
    return 0 if report.accepted or not report.rows else 1


def cmd_migrate(config: Config, args: argparse.Namespace, out: TextIO) -> int:
    """Move a TinyDB data folder into the SQLite store; the old files stay as they are.
    With --to: copy the SQLite store into PostgreSQL, or back."""
    from tqdm import tqdm

    if args.to:
        return _migrate_between(config, args.to, args.no_progress, out)
    from storage.migrate import migrate_tinydb_folder

    bar = tqdm(unit=" records", file=sys.stderr, disable=args.no_progress)
    try:
        report = migrate_tinydb_folder(
            config.data_dir,
            SystemClock().now().isoformat(),
            progress=bar.update,
            on_total=lambda n: setattr(bar, "total", n),
        )
    finally:
        bar.close()
    db = config.data_dir / "buzzwatch.sqlite3"
    print(report.summary(db), file=out)
    if config.storage.backend != "sqlite":
        print("set `storage: {backend: sqlite}` in the config to use it", file=out)
    print(
        f"the old files in {config.data_dir} (state.json*, mentions/, seen/, alerts-archive/) "
        "are untouched: delete them once you are satisfied",
        file=out,
    )
    return 0


def _migrate_between(config: Config, to: str, no_progress: bool, out: TextIO) -> int:
    from tqdm import tqdm

    from storage.postgres_repo import PostgresRepository, dsn_from_env
    from storage.sqlite_repo import DB_NAME, SQLiteRepository
    from storage.transfer import transfer

    if to == "postgres" and not (config.data_dir / DB_NAME).exists():
        print(f"error: {config.data_dir / DB_NAME}: no SQLite store to copy", file=sys.stderr)
        return 2
    try:
        pg = PostgresRepository(dsn_from_env(config.storage.dsn_env), read_only=to == "sqlite")
    except StorageError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    # The source is opened read-only (it is only read); the target takes the writes.
    lite = SQLiteRepository(config.data_dir, read_only=to == "postgres")
    source, target = (lite, pg) if to == "postgres" else (pg, lite)
    bar = tqdm(unit=" records", file=sys.stderr, disable=no_progress)
    try:
        report = transfer(source, target, SystemClock().now().isoformat(), progress=bar.update)
    except StorageError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    finally:
        bar.close()
        lite.close()
        pg.close()
    where = f"PostgreSQL (${config.storage.dsn_env})" if to == "postgres" else config.data_dir
    print(report.summary(where), file=out)
    if config.storage.backend != to:
        print(f"set `storage: {{backend: {to}}}` in the config to use it", file=out)
    return 0


def _global_options(parser: argparse.ArgumentParser, suppress: bool) -> None:
    """The options every command takes, before or after the command's name."""
    default = {"default": argparse.SUPPRESS} if suppress else {}
    parser.add_argument(
        "--config",
        help="config file (default: $BUZZWATCH_CONFIG, ./buzzwatch.yaml, examples/config.yaml)",
        **default,
    )
    parser.add_argument(
        "--once", action="store_true", help="run one poll cycle, deliver, exit", **default
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="send nothing and change no stored state; print each message as a JSON line",
        **default,
    )
    parser.add_argument(
        "--start-empty",
        action="store_true",
        help="when state.json and its backup are both unreadable, start without the alerts "
        "and queued messages they held (alert ids carry on; none is reused)",
        **default,
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging", **default)
    parser.add_argument(
        "--log-format",
        choices=["text", "json"],
        help="json: one JSON object per log line (default: text)",
        **({"default": argparse.SUPPRESS} if suppress else {"default": "text"}),
    )
    parser.add_argument(
        "-q", "--quiet", action="store_true", help="warnings and errors only", **default
    )


def _options_among_words(args: argparse.Namespace) -> argparse.Namespace:
    """`command ack A1 --dry-run`: global options given after the words still count."""
    field = "query" if args.command == "mentions" else "words"
    common = argparse.ArgumentParser(add_help=False)
    _global_options(common, suppress=True)
    found, rest = common.parse_known_args(getattr(args, field))
    for key, value in vars(found).items():
        setattr(args, key, value)
    setattr(args, field, rest)
    return args


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bot.py",
        description="Buzzwatch: social-listening alerts. With no command, polls and alerts until Ctrl-C.",
    )
    _global_options(parser, suppress=False)
    common = argparse.ArgumentParser(add_help=False)
    _global_options(common, suppress=True)
    sub = parser.add_subparsers(dest="command")

    def add(name: str, **kwargs: Any) -> argparse.ArgumentParser:
        return sub.add_parser(name, parents=[common], **kwargs)

    add("run", help="poll and alert until Ctrl-C (the default)")
    p = add("check-config", help="validate the config and print a summary")
    p.add_argument("--sample", help="also show how a mention with this text is analysed and routed")
    add("console", help="an interactive prompt for chat commands")
    p = add("mentions", help="query stored mentions, e.g. mentions 退款 since:24h")
    p.add_argument("query", nargs=argparse.REMAINDER)
    p = add("command", help="run one chat command, e.g. command ack A3")
    p.add_argument("words", nargs=argparse.REMAINDER)
    p = add("classify", help="analyse text lines or JSON lines; one JSON result per line")
    p.add_argument("--brand", help="apply this brand's domain words and aspects")
    p.add_argument("file", nargs="?", help="input file (default: stdin)")
    p = add("digest", help="send the digest now (--dry-run: print it, write the chart)")
    p.add_argument("--brand", help="only this brand")
    p.add_argument("--since", default="24h", help="the period to cover (default 24h)")
    p.add_argument("--chart", help="where to write the PNG (default: out/ in a dry run)")
    p = add("export", help="write stored mentions as CSV or JSON lines")
    p.add_argument("--since", default="7d", help="from this long ago (default 7d)")
    p.add_argument("--format", choices=["csv", "jsonl"], default="jsonl")
    p.add_argument("--brand", help="only this brand")
    p.add_argument("--output", "-o", help="file to write (default: stdout)")
    p = add("import", help="backfill mentions from a .jsonl or .csv file")
    p.add_argument("file", help="JSON Lines or CSV (header row) in the inbound schema")
    p.add_argument(
        "--source", help="source name to file them under (default: the file's, else import)"
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument(
        "--alert",
        action="store_true",
        help="route and alert the imported mentions (default: store only)",
    )
    p = add("migrate", help="move a TinyDB data folder into the SQLite store (old files kept)")
    p.add_argument(
        "--to",
        choices=["postgres", "sqlite"],
        help="copy the SQLite store into PostgreSQL ($dsn_env), or PostgreSQL back into it",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser


def _command_text(args: argparse.Namespace) -> str:
    """The chat command line that `mentions ...` or `command ...` stands for."""
    words = args.query if args.command == "mentions" else args.words
    if len(words) == 1 and " " in words[0]:
        try:
            words = shlex.split(words[0])
        except ValueError:  # O'Brien, an unbalanced quote
            words = words[0].split()
    return shlex.join(words) if args.command == "command" else "mentions " + shlex.join(words)


def _next_to_the_bot_hint(command: str | None, text: str) -> str | None:
    """What to do instead when `command`/`console` meets a running bot's data folder."""
    if command == "command":
        name = (text.split() or ["this command"])[0][:40]
        return (
            f"  `{name}` changes stored state, so it cannot run next to the bot: "
            "type it into the running bot's terminal, or use the chat."
        )
    if command == "console":
        return (
            "  the console cannot run next to the bot: type commands into the running bot's "
            "terminal, or use the chat; read-only ones (status, sources, stats, mentions...) "
            "also work here, e.g. `python bot.py command status`."
        )
    return None


def setup_logging(verbose: bool, quiet: bool, fmt: str = "text") -> None:
    level = logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO
    logging.basicConfig(
        level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    if fmt == "json":
        from ops.logs import JsonFormatter

        for handler in logging.getLogger().handlers:
            handler.setFormatter(JsonFormatter())
    for noisy in ("httpx", "httpcore", "apscheduler.executors", "apscheduler.scheduler"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))


# Commands whose output is meant for a pipe: `python bot.py export | head` ends quietly.
PIPED_COMMANDS = {"export", "mentions", "classify", "check-config"}


def main(
    argv: Sequence[str] | None = None, out: TextIO | None = None, as_program: bool = False
) -> int:
    args = build_parser().parse_args(argv)
    if args.command in ("mentions", "command"):
        args = _options_among_words(args)
    if as_program and args.command in PIPED_COMMANDS and hasattr(signal, "SIGPIPE"):
        # Only for these: the running bot must never die of a chat client hanging up.
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    out = out or sys.stdout
    setup_logging(args.verbose, args.quiet or args.command == "classify", args.log_format)
    text = _command_text(args) if args.command in ("mentions", "command") else ""
    try:
        config, path = load_config(args.config)
        if args.command == "check-config":
            return cmd_check_config(config, path, out, args.sample)
        if args.command == "classify":
            return cmd_classify(config, args, out)
        if args.command == "export":
            return cmd_export(config, args, out)
        if args.command == "migrate":
            return cmd_migrate(config, args, out)
        log.info("config: %s", path)
        app = Buzzwatch(
            config,
            dry_run=args.dry_run,
            # Queries need no lock on the data folder: they work next to a running bot.
            read_only=args.command == "mentions"
            or (args.command == "command" and is_read_only(text)),
            # These queue work for the bot: a chat secret that is not set here must not stop them.
            offline_ok=args.command in ("command", "console", "digest", "import"),
            stdout=out,
            start_empty=args.start_empty,
        )
    except (ConfigError, StorageError) as err:
        print(f"error: {err}", file=sys.stderr)
        if isinstance(err, StorageError) and "another Buzzwatch process" in str(err):
            hint = _next_to_the_bot_hint(args.command, text)
            if hint:
                print(hint, file=sys.stderr)
        return 2
    except OSError as err:  # a file named on the command line (classify, export...)
        where = f"{err.filename}: " if err.filename else ""
        print(f"error: {where}{err.strerror or err}", file=sys.stderr)
        return 2
    try:
        if args.command == "console":
            return cmd_console(app, out)
        if args.command == "digest":
            return cmd_digest(app, args, out)
        if args.command == "import":
            return cmd_import(app, args, out)
        if args.command in ("mentions", "command"):
            reply = app.run_command(text)
            if app.dry_run and reply.ok and not is_read_only(text):
                reply.text += "\n(dry run: not stored)"
            _print_reply(reply, out)
            if reply.changed:
                app.deliver_now()
            return 0 if reply.ok else 1
        return cmd_run(app, args)
    except StorageError as err:  # a write failed (a full disk): the error names the file
        print(f"error: {err}", file=sys.stderr)
        return EXIT_STORAGE_FAILED
    finally:
        app.close()


if __name__ == "__main__":
    sys.exit(main(as_program=True))
