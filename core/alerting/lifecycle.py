"""Alerts: made from routed mentions, then moved through their lifecycle by people.

Every change is a compare-and-set under the repository's lock, records who, when and from
where, and queues the message updates (and a thread note) for every destination the alert
was posted to, in the same write.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from core.alerting.views import local_time
from core.domain import telemetry
from core.domain.clock import Clock
from core.domain.models import Alert, Mention, OutboxItem, Status, from_iso, mention_summary, to_iso
from core.domain.repository import Repository
from rules.titles import normalized, says_nothing, story_title

ACTIVE = {Status.OPEN, Status.ACKED, Status.ASSIGNED, Status.SNOOZED}


def dedup_key(mention: Mention) -> str:
    """The same story for the same brand: syndicated copies share a title. A title that
    cannot tell stories apart (转发微博, the author's name, "Acme 差评") is no key: the text
    is, and a mention with neither is a story of its own."""
    brand = mention.brands[0] if mention.brands else ""
    if story_title(mention.title, mention.author, mention.brands):
        basis = normalized(mention.title, mention.author)  # = normalize(the title)
    else:  # (the text is only read when the title is no key)
        text = mention.text[:200]
        basis = "" if says_nothing(text, mention.author) else normalized(text, mention.author)
    basis = basis or f"id|{mention.id}"
    return hashlib.sha1(f"{brand}|{basis}".encode()).hexdigest()[:16]


def new_alert(
    alert_id: str,
    mention: Mention,
    route: str,
    destinations: list[str],
    now: datetime,
    key: str = "",
) -> Alert:
    """`key`: the mention's dedup_key, when the caller has it already."""
    alert = Alert(
        id=alert_id,
        mention_id=mention.id,
        brand=mention.brands[0] if mention.brands else "",
        severity=mention.severity,
        flags=list(mention.flags),
        destinations=list(destinations),
        created_at=to_iso(now) or "",
        dedup_key=key or dedup_key(mention),
        route=route,
        summary=mention_summary(mention),
    )
    alert.record(now, "opened", by="buzzwatch", via="pipeline", detail=route)
    return alert


def outbox_items(alert: Alert, action: str, now: datetime, note: str = "") -> list[OutboxItem]:
    """The sends an alert needs at each of its destinations."""
    stamp = to_iso(now) or ""
    items = []
    for dest in alert.destinations:
        if action == "post":
            items.append(
                OutboxItem(
                    "", dest, "post", {"kind": "alert", "alert_id": alert.id}, stamp, alert.id
                )
            )
        else:
            items.append(
                OutboxItem(
                    "", dest, "update", {"kind": "alert", "alert_id": alert.id}, stamp, alert.id
                )
            )
            if note:
                items.append(
                    OutboxItem("", dest, "reply", {"kind": "note", "text": note}, stamp, alert.id)
                )
    return items


@dataclass
class ActionResult:
    ok: bool
    text: str
    alert: Alert | None = None
    changed: bool = False
    found: bool = True  # False: no such alert (archived ones are found)


# Whether this change may be made to this alert: None to allow, or a refusal to show (who
# may change it: the commands' permission), checked on the alert as read for the change.
Allowed = Callable[[Alert], str | None]


class Refused(Exception):
    """A lifecycle change that does not apply (already acked, resolved...)."""


class _Denied(Exception):
    """The `allowed` check refused: its text, and the alert as read."""

    def __init__(self, text: str, alert: Alert) -> None:
        super().__init__(text)
        self.alert = alert


def _who(name: str) -> str:
    return name or "someone"


def _refuse_if_resolved(a: Alert, wording: str) -> None:
    if a.status == Status.RESOLVED:
        raise Refused(f"{a.id} {wording} resolved by {_who(a.resolved_by)}.")


class AlertService:
    def __init__(self, repo: Repository, clock: Clock) -> None:
        self.repo = repo
        self.clock = clock

    def _apply(
        self,
        alert_id: str,
        change: Callable[[Alert, datetime], Alert],
        note: Callable[[Alert], str],
        allowed: Allowed | None = None,
    ) -> ActionResult:
        """The change made in one read and write of the alert (change_alert), `allowed`
        checked first on the alert it reads."""
        now = self.clock.now()
        acked_before: list[str] = []  # (for the time-to-ack metric: a first response?)

        def run(a: Alert) -> Alert:
            refusal = allowed(a) if allowed is not None else None
            if refusal:
                raise _Denied(refusal, a)
            acked_before.append(a.acked_at)
            return change(a, now)

        def sends(a: Alert, _: Alert) -> list[OutboxItem]:
            items = outbox_items(a, "update", now, note(a))
            burst = self.repo.get_alert(a.storm_of) if a.storm_of else None
            if burst is not None:  # its message is the burst's: update that, note under it
                items += outbox_items(burst, "update", now, note(a))
            return items

        try:
            result = self.repo.change_alert(alert_id, run, outbox=sends)
        except _Denied as why:
            return ActionResult(False, str(why), why.alert)
        except Refused as why:
            return ActionResult(False, str(why), self.repo.get_alert(alert_id))
        if result is None:
            archived = self.repo.get_alert(alert_id)
            refusal = allowed(archived) if archived is not None and allowed is not None else None
            if archived is not None and refusal:
                return ActionResult(False, refusal, archived)
            if archived is not None:
                when = archived.resolved_at[:10]
                return ActionResult(
                    False,
                    f"{archived.id} was resolved by {_who(archived.resolved_by)} on {when} and is archived.",
                    archived,
                )
            return ActionResult(
                False,
                f"No alert {alert_id}. Alert ids look like A12; `status` lists open ones.",
                found=False,
            )
        telemetry.alert_changed(
            result, now, first_response=not acked_before[-1] and bool(result.acked_at)
        )
        return ActionResult(True, note(result), result, changed=True)

    def ack(self, alert_id: str, by: str, via: str, allowed: Allowed | None = None) -> ActionResult:
        def change(a: Alert, now: datetime) -> Alert:
            _refuse_if_resolved(a, "is already")
            if a.acked_by:
                acked = f"acked by {a.acked_by} at {local_time(a.acked_at, '%H:%M')}"
                if a.assignee:
                    raise Refused(f"{a.id} is already assigned to {a.assignee} ({acked}).")
                raise Refused(f"{a.id} was already {acked}.")
            a.status = Status.ACKED.value
            a.acked_by, a.acked_at = by, to_iso(now) or ""
            a.snoozed_until = ""
            a.record(now, "acked", by, via)
            return a

        return self._apply(alert_id, change, lambda a: f"{a.id} acked by {by}.", allowed)

    def assign(
        self, alert_id: str, person: str, by: str, via: str, allowed: Allowed | None = None
    ) -> ActionResult:
        def change(a: Alert, now: datetime) -> Alert:
            _refuse_if_resolved(a, "is already")
            if a.assignee == person:
                raise Refused(f"{a.id} is already assigned to {person}.")
            a.status = Status.ASSIGNED.value
            a.assignee = person
            if not a.acked_by:  # taking it on counts as the response
                a.acked_by, a.acked_at = by, to_iso(now) or ""
            a.snoozed_until = ""
            a.record(now, "assigned", by, via, detail=person)
            return a

        return self._apply(
            alert_id, change, lambda a: f"{a.id} assigned to {person} by {by}.", allowed
        )

    def resolve(
        self, alert_id: str, by: str, via: str, allowed: Allowed | None = None
    ) -> ActionResult:
        def change(a: Alert, now: datetime) -> Alert:
            _refuse_if_resolved(a, "was already")
            a.status = Status.RESOLVED.value
            a.resolved_by, a.resolved_at = by, to_iso(now) or ""
            if not a.acked_by:
                a.acked_by, a.acked_at = by, to_iso(now) or ""
            a.snoozed_until = ""
            a.record(now, "resolved", by, via)
            return a

        return self._apply(alert_id, change, lambda a: f"{a.id} resolved by {by}.", allowed)

    def snooze(
        self,
        alert_id: str,
        duration: timedelta,
        by: str,
        via: str,
        allowed: Allowed | None = None,
    ) -> ActionResult:
        def change(a: Alert, now: datetime) -> Alert:
            _refuse_if_resolved(a, "is already")
            a.status = Status.SNOOZED.value
            a.snoozed_until = to_iso(now + duration) or ""
            a.record(now, "snoozed", by, via, detail=a.snoozed_until)
            return a

        def note(a: Alert) -> str:
            until = from_iso(a.snoozed_until)
            return (
                f"{a.id} snoozed by {by} until {local_time(until)}."
                if until
                else f"{a.id} snoozed."
            )

        return self._apply(alert_id, change, note, allowed)
