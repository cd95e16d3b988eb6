"""The dead-letter stage: items that will never be sent leave the queue, named.

A message that cannot be rendered (nothing was sent; it would render the same way again)
goes to the dead letters at once, so it never holds up the messages behind it; so does one
whose failure is permanent, or that kept failing past the retry stage's limit.
"""

from __future__ import annotations

import logging

from core.delivery.recording import Recorder
from core.domain import telemetry
from core.domain.models import Alert, OutboxItem, OutboxStatus
from core.domain.notifier import Delivery
from core.domain.repository import Repository

log = logging.getLogger("buzzwatch.outbox")


def render_failure(what: str, destination: str, err: Exception) -> Delivery:
    """A message that could not be rendered: permanent, and named so it can be found."""
    return Delivery(
        ok=False,
        retryable=False,
        error=f"{what} could not be rendered for {destination}: {type(err).__name__}: {err}",
    )


def give_up(item: OutboxItem, recorder: Recorder) -> OutboxStatus:
    """`item` (its last_error set) goes to the dead letters."""
    item.status = OutboxStatus.DEAD.value
    log.error(
        "destination=%s item=%s gave up after %d attempt(s): %s",
        item.destination,
        item.id,
        item.attempts,
        item.last_error,
    )
    recorder.record(item)
    telemetry.sent(item.destination, "dead")
    return OutboxStatus.DEAD


def poisoned_members(
    item: OutboxItem, bad: list[tuple[Alert, Exception]], stamp: str
) -> list[OutboxItem]:
    """A dead letter for each alert of batch `item` that cannot be rendered on its own."""
    dead = []
    for a, why in bad:
        failure = render_failure(f"alert {a.id}", item.destination, why)
        log.error(
            "destination=%s item=%s: %s; it leaves the batch for the dead letters",
            item.destination,
            item.id,
            failure.error,
        )
        dead.append(
            OutboxItem(
                id="",
                destination=item.destination,
                action="post",
                message={"kind": "alert"},
                created_at=item.created_at or stamp,
                alert_id=a.id,
                attempts=1,
                last_error=failure.error[:500],
            )
        )
    return dead


def store_dead_letters(repo: Repository, recorder: Recorder, dead: list[OutboxItem]) -> None:
    """Put new items straight into the dead letters (queued, then marked dead)."""

    def store_dead() -> None:
        repo.add_outbox(dead)
        for d in dead:
            d.status = OutboxStatus.DEAD.value
            repo.save_outbox(d)

    recorder.store(store_dead, "dead letters")
