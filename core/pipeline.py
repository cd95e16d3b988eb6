"""One poll cycle's mentions -> analysis -> routing -> alerts -> storage, in one batch.

Nothing leaves the process here: alerts and their sends are stored (the outbox) and the
delivery worker sends them. A mention seen before is skipped, also after a restart.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

from core.alerts import ACTIVE, dedup_key, new_alert, outbox_items
from core.clock import Clock
from core.models import Alert, Mention, OutboxItem, Status, mention_summary
from core.repository import Repository
from core.routing import Router
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
    def __init__(self, repo: Repository, analyzer: Analyzer, router: Router, clock: Clock) -> None:
        self.repo = repo
        self.analyzer = analyzer
        self.router = router
        self.clock = clock
        # Cycles from several sources may finish at once; grouping must see each other's alerts.
        self._lock = threading.Lock()

    def process(self, source: str, mentions: list[Mention]) -> CycleResult:
        with self._lock:
            return self._process(source, mentions)

    def _process(self, source: str, mentions: list[Mention]) -> CycleResult:
        result = CycleResult(source=source, fetched=len(mentions))
        by_id = {m.id: m for m in mentions}
        unseen = self.repo.unseen(by_id)
        result.new = len(unseen)
        matched = [m for m in (self.analyzer.analyze(by_id[i]) for i in unseen) if m.brands]
        result.matched = len(matched)

        now = self.clock.now()
        routed = [(m, *self.router.destinations_for(m)) for m in matched]
        routed = [(m, route, dests) for m, route, dests in routed if dests]
        open_by_key: dict[str, Alert] = {}
        if routed:
            open_by_key = {
                a.dedup_key: a
                for a in self.repo.find_alerts(
                    lambda a: a.status in ACTIVE or a.status == Status.RESOLVED
                )
            }
        new_alerts: list[Alert] = []
        changed: list[Alert] = []
        outbox: list[OutboxItem] = []
        fresh = [(m, r, d) for m, r, d in routed if dedup_key(m) not in open_by_key]
        ids = iter(self.repo.next_alert_ids(len(fresh)) if fresh else [])
        for mention, route, dests in routed:
            key = dedup_key(mention)
            existing = open_by_key.get(key)
            if existing is None:
                alert = new_alert(next(ids), mention, route, dests, now)
                open_by_key[key] = alert
                new_alerts.append(alert)
                outbox += outbox_items(alert, "post", now)
                continue
            # The same story again: count it on the alert people already have.
            result.grouped += 1
            existing.count += 1
            existing.similar = [*existing.similar, mention_summary(mention)["url"]][-20:]
            note = f"{existing.id}: +1 similar mention ({mention.source})"
            if existing.status == Status.RESOLVED:
                existing.status = Status.OPEN.value
                existing.resolved_by = existing.resolved_at = ""
                existing.acked_by = existing.acked_at = ""
                existing.record(now, "reopened", by="buzzwatch", via="pipeline", detail=mention.id)
                note = (
                    f"{existing.id} reopened: a new mention of a resolved story ({mention.source})"
                )
            if existing not in changed and existing not in new_alerts:
                changed.append(existing)
            if existing not in new_alerts:
                outbox += outbox_items(existing, "update", now, note)
        result.alerts = new_alerts
        self.repo.save_cycle(matched, unseen, new_alerts + changed, outbox)
        log.info(
            "source=%s fetched=%d new=%d matched=%d alerts=%d grouped=%d",
            source,
            result.fetched,
            result.new,
            result.matched,
            len(new_alerts),
            result.grouped,
        )
        return result
