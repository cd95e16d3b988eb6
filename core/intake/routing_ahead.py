"""A batch's routing worked out as its mentions are analysed, before the storage lock.

Routing (which route takes a mention, its dedup key and fingerprint: AlertMaker.route) is
per mention, given the silences and the time. A big batch's chunks are routed as each is
analysed (core.intake.offload: while a worker analyses the next ones, so the worker is not
left idle while this process routes the whole batch afterwards), with the silences read
when the first chunk is and the time the batch started. Under the storage lock the silences
are read again: if they changed, or one of them ended between the start and the cycle's
time, the batch is routed again there; else the routing is the one made ahead, which is
what routing it there would have given.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from core.alerting.grouping import AlertMaker, Routing
from core.domain.models import Mention, to_iso
from core.domain.repository import Repository


def read_silences(repo: Repository) -> list[dict[str, Any]]:
    return repo.get_state("silences", []) or []


class RoutingAhead:
    def __init__(self, maker: AlertMaker, repo: Repository, enabled: bool, now: datetime) -> None:
        self.maker, self.repo, self.enabled, self.now = maker, repo, enabled, now
        self.silences: list[dict[str, Any]] | None = None  # read with the first mentions
        self._parts: list[Routing] = []

    def add(self, mentions: list[Mention]) -> None:
        """Route these analysed mentions (the batch's next ones, in order)."""
        if self.enabled and mentions:
            if self.silences is None:
                self.silences = read_silences(self.repo)
            self._parts.append(self.maker.route(mentions, self.silences, self.now))

    def routing(
        self, mentions: list[Mention], silences: list[dict[str, Any]], now: datetime
    ) -> Routing:
        """The batch's routing with these silences at `now` (under the storage lock)."""
        if (
            self.silences is None
            or silences != self.silences
            or _ended_between(silences, self.now, now)
        ):
            return self.maker.route(mentions, silences, now)
        routing = Routing()
        for part in self._parts:
            routing.routed += part.routed
            routing.silenced += part.silenced
        return routing


def _ended_between(silences: list[dict[str, Any]], start: datetime, end: datetime) -> bool:
    """Whether a silence active at `start` is over at `end` (grouping.active_silence
    compares these stamps the same way)."""
    a, b = to_iso(start) or "", to_iso(end) or ""
    return any(a < s.get("until", "") <= b for s in silences)
