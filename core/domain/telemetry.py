"""What the running bot counts, for /metrics. Core code calls these functions; they do
nothing until ops.metrics installs a sink (only when `service.port` is set), so core never
imports prometheus_client and a test or a one-off command pays nothing."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol


class Sink(Protocol):
    def polled(self, outcome: Any) -> None: ...

    def alert_changed(self, alert: Any, now: datetime, first_response: bool) -> None: ...

    def sent(self, destination: str, result: str) -> None: ...


_sink: Sink | None = None


def install(sink: Sink | None) -> None:
    global _sink
    _sink = sink


def polled(outcome: Any) -> None:
    """One source polled (core.intake.polling.PollOutcome)."""
    if _sink is not None:
        _sink.polled(outcome)


def alert_changed(alert: Any, now: datetime, first_response: bool) -> None:
    """A person acked, assigned, resolved or snoozed an alert (as it is after the change);
    `first_response`: this change acked it (the first ack, assign or resolve)."""
    if _sink is not None:
        _sink.alert_changed(alert, now, first_response)


def sent(destination: str, result: str) -> None:
    """One outbox send finished: `result` is sent, retrying, misconfigured, dead or dropped."""
    if _sink is not None:
        _sink.sent(destination, result)
