"""A batch routed chunk by chunk while it is analysed routes as it would under the storage
lock: the same routes, keys and fingerprints, and a silence set or ended meanwhile counts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bench.corpus import make_mentions
from core.alerting.grouping import AlertMaker, Routing
from core.alerting.routing import Router
from core.domain.clock import FakeClock
from core.domain.models import Mention, to_iso
from core.intake.routing_ahead import RoutingAhead, read_silences
from rules.analyze import Analyzer
from storage.sqlite_repo import SQLiteRepository
from tests.conftest import make_config

START = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)
LATER = START + timedelta(seconds=2)


@pytest.fixture
def rig(tmp_path: Path) -> tuple[AlertMaker, SQLiteRepository, list[Mention]]:
    config = make_config(tmp_path, analysis={"engine": "fast"})
    repo = SQLiteRepository(config.data_dir, clock=FakeClock(START))
    analyzer = Analyzer(config)
    mentions = [analyzer.analyze(m) for m in make_mentions(120)]
    return AlertMaker(config, Router(config.routes)), repo, mentions


def shape(r: Routing) -> tuple[int, list[tuple[str, str, str, int | None]]]:
    return r.silenced, [(x.mention.id, x.route, x.key, x.fingerprint) for x in r.routed]


def routed_in_chunks(maker: AlertMaker, repo: SQLiteRepository, ms: list[Mention]) -> RoutingAhead:
    ahead = RoutingAhead(maker, repo, True, START)
    for i in range(0, len(ms), 50):
        ahead.add(ms[i : i + 50])
    return ahead


def silence(until: datetime, kind: str = "brand") -> list[dict[str, str]]:
    """A silence of the brand, or of a route that takes only some of the mentions."""
    value = "Acme" if kind == "brand" else "people"
    return [{"kind": kind, "value": value, "until": to_iso(until) or ""}]


def test_chunks_route_as_the_whole_batch(
    rig: tuple[AlertMaker, SQLiteRepository, list[Mention]],
) -> None:
    maker, repo, ms = rig
    repo.set_state("silences", silence(START + timedelta(hours=1), kind="route"))
    ahead = routed_in_chunks(maker, repo, ms)
    now_silences = read_silences(repo)
    got = ahead.routing(ms, now_silences, LATER)
    assert shape(got) == shape(maker.route(ms, now_silences, LATER))
    repo.set_state("silences", [])
    plain = routed_in_chunks(maker, repo, ms).routing(ms, [], LATER)
    assert plain.routed and shape(plain) == shape(maker.route(ms, [], LATER))


def test_a_silence_set_meanwhile_counts(
    rig: tuple[AlertMaker, SQLiteRepository, list[Mention]],
) -> None:
    maker, repo, ms = rig
    ahead = routed_in_chunks(maker, repo, ms)
    repo.set_state("silences", silence(START + timedelta(hours=1)))
    got = ahead.routing(ms, read_silences(repo), LATER)
    assert got.silenced > 0 and not got.routed
    assert shape(got) == shape(maker.route(ms, read_silences(repo), LATER))


def test_a_silence_that_ended_meanwhile_counts(
    rig: tuple[AlertMaker, SQLiteRepository, list[Mention]],
) -> None:
    maker, repo, ms = rig
    repo.set_state("silences", silence(START + timedelta(seconds=1)))
    ahead = routed_in_chunks(maker, repo, ms)
    got = ahead.routing(ms, read_silences(repo), LATER)
    assert got.silenced == 0 and got.routed
    assert shape(got) == shape(maker.route(ms, read_silences(repo), LATER))
