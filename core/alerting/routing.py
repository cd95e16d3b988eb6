"""Which routes, and so which destinations, a mention goes to.

Routes are tried in order, as in Alertmanager: the first that matches takes the mention,
unless it says `continue: true`, in which case the next ones are tried too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from core.config import RouteConfig, RouteMatch
from core.domain.models import Mention, Severity


def route_label(route: RouteConfig, index: int) -> str:
    return route.name or f"route{index + 1}"


_RANK = {s.value: s.rank for s in Severity}


def _rank(severity: str) -> int:
    """Severity(severity).rank without building the enum (an unknown one still raises)."""
    rank = _RANK.get(severity)
    return Severity(severity).rank if rank is None else rank


@dataclass(frozen=True)
class _Match:
    """A route's match with what it compares worked out once (every mention of every cycle
    is tried against it): the flags' values and the minimum severity's rank."""

    flags: tuple[str, ...]
    brands: frozenset[str]
    min_rank: int | None
    sources: list[str]
    langs: list[str]
    aspects: frozenset[str]

    @classmethod
    def of(cls, match: RouteMatch) -> _Match:
        return cls(
            tuple(f.value for f in match.flags),
            frozenset(match.brands),
            match.min_severity.rank if match.min_severity else None,
            match.sources,
            match.langs,
            frozenset(match.aspects),
        )

    def __call__(self, mention: Mention) -> bool:
        if self.flags and not any(f in mention.flags for f in self.flags):
            return False
        if self.brands and self.brands.isdisjoint(mention.brands):
            return False
        if self.min_rank is not None and _rank(mention.severity) < self.min_rank:
            return False
        if self.sources and mention.source not in self.sources:
            return False
        if self.langs and mention.lang not in self.langs:
            return False
        return not (self.aspects and self.aspects.isdisjoint(mention.aspects))


class Router:
    def __init__(self, routes: Sequence[RouteConfig]) -> None:
        self.routes = list(routes)
        self._tests = [
            (route_label(route, i), route, _Match.of(route.match))
            for i, route in enumerate(self.routes)
        ]

    def routes_for(self, mention: Mention) -> list[tuple[str, RouteConfig]]:
        taken = []
        for label, route, test in self._tests:
            if test(mention):
                taken.append((label, route))
                if not route.continue_:
                    break
        return taken

    def destinations_for(self, mention: Mention) -> tuple[str, list[str]]:
        """The first matching route's label and every destination, in order, without repeats."""
        taken = self.routes_for(mention)
        if not taken:
            return "", []
        dests = list(dict.fromkeys(d for _, r in taken for d in r.to))
        return taken[0][0], dests
