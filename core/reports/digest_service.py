"""Sending digests: the daily one exactly once per date, and on demand.

The daily digest for local date D covers [D-1 time, D time). The mark "sent for D" is
stored in the same write as the outbox items it stands for, so a crash leaves either both
or neither: a restart, a late wake-up or a second scheduler thread sends it once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from core.config import Config
from core.domain.clock import Clock
from core.domain.durations import format_duration
from core.domain.models import OutboxItem, to_iso
from core.domain.repository import Repository
from core.reports.digest import (
    Digest,
    Period,
    compute_digest,
    daily_period,
    local_moment,
    parse_hhmm,
    rolling_period,
)
from core.reports.digest_text import digest_text, digest_title

log = logging.getLogger("buzzwatch.digest")

STATE_KEY = "digest"
# After a failed run (the store unreachable at the digest's time: a database restarting at
# 09:00), tried again this often until it goes out or its grace is over; else that day's
# digest waited for a restart, and none came.
RETRY_EVERY = timedelta(minutes=5)
CHART_FOLDER = "digests"  # in the data folder


@dataclass
class DigestMessage:
    title: str
    text: str
    image: Path | None
    digest: Digest

    def message(self) -> dict[str, Any]:
        """The outbox message ("text" kind): every notifier knows how to render it. It
        carries the Chinese wording too (`zh`), which the DingTalk side shows."""
        msg: dict[str, Any] = {"kind": "text", "title": self.title, "text": self.text}
        msg["zh"] = {
            "title": digest_title(self.digest, "zh"),
            "text": digest_text(self.digest, "zh"),
        }
        if self.image is not None:
            msg["image"] = str(self.image)
        return msg


class DigestService:
    def __init__(
        self,
        config: Config,
        repo: Repository,
        clock: Clock,
        chart_dir: Path | None = None,
        charts: bool = True,
    ) -> None:
        self.config = config
        self.repo = repo
        self.clock = clock
        # None: charts are kept in the data folder, through the repository (so a read-only
        # one, a dry run, writes none); a folder: the one a user named (`digest --chart`).
        self.chart_dir = chart_dir
        self.charts = charts
        self.tz = config.digest_tz
        self.at = parse_hhmm(config.digest.time)
        self.failed = False  # the last scheduled run raised: retry_failed() runs it again

    # --- what a digest says -----------------------------------------------------------------

    def compute(self, period: Period, brand: str | None) -> Digest:
        wanted = brand.casefold() if brand else None
        earliest = min(period.start - period.span, period.start - timedelta(days=7))
        # Records are filed by the UTC day they were said: ask from the UTC day of the earliest instant.
        mentions = self.repo.iter_mentions(earliest.astimezone(UTC))
        # A page at a time (issue 15: a list of every alert of the last two weeks, 60k on a
        # busy store, peaked at hundreds of MB once a day).
        alerts = (a for a in self.repo.iter_alerts() if not wanted or a.brand.casefold() == wanted)
        rules = self.config.rules
        return compute_digest(
            mentions,
            alerts,
            period,
            self.clock.now(),
            brand=brand,
            negative_threshold=rules.negative_threshold,
            positive_threshold=rules.positive_threshold,
            top=self.config.digest.top,
        )

    def brands_for(self, brand: str | None) -> list[str | None]:
        if brand:
            return [brand]
        if self.config.digest.per_brand:
            return [b.name for b in self.config.brands]
        return [None]

    def build(
        self, period: Period, brand: str | None = None, chart_dir: Path | None = None
    ) -> list[DigestMessage]:
        out = []
        for name in self.brands_for(brand):
            d = self.compute(period, name)
            image = self._chart(d, chart_dir or self.chart_dir) if self.charts else None
            out.append(DigestMessage(digest_title(d), digest_text(d), image, d))
        return out

    def _chart(self, d: Digest, folder: Path | None) -> Path | None:
        slug = "".join(c if c.isalnum() else "-" for c in (d.brand or "all"))[:40]
        name = f"digest-{slug}-{d.period.end:%Y%m%d-%H%M}.png"
        try:
            from core.reports import chart as digest_chart

            if folder is not None:
                return digest_chart.render_chart(d, folder / name)
            saved = self.repo.save_file(f"{CHART_FOLDER}/{name}", digest_chart.chart_png(d))
        except Exception as err:  # the text goes out without the picture
            log.warning("digest chart not drawn: %s: %s", type(err).__name__, err)
            return None
        if saved is None:
            log.info("digest chart not kept: the data folder is read-only (dry run)")
        return saved

    def destinations(self) -> list[str]:
        return list(self.config.digest.destinations or self.config.destinations)

    def items(self, messages: list[DigestMessage]) -> list[OutboxItem]:
        stamp = to_iso(self.clock.now()) or ""
        return [
            OutboxItem("", dest, "post", m.message(), stamp)
            for m in messages
            for dest in self.destinations()
        ]

    # --- the daily schedule -----------------------------------------------------------------

    def moment(self, day: date) -> datetime:
        return local_moment(day, self.at, self.tz)

    def latest_due(self, now: datetime) -> date:
        """The local date of the latest digest time at or before `now`."""
        today = now.astimezone(self.tz).date()
        return today if self.moment(today) <= now else today - timedelta(days=1)

    def sent_for(self) -> date | None:
        state = self.repo.get_state(STATE_KEY) or {}
        value = state.get("sent_for") if isinstance(state, dict) else None
        return date.fromisoformat(value) if value else None

    def due(self, now: datetime) -> date | None:
        """The date whose digest should go out now, if any."""
        if not self.config.digest.enabled:
            return None
        day = self.latest_due(now)
        sent = self.sent_for()
        if sent is not None and sent >= day:
            return None
        late = now - self.moment(day)
        if late > self.config.digest.grace:
            log.info("%s", self.not_due_text(day, sent, late, now))
            return None
        return day

    def not_due_text(self, day: date, sent: date | None, late: timedelta, now: datetime) -> str:
        """Why no digest goes out now, and when the next one does, for the log. A first
        start after the digest time used to say "digest for <today> skipped: 10h27m late",
        which read as a fault; so did any start in the hours before it ("23h late")."""
        following = self.moment(day + timedelta(days=1))
        today = now.astimezone(self.tz).date()
        on = {today: "today", today + timedelta(days=1): "tomorrow"}.get(
            following.date(), f"on {following:%a %d %b}"
        )
        zone = getattr(self.tz, "key", None) or str(self.tz)
        upcoming = f"{following:%H:%M} {on} ({zone})"
        if sent is None:
            return (
                f"daily digest: none sent yet; the first goes out at {upcoming}, for the "
                "24 hours before it (`digest` in the chat, or `python bot.py digest --dry-run`, "
                "shows one now)"
            )
        return (
            f"daily digest for {day} not sent: the bot was not running at its time "
            f"({self.at:%H:%M}), {format_duration(late)} ago, longer than digest.grace "
            f"({format_duration(self.config.digest.grace)}); the next goes out at {upcoming}"
        )

    def run_due(self) -> date | None:
        """Queue the daily digest if it is due and not yet sent; the date queued, or None.

        Called by the scheduler at the digest time and at start-up (the catch-up). Built
        under the digest's job lock only, not the storage lock (issue 16: a week of mentions
        read on a big store kept every ack waiting seconds): one thread of all the processes
        sharing the store builds it while the others wait there, not at the storage lock. The
        storage lock is held for the check-and-queue alone: if the digest of that day was
        queued meanwhile (by a process not waiting at the job lock), this one is dropped."""
        with self.repo.job_lock(STATE_KEY):
            now = self.clock.now()
            day = self.due(now)
            if day is None:
                return None
            messages = self.build(daily_period(day, self.at, self.tz))
            with self.repo.locked():
                sent = self.sent_for()
                if sent is not None and sent >= day:
                    log.info("digest for %s was queued meanwhile: this one is dropped", day)
                    return None
                mark = {"sent_for": day.isoformat(), "queued_at": to_iso(now)}
                self.repo.add_outbox(self.items(messages), state={STATE_KEY: mark})
            log.info(
                "digest for %s queued: %d message(s) to %s",
                day,
                len(messages),
                ", ".join(self.destinations()) or "no destination",
            )
            return day

    # --- on demand --------------------------------------------------------------------------

    def on_demand(
        self, since: timedelta, brand: str | None = None, chart_dir: Path | None = None
    ) -> list[DigestMessage]:
        return self.build(rolling_period(self.clock.now(), since, self.tz), brand, chart_dir)

    # --- the daily job (registered by the app: app/buzzwatch.py register_jobs) ---------------

    def run_due_logged(self) -> None:
        try:
            self.run_due()
        except Exception:  # logged; tried again every RETRY_EVERY while within its grace
            self.failed = True
            log.exception(
                "daily digest failed; trying again in %d minutes", RETRY_EVERY.seconds // 60
            )
        else:
            self.failed = False

    def retry_failed(self) -> None:
        """Run the digest again if its last run failed (run_due sends it once, if it is
        still due: a no-op once it went out or its grace is over)."""
        if self.failed:
            self.run_due_logged()
