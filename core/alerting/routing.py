"""Which routes, and so which destinations, a mention goes to.

Routes are tried in order, as in Alertmanager: the first that matches takes the mention,
unless it says `continue: true`, in which case the next ones are tried too.
"""

from __future__ import annotations

from collections.abc import Sequence

from core.config import RouteConfig, RouteMatch
from core.domain.models import Mention, Severity


def route_label(route: RouteConfig, index: int) -> str:
    return route.name or f"route{index + 1}"


def matches(match: RouteMatch, mention: Mention) -> bool:
    if match.flags and not any(f.value in mention.flags for f in match.flags):
        return False
    if match.brands and not set(match.brands) & set(mention.brands):
        return False
    if match.min_severity and Severity(mention.severity).rank < match.min_severity.rank:
        return False
    if match.sources and mention.source not in match.sources:
        return False
    if match.langs and mention.lang not in match.langs:
        return False
    return not (match.aspects and not set(match.aspects) & set(mention.aspects))


class Router:
    def __init__(self, routes: Sequence[RouteConfig]) -> None:
        self.routes = list(routes)

    def routes_for(self, mention: Mention) -> list[tuple[str, RouteConfig]]:
        taken = []
        for i, route in enumerate(self.routes):
            if matches(route.match, mention):
                taken.append((route_label(route, i), route))
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
