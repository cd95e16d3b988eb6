"""Hooks that hold a storage read or a build on an Event, to see what waits for it."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

import pytest

from core.domain.repository import Repository

WAIT = 10  # seconds: a generous bound, reached only when something waits that should not


class Hold:
    """Wraps a function: each call says it started, then waits until `release` is set."""

    def __init__(self, wrapped: Callable[..., Any]) -> None:
        self.wrapped = wrapped
        self.started = threading.Event()
        self.release = threading.Event()
        self.calls = 0

    def __call__(self, *args: Any, **kw: Any) -> Any:
        self.calls += 1
        self.started.set()
        assert self.release.wait(WAIT * 3)
        return self.wrapped(*args, **kw)


def slow_reader(repo: Repository, monkeypatch: pytest.MonkeyPatch) -> Hold:
    """The digest's read of a week of mentions, started and then held in the middle."""
    read = repo.iter_mentions
    hold = Hold(lambda it: it)

    def reads(since: datetime | None) -> Iterable[dict[str, Any]]:
        records = iter(read(since))
        first = next(records, None)  # (a page read: the store answered once)
        yield from hold([] if first is None else [first])
        yield from records

    monkeypatch.setattr(repo, "iter_mentions", reads)
    return hold


def in_thread(job: Callable[[], Any]) -> tuple[threading.Thread, list[Any]]:
    result: list[Any] = []
    thread = threading.Thread(target=lambda: result.append(job()), daemon=True)
    thread.start()
    return thread, result


def take_the_storage_lock(repo: Repository) -> Callable[[], bool]:
    def take() -> bool:
        with repo.locked():
            return True

    return take
