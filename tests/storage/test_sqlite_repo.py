"""SQLite specifics behind the contract: every way a query can run gives the same answer."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from core.config import RulesConfig
from core.domain.clock import FakeClock
from core.domain.query import MentionQuery
from core.reports.query import search_records
from storage import sqlite_search
from storage.atomic_json import StorageError
from storage.mention_search import mark_words
from storage.sqlite_mentions import SENTIMENT_CUTS, tag
from storage.sqlite_repo import SQLiteRepository
from tests.storage.repository_contract import CORPUS, NEG, NOW, POS, QUERIES, mention


@pytest.fixture
def repo(tmp_path: Path):
    repo = SQLiteRepository(tmp_path / "data", clock=FakeClock(NOW))
    mentions = [mention(i, text, **dict(extra)) for i, (text, extra) in enumerate(CORPUS)]
    repo.save_cycle(mentions, [m.id for m in mentions], [], [])
    yield repo, [m.to_dict() for m in mentions]
    repo.close()


@pytest.mark.parametrize("cuts", [(NEG, POS), SENTIMENT_CUTS], ids=["other cuts", "tagged cuts"])
@pytest.mark.parametrize(
    "how",
    [
        "index lookups",
        "walking the time index",
        "a walk of the newest rows, then the hits",
        "no full-text index (old SQLite)",
    ],
)
def test_every_query_plan_answers_the_same(repo, how: str, cuts, monkeypatch) -> None:
    """With the default thresholds a sentiment filter is answered by the index's tags, with
    others by the sentiment column: the same answers either way."""
    repo, docs = repo
    neg, pos = cuts
    if how == "index lookups":
        monkeypatch.setattr(sqlite_search.SearchPlan, "WALK_BELOW", 0)
    elif how == "walking the time index":
        monkeypatch.setattr(sqlite_search.SearchPlan, "WALK_BELOW", 10**9)
    elif how == "a walk of the newest rows, then the hits":
        # the newest 6 rows only: some pages are full there, the
        # others fall back to sorting the hits
        walks: list[int] = []
        walk = sqlite_search.SearchPlan._walk

        def counted(db, conds, params, limit, offset, newest=None):
            rows = walk(db, conds, params, limit, offset, newest)
            if newest is not None:
                walks.append(len(rows) == limit)
            return rows

        monkeypatch.setattr(sqlite_search.SearchPlan, "_walk", staticmethod(counted))
        monkeypatch.setattr(sqlite_search.SearchPlan, "WALK_BELOW", 0)
        monkeypatch.setattr(sqlite_search.SearchPlan, "SPARE", 0)
        monkeypatch.setattr(sqlite_search.SearchPlan, "EXTRA", 6)
        monkeypatch.setattr(sqlite_search.SearchPlan, "WALK_PER_HIT", 100)
    else:
        repo.fts = False
    # each query also over the whole store (no time condition left for the rows)
    everything = [replace(q, since=timedelta(days=60)) for q in QUERIES]
    for query in [*QUERIES, *everything]:
        want_page, want_total = search_records(docs, query, NOW, neg, pos)
        page, total = repo.search_mentions(query, NOW, neg, pos)
        assert (total, [d["id"] for d in page]) == (want_total, [d["id"] for d in want_page]), query
    if how == "a walk of the newest rows, then the hits":
        assert True in walks and False in walks  # both ways were taken


@pytest.mark.parametrize("how", ["index lookups", "walking the time index"])
def test_the_time_range_is_exact_to_the_microsecond(tmp_path: Path, how: str, monkeypatch) -> None:
    """The index keeps a mention's time to the hour (its rowid): mentions said within the
    cutoff's own hour, before and after it, are told apart by their stored time."""
    if how == "index lookups":
        monkeypatch.setattr(sqlite_search.SearchPlan, "WALK_BELOW", 0)
    else:
        monkeypatch.setattr(sqlite_search.SearchPlan, "WALK_BELOW", 10**9)
    since = timedelta(hours=5)
    later = timedelta(minutes=30, microseconds=500_000)  # the query's cutoff: mid-hour
    cutoff = NOW - since + later
    offsets = [-1800.0, -1.0, -0.5, -0.1, 0.0, 0.1, 0.4, 1.0, 1800.0, 3600.0]  # s after the cutoff
    mentions = [
        mention(i, f"退款 refund {i}", when=cutoff + timedelta(seconds=s), flags=["negative"])
        for i, s in enumerate(offsets)
    ]
    mentions.append(mention(50, "退款 refund old", when=NOW - timedelta(days=30)))
    repo = SQLiteRepository(tmp_path, clock=FakeClock(NOW))
    try:
        repo.save_cycle(mentions, [m.id for m in mentions], [], [])
        docs = [m.to_dict() for m in mentions]
        now = NOW + later
        for query in [
            MentionQuery(words=["退款"], since=since),
            MentionQuery(words=["refund"], since=since, limit=2),
            MentionQuery(flags=["negative"], since=since),
            MentionQuery(words=["退款"], since=since, limit=3, offset=2),
        ]:
            want_page, want_total = search_records(docs, query, now, NEG, POS)
            page, total = repo.search_mentions(query, now, NEG, POS)
            assert want_total == 6
            assert (total, [d["id"] for d in page]) == (want_total, [d["id"] for d in want_page])
    finally:
        repo.close()


