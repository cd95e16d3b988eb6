"""The repository contract's fixtures: each test here runs once per backend in
tests/storage/repository_contract.py (BACKENDS), on a fresh data folder, at NOW."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from core.domain.clock import FakeClock
from core.domain.repository import Repository
from tests.storage.repository_contract import BACKENDS, NOW, Opener


@pytest.fixture(params=list(BACKENDS))
def backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "postgres":
        monkeypatch.setenv("BUZZWATCH_DATABASE_URL", request.getfixturevalue("postgres_schema"))
    return request.param


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOW)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def open_repo(backend: str, data_dir: Path, clock: FakeClock) -> Iterator[Opener]:
    opened: list[Repository] = []

    def opener(read_only: bool = False) -> Repository:
        repo = BACKENDS[backend](data_dir, clock, read_only)
        opened.append(repo)
        return repo

    yield opener
    for repo in opened:
        repo.close()


@pytest.fixture
def repo(open_repo: Opener) -> Repository:
    return open_repo()
