"""Response SLAs and snooze expiry: an unanswered alert comes back.

Per route, `respond_within` is the target. An alert nobody has acked by then is
re-announced in its thread; one `respond_within` later it is escalated (posted to the
route's `escalate_to` destinations), and again each period after, at most
`max_escalations` times. A snoozed alert wakes up when its snooze ends, and its SLA clock
starts again from then.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from core.alerting.lifecycle import outbox_items
from core.alerting.routing import route_label
from core.config import Config, RouteConfig
from core.delivery.hold import queued_posts
from core.domain.clock import Clock
from core.domain.durations import format_duration
from core.domain.models import Alert, OutboxItem, SlaView, Status, from_iso, to_iso
from core.domain.repository import Repository

log = logging.getLogger("buzzwatch.sla")


@dataclass
class SlaReport:
    reminded: int = 0
    escalated: int = 0
    woken: int = 0


def step_due(alert: Alert | SlaView, route: RouteConfig, now: datetime) -> bool:
    """Whether the alert's next SLA step (a reminder, then each escalation) is due now."""
    if route.respond_within is None or alert.escalations >= 1 + route.max_escalations:
        return False
    start = from_iso(alert.sla_from or alert.created_at) or now
    return now >= start + route.respond_within * (alert.escalations + 1)


class SlaWatcher:
    def __init__(self, config: Config, repo: Repository, clock: Clock) -> None:
        self.repo = repo
        self.clock = clock
        self.routes = {route_label(r, i): r for i, r in enumerate(config.routes)}

    def check(self) -> SlaReport:
        """Remind, escalate and wake what is due. No storage lock held over the check
        (issue 16: an ack waited for it): each step re-checks, in change_alert (which holds
        the alert's row, or the store's lock, for that one change), that the alert is still
        due; so of processes that all found it due, one reminds or escalates it, once."""
        report = SlaReport()
        now = self.clock.now()
        stamp = to_iso(now) or ""
        # Narrow rows of only the alerts it may act on, from the store (issue 15: parsing
        # every open alert every 30 s held a busy store's alerts in memory).
        with_sla = {n for n, r in self.routes.items() if r.respond_within is not None}
        for alert in self.repo.sla_candidates(with_sla, stamp):
            if alert.status == Status.SNOOZED:
                self._wake(alert.id, report)
                continue
            route = self.routes.get(alert.route)
            if route is None or route.respond_within is None:
                continue
            if step_due(alert, route, now):
                self._step(alert.id, route, report)
        return report

    def _wake(self, alert_id: str, report: SlaReport) -> None:
        def change(a: Alert) -> bool:
            now = self.clock.now()
            ends = from_iso(a.snoozed_until)
            if a.status != Status.SNOOZED or (ends is not None and ends > now):
                return False  # woken (and snoozed again?) by another process meanwhile
            a.status = Status.ACKED.value if a.acked_by else Status.OPEN.value
            a.snoozed_until = ""
            a.sla_from = to_iso(now) or ""
            a.escalations = 0
            a.record(now, "snooze ended", by="buzzwatch", via="sla")
            return True

        def sends(a: Alert, changed: bool) -> list[OutboxItem]:
            return (
                outbox_items(
                    a, "update", self.clock.now(), f"{a.id}: snooze ended, it needs a person again."
                )
                if changed
                else []
            )

        if self.repo.change_alert(alert_id, change, sends):
            report.woken += 1

    def _step(self, alert_id: str, route: RouteConfig, report: SlaReport) -> None:
        assert route.respond_within is not None  # routes without an SLA have no steps
        now = self.clock.now()
        target = format_duration(route.respond_within)

        def change(a: Alert) -> str:
            if a.status != Status.OPEN or not step_due(a, route, now):
                return ""  # (acked, or stepped by another process, meanwhile)
            a.escalations += 1
            if a.escalations == 1:
                a.record(
                    now,
                    "reminded",
                    by="buzzwatch",
                    via="sla",
                    detail=f"no response within {target}",
                )
                return "remind"
            new = [d for d in route.escalate_to if d not in a.destinations]
            a.destinations = [*a.destinations, *new]
            a.record(
                now,
                "escalated",
                by="buzzwatch",
                via="sla",
                detail=", ".join(route.escalate_to) or "-",
            )
            return "escalate"

        def sends(a: Alert, step: str) -> list[OutboxItem]:
            waited = format_duration(now - (from_iso(a.sla_from or a.created_at) or now))
            if step == "remind":
                return [
                    OutboxItem(
                        "",
                        d,
                        "reply",
                        {
                            "kind": "note",
                            "text": f"⏰ {a.id} has had no response for {waited} (target {target}).",
                        },
                        to_iso(now) or "",
                        a.id,
                    )
                    for d in a.destinations
                ]
            if step == "escalate":
                note = f"🚨 {a.id} escalated: no response for {waited} (target {target}). Escalation {a.escalations - 1} of {route.max_escalations}."
                queued = queued_posts(self.repo.pending_outbox())
                items = []
                for d in a.destinations:
                    if d in route.escalate_to and d not in a.messages and (a.id, d) not in queued:
                        items.append(
                            OutboxItem(
                                "",
                                d,
                                "post",
                                {"kind": "alert", "alert_id": a.id},
                                to_iso(now) or "",
                                a.id,
                            )
                        )
                    items.append(
                        OutboxItem(
                            "", d, "reply", {"kind": "note", "text": note}, to_iso(now) or "", a.id
                        )
                    )
                return items
            return []

        step = self.repo.change_alert(alert_id, change, sends)
        if step == "remind":
            report.reminded += 1
        elif step == "escalate":
            report.escalated += 1
            log.warning("alert %s escalated on route %s", alert_id, route.name or "?")
