"""The contract between the outbox and each chat platform.

A notifier renders a message into the exact payload its platform receives, and sends it.
The outcome says whether a failure is worth retrying, as in Alertmanager's notifiers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Protocol

from core.domain.models import Alert

# Message kinds the outbox stores (OutboxItem.message["kind"]):
#   alert: the alert as it is at send time ("post" or "update")
#   note:  a short line about an alert, posted as a thread reply ("reply"); {"text": ...}
#   text:  a stand-alone message (digest, health, storm): {"title": ..., "text": ...},
#          optionally "image": a path to a PNG to attach where the platform can
#   batch: several alerts in one message, when a destination is over its rate limit:
#          {"alert_ids": [...]}; Outgoing.alerts holds them


@dataclass
class Delivery:
    ok: bool
    ref: dict[str, str] = field(default_factory=dict)
    retryable: bool = True
    retry_after: float | None = None
    error: str = ""
    # The destination itself is set up wrong (a rejected token, a wrong channel, a bad
    # signature): no message can go until a person fixes it. The outbox keeps the message
    # and pauses the destination instead of dropping it into the dead letters.
    misconfigured: bool = False
    # The destination is gone for good and has said so once (a console whose stdout closed):
    # the message leaves the queue unsent, quietly, instead of becoming a dead letter.
    dropped: bool = False


@dataclass
class Outgoing:
    """What to render: the action and the message, with the alert already looked up."""

    action: str  # post | update | reply
    message: dict[str, Any]
    alert: Alert | None = None
    ref: dict[str, str] | None = None  # where the alert's message lives on this platform
    alerts: list[Alert] = field(default_factory=list)  # for "batch"


class Notifier(Protocol):
    platform: str
    # At most this many messages per this many seconds to one destination, or None.
    # The outbox worker keeps under it; items wait (or merge into a batch), never drop.
    rate_limit: tuple[int, float] | None
    # False for platforms that cannot edit a sent message (DingTalk robots): an "update"
    # that comes with a note is then dropped, so one change makes one message, not two.
    edits_in_place: bool

    def render(self, out: Outgoing) -> dict[str, Any]:
        """The exact body the platform would receive."""

    def send(self, out: Outgoing, payload: dict[str, Any]) -> Delivery: ...


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """Retry-After as seconds from now: delta-seconds or an HTTP date; None if absent/bad."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    current = datetime.now(UTC).timestamp() if now is None else now
    return max(0.0, when.timestamp() - current)
