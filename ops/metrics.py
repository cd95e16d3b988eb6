"""The running bot's Prometheus metrics (prometheus_client, a registry of its own).

Events are counted as core reports them (core.domain.telemetry); the outbox's depth, the age of
its oldest item and the dead letters are read from the store at each scrape, so every
process sharing a database reports the same queue.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from core.domain.clock import Clock
from core.domain.models import from_iso
from core.domain.repository import Repository

# Time to ack: a minute to a day.
ACK_BUCKETS = (60, 300, 900, 1800, 3600, 7200, 14400, 43200, 86400, float("inf"))


class _Outbox(Collector):
    def __init__(self, repo: Repository, clock: Clock) -> None:
        self.repo, self.clock = repo, clock

    def collect(self) -> Iterator[GaugeMetricFamily]:
        pending = self.repo.pending_outbox()
        now = self.clock.now()
        created = [t for t in (from_iso(o.created_at) for o in pending) if t is not None]
        oldest = max(((now - t).total_seconds() for t in created), default=0.0)
        yield GaugeMetricFamily(
            "buzzwatch_outbox_depth", "Messages waiting to be sent", len(pending)
        )
        yield GaugeMetricFamily(
            "buzzwatch_outbox_oldest_age_seconds", "Age of the oldest waiting message", oldest
        )
        yield GaugeMetricFamily(
            "buzzwatch_dead_letters", "Messages given up on", len(self.repo.dead_letters())
        )


def _poll_result(outcome: Any) -> str:
    for flag, name in ((outcome.elsewhere, "elsewhere"), (outcome.deferred, "deferred")):
        if flag:
            return name
    if not outcome.ok:
        return "failed"
    return "not_modified" if outcome.not_modified else "ok"


class Metrics:
    """A core.domain.telemetry sink; `render()` is the /metrics page."""

    def __init__(self, repo: Repository, clock: Clock) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.polls = Counter(
            "buzzwatch_polls", "Source polls by result", ["source", "result"], registry=r
        )
        self.fetch_errors = Counter(
            "buzzwatch_fetch_errors", "Failed polls by source", ["source"], registry=r
        )
        self.analysed = Counter("buzzwatch_mentions_analysed", "New mentions analysed", registry=r)
        self.alerts = Counter(
            "buzzwatch_alerts",
            "Alerts opened, acked, assigned, resolved, snoozed",
            ["event"],
            registry=r,
        )
        self.sends = Counter(
            "buzzwatch_sends",
            "Sends by destination and result",
            ["destination", "result"],
            registry=r,
        )
        self.time_to_ack = Histogram(
            "buzzwatch_time_to_ack_seconds",
            "From an alert's creation to its first response",
            buckets=ACK_BUCKETS,
            registry=r,
        )
        r.register(_Outbox(repo, clock))

    def polled(self, outcome: Any) -> None:
        result = _poll_result(outcome)
        self.polls.labels(outcome.source, result).inc()
        if result == "failed":
            self.fetch_errors.labels(outcome.source).inc()
        if outcome.result is not None:
            self.analysed.inc(outcome.result.new)
            if outcome.result.alerts:
                self.alerts.labels("opened").inc(len(outcome.result.alerts))

    def alert_changed(self, alert: Any, now: datetime, first_response: bool) -> None:
        self.alerts.labels(alert.status).inc()
        created = from_iso(alert.created_at)
        if first_response and created is not None:
            self.time_to_ack.observe(max(0.0, (now - created).total_seconds()))

    def sent(self, destination: str, result: str) -> None:
        self.sends.labels(destination, result).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
