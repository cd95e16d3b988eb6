"""One poll cycle's mentions -> analysis -> routing -> alerts -> storage, in one batch.

Nothing leaves the process here: alerts and their sends are stored (the outbox) and the
delivery worker sends them. A mention seen before is skipped, also after a restart.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

from core.alerting.grouping import AlertMaker, Batch
from core.alerting.routing import Router
from core.config import Config
from core.domain.clock import Clock
from core.domain.models import Alert, Mention, to_iso
from core.domain.repository import Repository
from rules.analyze import Analyzer

log = logging.getLogger("buzzwatch.pipeline")


@dataclass
class CycleResult:
    source: str
    fetched: int = 0
    new: int = 0
    matched: int = 0
    alerts: list[Alert] = field(default_factory=list)
    grouped: int = 0


class Pipeline:
    def __init__(
        self, config: Config, repo: Repository, analyzer: Analyzer, router: Router, clock: Clock
    ) -> None:
        self.config = config
        self.maker = AlertMaker(config, router)
        self.repo = repo
        self.analyzer = analyzer
        self.router = router
        self.clock = clock
        # Cycles from several sources may finish at once; grouping must see each other's alerts.
        self._lock = threading.Lock()

    def process(
        self, source: str, mentions: list[Mention], alert: bool = True, backlog: bool = False
    ) -> CycleResult:
        """With alert=False (a backfill), mentions are analysed and stored, and no alert is made.
        With backlog=True (a source's first poll), alerts are made, each on its own: what had
        piled up before Buzzwatch looked is not a burst."""
        with self._lock:
            return self._process(source, mentions, alert, backlog)

    def _process(
        self, source: str, mentions: list[Mention], alert: bool, backlog: bool
    ) -> CycleResult:
        result = CycleResult(source=source, fetched=len(mentions))
        by_id = {m.id: m for m in mentions}
        unseen = self.repo.unseen(by_id)
        result.new = len(unseen)
        matched = []
        # The encoder reads the cycle's unsure posts in batches, within a time budget.
        found = self.analyzer.prepare([by_id[i] for i in unseen])
        for i, brands in zip(unseen, found, strict=True):
            m = self.analyzer.analyze(by_id[i], only_brands=True, encode=False, matched=brands)
            if m.brands:
                matched.append(m)
                log.debug(
                    "mention %s %.60r: brands=%s lang=%s sentiment=%+.2f flags=%s severity=%s",
                    m.id,
                    m.title or m.text,
                    m.brands,
                    m.lang,
                    m.sentiment,
                    m.flags,
                    m.severity,
                )
            else:
                log.debug(
                    "mention %s %.60r: no brand keyword matched; remembered as seen",
                    i,
                    by_id[i].title or by_id[i].text,
                )
        result.matched = len(matched)

        now = self.clock.now()
        # Grouping reads alerts, changes them and writes them back: under the storage lock,
        # so an ack or a delivery record made meanwhile is not overwritten.
        with self.repo.locked():
            batch = Batch()
            if matched and alert:
                # Routing first: only the mentions a route takes are grouped, so only theirs
                # need a dedup key and a fingerprint (most of a busy cycle's route nowhere).
                silences = self.repo.get_state("silences", []) or []
                routing = self.maker.route(matched, silences, now)
                batch.silenced = routing.silenced
                if routing.routed:
                    # Only what grouping can use: recent alerts, open ones of these mentions'
                    # stories, open storms, and open alerts a route's burst still counts.
                    horizon = to_iso(now - self.config.grouping.window) or ""
                    bursts = [r.burst.window for r in self.config.routes if r.burst]
                    counted = to_iso(now - max(bursts)) if bursts else horizon
                    grouping = self.config.grouping
                    fps = [r.fingerprint for r in routing.routed] if grouping.enabled else []
                    candidates = self.repo.grouping_candidates(
                        {r.key for r in routing.routed},
                        horizon,
                        counted or horizon,
                        near=(fps, grouping.max_distance),
                    )
                    batch = self.maker.make(
                        matched,
                        candidates,
                        self.repo.pending_outbox(),
                        silences,
                        self.repo.next_alert_ids,
                        now,
                        backlog=backlog,
                        routing=routing,
                    )
            self.repo.save_cycle(matched, unseen, batch.new + batch.changed, batch.outbox)
        result.alerts = [a for a in batch.new if not a.storm_of]
        result.grouped = batch.grouped
        log.info(
            "source=%s fetched=%d new=%d matched=%d alerts=%d grouped=%d stormed=%d silenced=%d%s",
            source,
            result.fetched,
            result.new,
            result.matched,
            len(result.alerts),
            batch.grouped,
            batch.folded_into_bursts,
            batch.silenced,
            " (first poll: a backlog, not a burst)" if backlog and batch.new else "",
        )
        return result
