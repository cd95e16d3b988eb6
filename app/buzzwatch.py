"""The composition root: everything built from one config, wired together."""

from __future__ import annotations

import logging
import os
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, timedelta
from typing import TextIO

from app.jobs import JobRegistry
from app.queries import open_store
from core.alerting.lifecycle import AlertService
from core.alerting.routing import Router
from core.alerting.sla import SlaWatcher
from core.alerting.views import set_display_timezone
from core.commands.context import Actor, Reply
from core.commands.service import CommandService
from core.config import Config, ConfigError
from core.delivery.worker import Deliverer, DeliveryReport
from core.domain.clock import Clock, SystemClock
from core.domain.notifier import Notifier
from core.intake.health import HealthMonitor
from core.intake.pipeline import Pipeline
from core.intake.polling import Poller, PollOutcome
from core.reports.digest_service import RETRY_EVERY, DigestService
from core.reports.storms import StormWatch
from listeners.context import NotifierContext, Secrets
from rules.analyze import Analyzer

log = logging.getLogger("buzzwatch")

# Resolved alerts (with nothing left to send) are archived after this long: the reads of
# current alerts skip them (TinyDB moves them out of its state file, rewritten on every ack;
# the SQL stores mark them). The digest looks back a week; get_alert still finds them.
ARCHIVE_AFTER = timedelta(days=14)
ARCHIVE_EVERY = timedelta(hours=1)
SLA_EVERY_SECONDS = 30
SLA_GRACE = timedelta(minutes=5)  # an SLA check up to this late is still run


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
        from listeners import build_notifier, build_permission
        from listeners.console import DryRunNotifier
        from sources.build import build_sources
        from sources.http import Fetcher

        self.config = config
        self.dry_run = dry_run
        set_display_timezone(config.tz)
        self.clock = clock or SystemClock()
        self.stdout = stdout
        self.backend, self.repo = open_store(
            config, self.clock, read_only=dry_run or read_only, start_empty=start_empty
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
        """Housekeeping: alerts resolved ARCHIVE_AFTER ago are archived; how many."""
        return self.repo.archive_alerts(self.clock.now() - ARCHIVE_AFTER)

    def register_jobs(self, jobs: JobRegistry) -> None:
        """The services' periodic jobs (the run loop adds one poll job per source)."""
        jobs.every(
            "sla", timedelta(seconds=SLA_EVERY_SECONDS), self.sla.check, misfire_grace=SLA_GRACE
        )
        register_daily_digest(jobs, self.digests)
        # The storm watch counts stored mentions, which change only when a poll stores some:
        # it runs after each poll (as it always has), throttled to storms.check_every by
        # check_if_due, rather than on a clock of its own that would mostly see no change.
        jobs.after_each_poll("storms", self.storms.check_if_due)
        # (at start the first poll of every source keeps the job threads busy: late, the
        # archive still runs rather than wait an hour; bench/scale.py saw it dropped)
        jobs.every(
            "archive",
            ARCHIVE_EVERY,
            self.archive,
            first_run=self.clock.now(),
            misfire_grace=ARCHIVE_EVERY / 2,
        )

    def close(self) -> None:
        from sources import parsing

        parsing.close()  # the feed-parsing workers, if any were started
        self.pipeline.close()  # the analysis workers, if a big batch started them
        self.http.close()
        self.repo.close()
        set_display_timezone(UTC)


def register_daily_digest(jobs: JobRegistry, digests: DigestService) -> None:
    """The daily digest, at its time in its timezone, when the config enables it."""
    if not digests.config.digest.enabled:
        return
    # The grace is hours, not APScheduler's default of one second, so a late wake-up still
    # sends; the stored "sent for" mark makes any second run a no-op. (The start-up catch-up
    # is a plain run_due, which the run loop calls once the first poll cycle is stored.)
    jobs.daily(
        "digest",
        digests.at,
        digests.tz,
        digests.run_due_logged,
        misfire_grace=digests.config.digest.grace,
    )
    jobs.every("digest-retry", RETRY_EVERY, digests.retry_failed, misfire_grace=RETRY_EVERY)
