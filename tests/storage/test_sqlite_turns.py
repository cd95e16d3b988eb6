"""The stores give way to an ack (issue 16): the embedded store's lock lets a thread waiting
for it go before a writer takes it again, a cycle's mention transactions end early when
someone waits, and WAL checkpoints are made by a thread of their own, not in a commit; the
PostgreSQL store's writer waits between two slices while a change runs."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.domain.clock import FakeClock
from core.domain.query import MentionQuery
from storage import sqlite_checkpoints
from storage.sqlite_mentions import SLICE, STEP, store_ahead
from storage.sqlite_repo import SQLiteRepository
from storage.store_lock import StoreLock, Urgent
from tests.storage.repository_contract import NEG, NOW, POS, mention


def wait_until(condition, what: str) -> None:
    deadline = time.monotonic() + 30
    while not condition():
        assert time.monotonic() < deadline, f"never: {what}"
        time.sleep(0.01)


def test_a_writer_giving_way_lets_the_waiting_thread_go_first() -> None:
    lock = StoreLock()
    order: list[str] = []

    def ack() -> None:
        with lock:
            order.append("ack")

    waiter = threading.Thread(target=ack)
    with lock, lock:  # re-entrant
        waiter.start()
        wait_until(lambda: lock.waiting, "the ack thread waits")
        lock.give_way()  # (the holder itself: returns, it would wait for itself)
    lock.give_way()
    with lock:
        order.append("writer")
    waiter.join()
    assert order == ["ack", "writer"]
    assert not lock.waiting


def test_a_writer_giving_way_waits_for_the_changes_running() -> None:
    """The PostgreSQL store's writer, between two slices, while an ack runs."""
    urgent = Urgent()
    order: list[str] = []
    running, done = threading.Event(), threading.Event()

    def change() -> None:
        with urgent:
            running.set()
            done.wait(30)
            order.append("change")

    def writer() -> None:
        urgent.give_way(timeout=30)
        order.append("writer")

    acking = threading.Thread(target=change)
    acking.start()
    running.wait(30)
    writing = threading.Thread(target=writer)
    writing.start()
    writing.join(0.2)  # (it waits)
    done.set()
    for thread in (acking, writing):
        thread.join()
    assert order == ["change", "writer"]
    urgent.give_way()  # no change running: at once


class Waiter:
    """A StoreLock stand-in: someone waits for it, or no one."""

    def __init__(self, waiting: bool) -> None:
        self.waiting = waiting

    def give_way(self) -> None:
        pass


@pytest.fixture
def repo(tmp_path: Path) -> Iterator[SQLiteRepository]:
    store = SQLiteRepository(tmp_path / "data", clock=FakeClock(NOW))
    yield store
    store.close()


@pytest.mark.parametrize("waiting", [False, True])
def test_mentions_stored_ahead_end_their_transaction_early_when_someone_waits(
    repo: SQLiteRepository, waiting: bool
) -> None:
    count = SLICE + 7
    docs = [mention(i, f"艾克米 汉堡 {i}").to_dict() for i in range(count)]
    transactions = 0

    @contextlib.contextmanager
    def tx() -> Iterator[object]:
        nonlocal transactions
        transactions += 1
        with repo._tx(durable=False) as db:
            yield db

    store_ahead(tx, Waiter(waiting), docs, repo.fts)  # type: ignore[arg-type]
    per_tx = STEP if waiting else SLICE
    assert transactions == -(-SLICE // per_tx) + -(-7 // per_tx)
    page, total = repo.search_mentions(MentionQuery(words=["汉堡"], limit=5), NOW, NEG, POS)
    assert total == count and len(page) == 5
    assert repo.count_mentions() == count


def test_checkpoints_are_made_by_their_own_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_checkpoints, "CHECKPOINT_BYTES", 1)
    repo = SQLiteRepository(tmp_path / "data", clock=FakeClock(NOW))
    try:
        assert repo._db.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 0
        before = repo.path.stat().st_size
        many = [mention(i, "汉堡 " * 200) for i in range(200)]
        repo.save_cycle(many, [m.id for m in many], [], [])
        # only a checkpoint writes the WAL's pages into the database file
        wait_until(lambda: repo.path.stat().st_size > before, "a checkpoint")
    finally:
        repo.close()
    reopened = SQLiteRepository(tmp_path / "data", clock=FakeClock(NOW))
    assert reopened.count_mentions() == 200
    reopened.close()


def test_a_query_next_to_the_bot_survives_a_mention_replaced_meanwhile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`bot.py mentions` reads in a process of its own; the bot may replace a stored
    mention (a redone cycle) between the query's page of row ids and its documents."""
    import storage.sqlite_repo as sqlite_repo

    folder = tmp_path / "data"
    bot = SQLiteRepository(folder, clock=FakeClock(NOW))
    first = [mention(i, f"艾克米 汉堡 {i}") for i in range(3)]
    bot.save_cycle(first, [m.id for m in first], [], [])
    query = SQLiteRepository(folder, clock=FakeClock(NOW), read_only=True)
    real_plan = sqlite_repo.plan_search

    def plan_then_replace(*args: object, **kwargs: object) -> object:
        plan = real_plan(*args, **kwargs)  # type: ignore[arg-type]
        real_page = plan.page

        def page(*a: object, **k: object) -> list[int]:
            rids = real_page(*a, **k)  # type: ignore[arg-type]
            bot.save_cycle([mention(2, "艾克米 汉堡 again")], [], [], [])  # a new row id
            return rids

        monkeypatch.setattr(plan, "page", page)
        return plan

    monkeypatch.setattr(sqlite_repo, "plan_search", plan_then_replace)
    try:
        found, total = query.search_mentions(MentionQuery(words=["汉堡"]), NOW, NEG, POS)
        assert total == 3 and {d["id"] for d in found} <= {"m0", "m1", "m2"}
        assert {"m0", "m1"} <= {d["id"] for d in found}
    finally:
        query.close()
        bot.close()
