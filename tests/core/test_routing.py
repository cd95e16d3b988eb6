from __future__ import annotations

import random
from datetime import UTC, datetime

from core.alerting.routing import Router
from core.config import RouteConfig, RouteMatch
from core.domain.models import Flag, Mention, Severity

BRANDS = ["Acme", "Bolt", "Cato"]
SOURCES = ["weibo", "reddit", "news"]
LANGS = ["zh", "en"]
ASPECTS = ["price", "service", "delivery"]


def _reference(match: RouteMatch, m: Mention) -> bool:
    """The route test as the configuration reads: every condition given must hold."""
    return (
        (not match.flags or any(f.value in m.flags for f in match.flags))
        and (not match.brands or bool(set(match.brands) & set(m.brands)))
        and (
            match.min_severity is None
            or list(Severity).index(Severity(m.severity))
            >= list(Severity).index(match.min_severity)
        )
        and (not match.sources or m.source in match.sources)
        and (not match.langs or m.lang in match.langs)
        and (not match.aspects or bool(set(match.aspects) & set(m.aspects)))
    )


def _some(rng: random.Random, values: list[str]) -> list[str]:
    return rng.sample(values, rng.randint(0, 2))


def test_routes_take_exactly_the_mentions_their_match_describes() -> None:
    rng = random.Random(3)
    flags = [f.value for f in Flag]
    severities = [s.value for s in Severity]
    for _ in range(300):
        match = RouteMatch.model_validate(
            {
                "flags": _some(rng, flags),
                "brand": _some(rng, BRANDS),
                "severity": rng.choice([None, *severities]),
                "source": _some(rng, SOURCES),
                "lang": _some(rng, LANGS),
                "aspect": _some(rng, ASPECTS),
            }
        )
        route = RouteConfig.model_validate({"match": match.model_dump(by_alias=True), "to": ["d"]})
        router = Router([route])
        for _ in range(20):
            m = Mention(
                id="m",
                source=rng.choice(SOURCES),
                url="",
                title="",
                text="",
                author="",
                published=datetime(2026, 1, 1, tzinfo=UTC),
                fetched_at=datetime(2026, 1, 1, tzinfo=UTC),
                brands=_some(rng, BRANDS),
                lang=rng.choice(["", *LANGS]),
                flags=_some(rng, flags),
                aspects=_some(rng, ASPECTS),
                severity=rng.choice(severities),
            )
            assert (router.destinations_for(m)[1] == ["d"]) is _reference(match, m)