def test_the_tagged_sentiment_classes_are_the_config_defaults() -> None:
    defaults = RulesConfig()
    assert (defaults.negative_threshold, defaults.positive_threshold) == SENTIMENT_CUTS


def test_text_cannot_fake_a_filter_tag(tmp_path: Path) -> None:
    """The index's filter tags are private-use characters: a text that holds the very tag
    of `source:news` (or of a flag) is stored without it and matches neither filter."""
    repo = SQLiteRepository(tmp_path, clock=FakeClock(NOW))
    try:
        forged = f"退款 refund {tag('s', 'news')} {tag('f', 'critical')}"
        repo.save_cycle([mention(1, forged, source="weibo")], ["m1"], [], [])
        for query in [
            MentionQuery(words=["refund"], source="news"),
            MentionQuery(words=["退款"], flags=["critical"]),
            MentionQuery(source="news"),
        ]:
            assert repo.search_mentions(query, NOW, NEG, POS) == ([], 0), query
        assert repo.search_mentions(MentionQuery(words=["refund"]), NOW, NEG, POS)[1] == 1
    finally:
        repo.close()


def test_word_starts_are_marked_so_a_substring_test_is_the_word_start_rule() -> None:
    assert mark_words("x-ray experience") == "\x01x-\x01ray \x01experience"
    assert mark_words("汉堡abc 10/10") == "汉堡\x01abc \x0110/\x0110"
    assert mark_words("a\x01b") == "\x01a\ufffd\x01b"  # a stored \x01 cannot fake a mark
    assert mark_words("a\U000f0001") == "\x01a\ufffd"  # nor a filter tag


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

    from storage.sqlite_repo import DB_NAME
    from storage.sqlite_schema import MIGRATIONS, SCHEMA_VERSION

    folder = tmp_path / "data"
    folder.mkdir()
    db = sqlite3.connect(folder / DB_NAME, isolation_level=None)  # as the previous release left it
    for sql in MIGRATIONS[0](False):
        assert isinstance(sql, str)
        db.execute(sql)
    db.execute("PRAGMA user_version = 1")
    db.close()
    with pytest.raises(StorageError, match="start the bot once"):
        SQLiteRepository(folder, clock=FakeClock(NOW), read_only=True)
    repo = SQLiteRepository(folder, clock=FakeClock(NOW))
    try:
        assert repo.remember_once("sign", "k", NOW + timedelta(hours=1)) is True
        assert repo.remember_once("sign", "k", NOW + timedelta(hours=1)) is False
        assert repo._db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 4
    finally:
        repo.close()


def _old_store(folder: Path, version: int, docs: list[dict[str, Any]]) -> None:
    """A store as release `version` (2 or 3) wrote it: its schema, and mentions stored by its
    SQL (the index rows made by triggers, the Chinese grams kept in mention_docs)."""
    import sqlite3

    from storage.mention_search import mention_row
    from storage.sqlite_repo import DB_NAME
    from storage.sqlite_schema import MIGRATIONS

    folder.mkdir()
    db = sqlite3.connect(folder / DB_NAME, isolation_level=None)
    for step in MIGRATIONS[:version]:
        for sql in step(True):
            assert isinstance(sql, str)
            db.execute(sql)
    for doc in docs:
        row = mention_row(doc)
        rid = db.execute(
            "INSERT INTO mentions(id, fetched_at, at, source_cf, brands_cf, flags, sentiment,"
            " search) VALUES (?,?,?,?,?,?,?,?)",
            row[:8],
        ).lastrowid
        db.execute("INSERT INTO mention_docs(rid, grams, doc) VALUES (?,?,?)", (rid, *row[8:]))
    db.execute(f"PRAGMA user_version = {version}")
    db.close()


