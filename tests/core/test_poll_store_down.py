"""A poll while the store is unreachable (a PostgreSQL server restarting): the source is
not fetched, the poll returns a storage outcome instead of raising, and the next poll,
the store back, goes on as usual."""

from __future__ import annotations

import logging
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from core.domain.clock import FakeClock
from core.intake.pipeline import CycleResult
from core.intake.polling import SOURCE_LEASE, Poller
from sources.base import PollResult
from storage.atomic_json import StorageError


class FlakyStore:
    """A store that fails every call while `down`."""

    def __init__(self) -> None:
        self.down = False
        self.state: dict[str, Any] = {}
        self.leases: list[timedelta] = []

    def _check(self) -> None:
        if self.down:
            raise StorageError("PostgreSQL store: couldn't get a connection after 30.00 sec")

    def claim_source(self, name: str, lease: timedelta) -> bool:
        self._check()
        self.leases.append(lease)
        return True

    def get_state(self, key: str, default: Any = None) -> Any:
        self._check()
        return self.state.get(key, default)

    def set_state(self, key: str, value: Any) -> None:
        self._check()
        self.state[key] = value


class Pipeline:
    def process(self, source: str, mentions: list[Any], backlog: bool = False) -> CycleResult:
        return CycleResult(source)


def test_a_poll_with_the_store_down_says_so_and_does_not_fetch(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = FlakyStore()
    fetched: list[str] = []

    def poll(state: dict[str, Any]) -> PollResult:
        fetched.append("feed")
        return PollResult([], state)

    feed = SimpleNamespace(name="feed", every=timedelta(seconds=5), poll=poll)
    poller = Poller(store, Pipeline(), FakeClock())  # type: ignore[arg-type]
    store.down = True
    with caplog.at_level(logging.WARNING):
        outcome = poller.poll(feed)
    assert (outcome.ok, outcome.storage, outcome.elsewhere) == (False, True, False)
    assert "couldn't get a connection" in outcome.error
    assert fetched == []
    assert "source=feed not polled: the store failed" in caplog.text
    assert "Traceback" not in caplog.text

    store.down = False
    assert poller.poll(feed).ok and fetched == ["feed"]
    assert store.state["source:feed"]["polls"] == 1
    # one lease length, whatever the interval (the keeper renews it for as long)
    assert store.leases == [SOURCE_LEASE]
