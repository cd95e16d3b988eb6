"""SQLite specifics behind the contract: every way a query can run gives the same answer."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.domain.clock import FakeClock
from core.reports.query import search_records
from storage import sqlite_search
from storage.atomic_json import StorageError
from storage.mention_search import mark_words
from storage.sqlite_repo import SQLiteRepository
from tests.storage.repository_contract import CORPUS, NEG, NOW, POS, QUERIES, mention


@pytest.fixture
def repo(tmp_path: Path):
    repo = SQLiteRepository(tmp_path / "data", clock=FakeClock(NOW))
    mentions = [mention(i, text, **dict(extra)) for i, (text, extra) in enumerate(CORPUS)]
    repo.save_cycle(mentions, [m.id for m in mentions], [], [])
    yield repo, [m.to_dict() for m in mentions]
    repo.close()


@pytest.mark.parametrize(
    "how", ["index lookups", "walking the time index", "no full-text index (old SQLite)"]
)
def test_every_query_plan_answers_the_same(repo, how: str, monkeypatch) -> None:
    repo, docs = repo
    if how == "index lookups":
        monkeypatch.setattr(sqlite_search.SearchPlan, "WALK_BELOW", 0)
    elif how == "walking the time index":
        monkeypatch.setattr(sqlite_search.SearchPlan, "WALK_BELOW", 10**9)
    else:
        repo.fts = False
    for query in QUERIES:
        want_page, want_total = search_records(docs, query, NOW, NEG, POS)
        page, total = repo.search_mentions(query, NOW, NEG, POS)
        assert (total, [d["id"] for d in page]) == (want_total, [d["id"] for d in want_page]), query


def test_word_starts_are_marked_so_a_substring_test_is_the_word_start_rule() -> None:
    assert mark_words("x-ray experience") == "\x01x-\x01ray \x01experience"
    assert mark_words("汉堡abc 10/10") == "汉堡\x01abc \x0110/\x0110"
    assert mark_words("a\x01b") == "\x01a\ufffd\x01b"  # a stored \x01 cannot fake a mark


def test_a_clean_close_leaves_no_wal_files_and_a_reader_creates_none(tmp_path: Path) -> None:
    data = tmp_path / "data"
    repo = SQLiteRepository(data)
    repo.save_cycle([mention(1)], ["m1"], [], [])
    repo.close()
    names = sorted(p.name for p in data.iterdir())
    assert names == [".lock", "buzzwatch.sqlite3"]
    reader = SQLiteRepository(data, read_only=True)
    assert [d["id"] for d in reader.iter_mentions(None)] == ["m1"]
    reader.close()
    assert sorted(p.name for p in data.iterdir()) == names


def test_a_full_database_says_so_and_the_store_goes_on_once_there_is_room(tmp_path: Path) -> None:
    # SQLITE_FULL rolls the transaction back itself: a second ROLLBACK failed and the error
    # read "cannot rollback - no transaction is active", hiding the full disk.
    repo = SQLiteRepository(tmp_path, clock=FakeClock(NOW))
    try:
        pages = repo._db.execute("PRAGMA page_count").fetchone()[0]
        repo._db.execute(f"PRAGMA max_page_count = {pages}")
        with pytest.raises(StorageError) as failed:
            for i in range(100_000):
                repo.set_state(f"filler-{i}", "x" * 2000)
        assert "full" in str(failed.value) and "no transaction" not in str(failed.value)
        repo._db.execute("PRAGMA max_page_count = 1073741823")  # room again
        repo.set_state("after", 1)
        assert repo.get_state("after") == 1
    finally:
        repo.close()


def test_a_version_1_store_is_upgraded_and_remembers_request_keys(tmp_path: Path) -> None:
    import sqlite3
    from datetime import timedelta

    from storage.sqlite_repo import DB_NAME
    from storage.sqlite_schema import MIGRATIONS, SCHEMA_VERSION

    folder = tmp_path / "data"
    folder.mkdir()
    db = sqlite3.connect(folder / DB_NAME, isolation_level=None)  # as the previous release left it
    for sql in MIGRATIONS[0](False):
        db.execute(sql)
    db.execute("PRAGMA user_version = 1")
    db.close()
    with pytest.raises(StorageError, match="start the bot once"):
        SQLiteRepository(folder, clock=FakeClock(NOW), read_only=True)
    repo = SQLiteRepository(folder, clock=FakeClock(NOW))
    try:
        assert repo.remember_once("sign", "k", NOW + timedelta(hours=1)) is True
        assert repo.remember_once("sign", "k", NOW + timedelta(hours=1)) is False
        assert repo._db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 3
    finally:
        repo.close()


def test_a_version_2_store_gets_the_covering_indexes_and_answers_the_same(tmp_path: Path) -> None:
    """Version 3 adds the covering indexes the `mentions` plan reads (mentions_when,
    mentions_hits) in place of mentions_at: a store written at version 2 is upgraded and
    its queries answer what the reference matcher answers."""
    import sqlite3

    from core.domain.query import MentionQuery
    from core.reports.query import search_records
    from storage.sqlite_repo import DB_NAME
    from storage.sqlite_schema import MIGRATIONS
    from tests.storage.repository_contract import CORPUS, NEG, POS, QUERIES, mention

    folder = tmp_path / "data"
    repo = SQLiteRepository(folder, clock=FakeClock(NOW))
    mentions = [mention(i, text, **dict(extra)) for i, (text, extra) in enumerate(CORPUS)]
    repo.save_cycle(mentions, [m.id for m in mentions], [], [])
    repo.close()
    db = sqlite3.connect(folder / DB_NAME, isolation_level=None)  # back to version 2
    db.execute("DROP INDEX mentions_when")
    db.execute("DROP INDEX mentions_hits")
    db.execute("CREATE INDEX mentions_at ON mentions(at)")
    db.execute("PRAGMA user_version = 2")
    db.close()
    assert len(MIGRATIONS) == 3
    repo = SQLiteRepository(folder, clock=FakeClock(NOW))
    try:
        names = {
            r[0] for r in repo._db.execute("SELECT name FROM sqlite_master WHERE type = 'index'")
        }
        assert {"mentions_when", "mentions_hits"} <= names and "mentions_at" not in names
        docs = [m.to_dict() for m in mentions]
        for query in [*QUERIES, MentionQuery(words=["退款"], sentiment="negative")]:
            want_page, want_total = search_records(docs, query, NOW, NEG, POS)
            page, total = repo.search_mentions(query, NOW, NEG, POS)
            assert (total, [d["id"] for d in page]) == (want_total, [d["id"] for d in want_page])
    finally:
        repo.close()


def test_iter_mentions_reads_a_page_at_a_time_and_misses_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every record once, newest first (ties on the fetch time included), however many pages;
    the lock is free between pages (a storm check's week of mentions does not stall
    `status`), and a read-only store's own new mentions come too."""
    import threading
    from datetime import timedelta

    from storage import sqlite_search

    monkeypatch.setattr(sqlite_search, "ITER_ROWS", 3)
    data = tmp_path / "data"
    repo = SQLiteRepository(data, clock=FakeClock(NOW))
    batches = []
    for n in range(4):  # four cycles, each of 5 mentions fetched at the same instant
        batch = [mention(n * 5 + i) for i in range(5)]
        for m in batch:
            m.fetched_at = NOW - timedelta(hours=n)
        batches.append(batch)
        repo.save_cycle(batch, [m.id for m in batch], [], [])
    repo.close()
    reader = SQLiteRepository(data, read_only=True)
    extra = mention(99)
    extra.fetched_at = NOW
    reader.save_cycle([extra], [extra.id], [], [])
    docs = reader.iter_mentions(None)
    it = iter(docs)
    first = next(it)
    other = threading.Thread(target=lambda: reader.get_state("x"))
    other.start()
    other.join(5)
    assert not other.is_alive(), "the lock was held between pages"
    ids = [first["id"]] + [d["id"] for d in it]
    assert sorted(ids) == sorted([m.id for b in batches for m in b] + [extra.id])
    stored = ids[:-1]  # (the read-only run's own mention comes last)
    times = [d["fetched_at"] for d in reader.iter_mentions(None)][:-1]
    assert times == sorted(times, reverse=True) and len(set(stored)) == len(stored) == 20
    since = NOW - timedelta(hours=1)
    assert {d["id"] for d in reader.iter_mentions(since)} >= {m.id for m in batches[0]}
    reader.close()


def test_the_parsed_alert_cache_is_bounded_and_keeps_the_recently_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from storage import sqlite_repo
    from tests.storage.repository_contract import ack, store_alerts

    monkeypatch.setattr(sqlite_repo, "ALERT_CACHE", 3)
    repo = SQLiteRepository(tmp_path / "data", clock=FakeClock(NOW))
    alerts = store_alerts(repo, 10)
    assert [a.id for a in repo.find_alerts(lambda a: True)] == [a.id for a in alerts]
    assert len(repo._alert_cache) == 3  # the last three read
    repo.get_alert("A8")  # read again: the most recent now, A9 the next to go
    repo.get_alert("A1")
    assert list(repo._alert_cache) == [10, 8, 1]
    repo.change_alert("A8", ack)  # a changed alert is read as stored, never from the cache
    got = repo.get_alert("A8")
    assert got is not None and got.status == "acked"
    repo.close()