@pytest.mark.parametrize("version", [2, 3])
def test_an_older_store_is_upgraded_to_schema_4_and_answers_the_same(
    tmp_path: Path, version: int
) -> None:
    """Version 3 added the covering indexes (mentions_when, mentions_hits) in place of
    mentions_at; version 4 indexes the stored mentions again, with their filter tags, in
    contentless indexes the store writes itself. An upgraded store answers every query as
    the reference matcher does, with the default thresholds (tags) and others (columns),
    and a mention stored again after the upgrade leaves nothing of its old text behind."""

    folder = tmp_path / "data"
    mentions = [mention(i, text, **dict(extra)) for i, (text, extra) in enumerate(CORPUS)]
    # (a private-use character in an old row: the upgrade scrubs it as new rows are)
    mentions.append(mention(90, "refund please \U000f0042", source="news"))
    _old_store(folder, version, [m.to_dict() for m in mentions])
    with pytest.raises(StorageError, match="start the bot once"):
        SQLiteRepository(folder, clock=FakeClock(NOW), read_only=True)
    repo = SQLiteRepository(folder, clock=FakeClock(NOW))
    try:
        db = repo._db
        assert db.execute("PRAGMA user_version").fetchone()[0] == 4
        names = {r[0] for r in db.execute("SELECT name FROM sqlite_master")}
        assert {"mentions_when", "mentions_hits", "mention_text", "mention_grams"} <= names
        assert not names & {"mentions_at", "mentions_fetched", "mentions_ai", "mention_docs_ai"}
        # the second mention is stored again, with other words (refund -> 退款)
        changed = mention(1, "只想退款", sentiment=-0.9, flags=["negative"])
        repo.save_cycle([changed], [], [], [])
        mentions[1] = changed
        docs = [m.to_dict() for m in mentions]
        queries = [*QUERIES, MentionQuery(words=["退款"], sentiment="negative")]
        for neg, pos in [(NEG, POS), SENTIMENT_CUTS]:
            for query in queries:
                want_page, want_total = search_records(docs, query, NOW, neg, pos)
                page, total = repo.search_mentions(query, NOW, neg, pos)
                got = (total, [d["id"] for d in page])
                assert got == (want_total, [d["id"] for d in want_page]), query
        assert "\U000f0042" not in "".join(r[0] for r in db.execute("SELECT search FROM mentions"))
    finally:
        repo.close()


def test_an_indexed_store_is_not_upgraded_by_an_sqlite_that_cannot_keep_its_indexes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A schema 3 store with full-text indexes, opened by a Python whose SQLite has no
    trigram tokenizer: refused with what to do, and left as it was (not upgraded without
    its indexes)."""
    import sqlite3

    from storage import sqlite_schema

    folder = tmp_path / "data"
    _old_store(folder, 3, [mention(i, text).to_dict() for i, (text, _) in enumerate(CORPUS)])
    monkeypatch.setattr(sqlite_schema, "_HAS_TRIGRAM", False)
    with pytest.raises(StorageError, match=r"cannot keep .* SQLite 3\.34"):
        SQLiteRepository(folder, clock=FakeClock(NOW))
    db = sqlite3.connect(folder / "buzzwatch.sqlite3")
    assert db.execute("PRAGMA user_version").fetchone()[0] == 3
    db.close()
    monkeypatch.setattr(sqlite_schema, "_HAS_TRIGRAM", None)
    repo = SQLiteRepository(folder, clock=FakeClock(NOW))
    assert repo.fts and repo.count_mentions() == len(CORPUS)
    repo.close()


def test_iter_mentions_reads_a_page_at_a_time_and_misses_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every record once, newest first (ties on the fetch time included), however many pages;
    the lock is free between pages (a storm check's week of mentions does not stall
    `status`), and a read-only store's own new mentions come too."""
    import threading

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
    from storage import alert_cache
    from tests.storage.repository_contract import ack, store_alerts

    monkeypatch.setattr(alert_cache, "ALERT_CACHE", 3)
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


def test_the_alert_cache_takes_reads_from_two_threads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`status` (the command thread) and grouping (the poll) read alerts at once: the
    cache's evict-and-reorder must not see the other's half-done step (a KeyError)."""
    import sys
    import threading

    from storage import alert_cache
    from tests.storage.repository_contract import store_alerts

    monkeypatch.setattr(alert_cache, "ALERT_CACHE", 2)
    repo = SQLiteRepository(tmp_path / "data", clock=FakeClock(NOW))
    store_alerts(repo, 6)
    errors: list[BaseException] = []

    def read(names: list[str]) -> None:
        try:
            for _ in range(1500):
                for name in names:
                    repo.get_alert(name)
                repo.oldest_active_alerts(["open"], 3)
        except BaseException as err:
            errors.append(err)

    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as the interpreter can
    try:
        threads = [
            threading.Thread(target=read, args=(names,))
            for names in (["A1", "A2", "A3"], ["A4", "A5", "A6"])
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(old)
    repo.close()
    assert errors == []
