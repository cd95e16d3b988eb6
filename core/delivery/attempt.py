"""The attempt stage: render one outbox item for its destination and send it.

A message that cannot be rendered goes to the dead letters (a batch first sheds the alerts
that cannot be rendered on their own and goes with the others); a notifier that crashes
counts as a retryable failure. The retry stage records every outcome.
"""

from __future__ import annotations

import logging
from typing import Any

from core.delivery.deadletter import poisoned_members, render_failure, store_dead_letters
from core.delivery.recording import Recorder
from core.delivery.retry import Retry
from core.domain.clock import Clock
from core.domain.models import Alert, OutboxItem, OutboxStatus, to_iso
from core.domain.notifier import Delivery, Notifier, Outgoing
from core.domain.repository import Repository

log = logging.getLogger("buzzwatch.outbox")


class Attempt:
    def __init__(
        self,
        repo: Repository,
        notifiers: dict[str, Notifier],
        clock: Clock,
        recorder: Recorder,
        retry: Retry,
    ) -> None:
        self.repo = repo
        self.notifiers = notifiers
        self.clock = clock
        self.recorder = recorder
        self.retry = retry

    def run(self, item: OutboxItem, alert: Alert | None) -> OutboxStatus:
        """Try `item` once (`alert`: the alert it is about, as stored now)."""
        finish = self.retry.finish
        notifier = self.notifiers.get(item.destination)
        if notifier is None:
            return finish(
                item,
                Delivery(
                    ok=False,
                    retryable=False,
                    error=f"no destination named {item.destination!r} in the config",
                ),
            )
        kind = item.message.get("kind")
        if kind == "alert" and alert is None:
            return finish(
                item,
                Delivery(
                    ok=False, retryable=False, error=f"alert {item.alert_id} no longer exists"
                ),
            )
        ref = alert.messages.get(item.destination) if alert else None
        if item.action == "update" and ref and ref.get("batch"):
            # Sent inside a batch: there is no message of its own to edit; the note says it.
            return finish(item, Delivery(ok=True))
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
                return self._batch_without_poison(item, notifier, out, err)
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
            return finish(item, render_failure(what, item.destination, err), batch_alerts)
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
        return self.retry.finish(item, delivery, batch_alerts)

    def _batch_without_poison(
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
            return self.retry.finish(item, render_failure(what, item.destination, err), out.alerts)
        stamp = to_iso(self.clock.now()) or ""
        dead = poisoned_members(item, bad, stamp)
        store_dead_letters(self.repo, self.recorder, dead)
        item.message = {**item.message, "alert_ids": [a.id for a in good]}
        out = Outgoing(action=out.action, message=item.message, ref=out.ref, alerts=good)
        try:
            payload = notifier.render(out)
        except Exception as again:
            what = "batch of " + ", ".join(a.id for a in good)
            log.exception(
                "destination=%s item=%s: %s could not be rendered", item.destination, item.id, what
            )
            return self.retry.finish(item, render_failure(what, item.destination, again), good)
        return self._send(item, notifier, out, payload, good)
