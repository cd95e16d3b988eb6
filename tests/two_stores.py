"""Fixtures for tests that run on every backend with two processes sharing a store (the
digest, storms, SLA reminders); tests/conftest.py makes them every test's."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from core.domain.clock import FakeClock
from core.domain.repository import Repository
from tests.storage.repository_contract import BACKENDS

TwoStores = Callable[[FakeClock], list[Repository]]


@pytest.fixture(params=list(BACKENDS))
def store_backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "postgres":
        monkeypatch.setenv("BUZZWATCH_DATABASE_URL", request.getfixturevalue("postgres_schema"))
    return request.param


@pytest.fixture
def two_stores(store_backend: str, tmp_path: Path) -> Iterator[TwoStores]:
    """Opens two stores for two processes: PostgreSQL's share one schema; an embedded store
    is opened by one process only, so both are the same repository (two threads of it)."""
    opened: list[Repository] = []

    def open_two(clock: FakeClock) -> list[Repository]:
        first = BACKENDS[store_backend](tmp_path / "data", clock, False)
        second = first
        if store_backend == "postgres":
            second = BACKENDS[store_backend](tmp_path / "data", clock, False)
        opened.extend({id(r): r for r in (first, second)}.values())
        return [first, second]

    yield open_two
    for repo in opened:
        repo.close()
