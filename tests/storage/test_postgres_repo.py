"""What the PostgreSQL backend adds to the repository contract (which it passes in
tests/storage/contract/): its schema table, its indexes, and how its tests find a
server."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import psycopg
import pytest

from core.alerting.lifecycle import AlertService
from core.commands.context import Actor
from core.commands.service import CommandService
from core.domain.clock import FakeClock
from core.domain.query import Capped, Estimate, MentionQuery
from storage.atomic_json import StorageError
from storage.postgres_repo import PostgresRepository
from storage.postgres_schema import SCHEMA_VERSION
from tests import postgres_server
from tests.conftest import make_config
from tests.storage.repository_contract import NEG, NOW, POS, mention


@pytest.fixture
def repo(postgres_schema: str):
    repo = PostgresRepository(postgres_schema, clock=FakeClock(NOW))
    yield repo
    repo.close()


def test_schema_versions_are_recorded_and_a_newer_schema_is_refused(
    repo: PostgresRepository, postgres_schema: str
) -> None:
    with psycopg.connect(postgres_schema, autocommit=True) as conn:
        assert conn.execute("SELECT version FROM schema_migrations").fetchall() == [
            (v,) for v in range(1, SCHEMA_VERSION + 1)
        ]
        PostgresRepository(postgres_schema).close()  # a second open migrates nothing
        assert conn.execute("SELECT count(*) FROM schema_migrations").fetchone()[0] == (
            SCHEMA_VERSION
        )
        conn.execute("INSERT INTO schema_migrations(version) VALUES (%s)", (SCHEMA_VERSION + 1,))
    with pytest.raises(StorageError, match="newer than this Buzzwatch knows"):
        PostgresRepository(postgres_schema)


def test_a_missing_database_is_a_clear_error(postgres_dsn: str) -> None:
    missing = postgres_dsn.rsplit("/", 1)[0] + "/no_such_db"
    with pytest.raises(StorageError, match="could not open the PostgreSQL store"):
        PostgresRepository(missing)


@pytest.mark.parametrize(
    ("word", "index"),
    [("refund", "mentions_search"), ("汉堡太", "mentions_search"), ("汉堡", "mentions_grams")],
)
def test_word_searches_use_an_index(
    repo: PostgresRepository, postgres_schema: str, word: str, index: str
) -> None:
    ms = [mention(i, f"汉堡太贵 refund {i}", when=NOW - timedelta(minutes=i)) for i in range(50)]
    repo.save_cycle(ms, [], [], [])
    page, total = repo.search_mentions(MentionQuery(words=[word]), NOW, NEG, POS)
    assert total == 50 and len(page) == MentionQuery().limit
    with psycopg.connect(postgres_schema) as conn:
        conn.execute("ANALYZE mentions")
        conn.execute("SET enable_seqscan = off")  # a table this small would be scanned
        if index == "mentions_grams":
            sql, param = "SELECT count(*) FROM mentions WHERE grams @> ARRAY[%s]", word
        else:
            sql, param = "SELECT count(*) FROM mentions WHERE search LIKE %s", f"%{word}%"
        plan = "\n".join(r[0] for r in conn.execute("EXPLAIN " + sql, (param,)))
    assert index in plan, plan


def test_chinese_characters_make_trigrams_on_a_utf8_cluster(postgres_schema: str) -> None:
    with psycopg.connect(postgres_schema) as conn:
        grams = conn.execute("SELECT show_trgm('汉堡太贵')").fetchone()[0]
    # one word of 4: "  汉", " 汉堡", "汉堡太", "堡太贵", "太贵 " (shown hashed); a cluster in the
    # plain C locale makes none (it takes only ASCII letters for word characters)
    assert len(grams) == 5


def test_without_pg_ctl_the_tests_skip_and_say_how_but_fail_in_ci(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(postgres_server, "find_bin", lambda: None)
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="apt-get install postgresql"):
        postgres_server.server_bin()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="pg_ctl"):
        postgres_server.server_bin()


def test_a_version_2_database_gets_the_once_keys_table(postgres_schema: str) -> None:
    from storage.postgres_schema import MIGRATIONS

    with psycopg.connect(postgres_schema) as conn:  # a database as the previous release left it
        conn.execute(
            "CREATE TABLE schema_migrations(version integer PRIMARY KEY,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        for v, sql in enumerate(MIGRATIONS[:2], start=1):
            conn.execute(sql)
            conn.execute("INSERT INTO schema_migrations(version) VALUES (%s)", (v,))
    repo = PostgresRepository(postgres_schema, clock=FakeClock(NOW))
    try:
        assert repo.remember_once("sign", "k", NOW + timedelta(hours=1)) is True
        assert repo.remember_once("sign", "k", NOW + timedelta(hours=1)) is False
    finally:
        repo.close()
    with psycopg.connect(postgres_schema) as conn:
        assert conn.execute("SELECT max(version) FROM schema_migrations").fetchone() == (3,)


def test_a_count_past_the_cap_stops_and_the_reply_says_so(
    repo: PostgresRepository, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Over 10M mentions an exact count of a common word reads a million rows: the count
    stops one past COUNT_CAP (here 5) and the reply says "5+"; paging past the cap counts
    on to the page's end, so the next page is still offered."""
    from storage import postgres_mentions

    monkeypatch.setattr(postgres_mentions, "COUNT_CAP", 5)
    ms = [mention(i, f"refund {i}", when=NOW - timedelta(minutes=i)) for i in range(12)]
    ms.append(mention(99, "other"))
    repo.save_cycle(ms, [], [], [])
    page, total = repo.search_mentions(MentionQuery(words=["refund"], limit=2), NOW, NEG, POS)
    assert total == 6 and isinstance(total, Capped) and [d["id"] for d in page] == ["m0", "m1"]
    query = MentionQuery(words=["refund"], limit=3, offset=6)
    page, total = repo.search_mentions(query, NOW, NEG, POS)
    assert [d["id"] for d in page] == ["m6", "m7", "m8"] and total == 10  # counted to 9, +1
    _, total = repo.search_mentions(MentionQuery(words=["refund"], limit=4), NOW, NEG, POS)
    assert total == 6
    few, total = repo.search_mentions(MentionQuery(words=["other"]), NOW, NEG, POS)
    assert total == 1 and not isinstance(total, Capped) and len(few) == 1  # under the cap

    clock = FakeClock(NOW)
    commands = CommandService(make_config(tmp_path), repo, AlertService(repo, clock), clock)
    reply = commands.run("mentions refund since:1d limit:2", Actor("u", "u", "console"))
    assert reply.text.startswith("5+ mention(s) of refund") and reply.next_offset == 2
    reply = commands.run("mentions refund since:1d limit:5 offset:10", Actor("u", "u", "console"))
    # Counting on to the page's end (15) found all 12: exact again.
    assert reply.text.startswith("12 mention(s) of refund") and reply.next_offset is None
    assert [d["id"] for d in reply.mentions] == ["m10", "m11"]


def test_a_period_is_read_a_page_at_a_time_from_a_server_side_cursor(
    repo: PostgresRepository, postgres_schema: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from storage import postgres_mentions

    monkeypatch.setattr(postgres_mentions, "PERIOD_PAGE", 3)
    ms = [mention(i, f"m {i}", when=NOW - timedelta(hours=i)) for i in range(10)]
    repo.save_cycle(ms, [], [], [])
    rows = iter(repo.iter_mentions(NOW - timedelta(days=1)))
    assert next(rows)["id"] == "m0"
    with psycopg.connect(postgres_schema, autocommit=True) as conn:
        queries = [r[0] for r in conn.execute("SELECT query FROM pg_stat_activity")]
    assert any(q.startswith('FETCH FORWARD 3 FROM "period_') for q in queries), queries
    repo.save_cycle([mention(50, "written meanwhile")], [], [], [])  # the store is not held
    assert [d["id"] for d in rows] == [f"m{i}" for i in range(1, 10)]
    abandoned = iter(repo.iter_mentions(None))
    next(abandoned)
    del abandoned  # its connection goes back to the pool
    assert len(list(repo.iter_mentions(None))) == 11


def test_a_count_that_takes_too_long_is_the_planners_estimate(
    repo: PostgresRepository, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A capped count of a word joined with a filter can still visit a million rows: past
    COUNT_BUDGET the planner's estimate is said ("about N") and the page is still shown."""
    from storage import postgres_mentions

    slow = postgres_mentions.COUNT_SQL.replace("capped", "capped, pg_sleep(1)")
    monkeypatch.setattr(postgres_mentions, "COUNT_SQL", slow)
    monkeypatch.setattr(postgres_mentions, "COUNT_BUDGET", "50ms")
    ms = [mention(i, f"refund {i}", when=NOW - timedelta(minutes=i)) for i in range(12)]
    repo.save_cycle(ms, [], [], [])
    page, total = repo.search_mentions(MentionQuery(words=["refund"], limit=2), NOW, NEG, POS)
    assert isinstance(total, Estimate) and total >= 3  # at least the page and one more
    assert [d["id"] for d in page] == ["m0", "m1"]
    clock = FakeClock(NOW)
    commands = CommandService(make_config(tmp_path), repo, AlertService(repo, clock), clock)
    reply = commands.run("mentions refund since:1d limit:2", Actor("u", "u", "console"))
    assert reply.text.startswith(f"about {total:,} mention(s) of refund"), reply.text
    # the budget was this count's only: the store's next statements run as before
    monkeypatch.setattr(
        postgres_mentions, "COUNT_SQL", postgres_mentions.COUNT_SQL.replace(", pg_sleep(1)", "")
    )
    with repo._tx() as conn:
        assert conn.execute("SHOW statement_timeout").fetchone() == ("0",)
    assert repo.search_mentions(MentionQuery(words=["refund"]), NOW, NEG, POS)[1] == 12


def test_a_short_page_is_the_last_so_its_total_is_exact_without_a_count(
    repo: PostgresRepository, monkeypatch: pytest.MonkeyPatch
) -> None:
    """However slow counting is, a page shorter than asked for ends the matches: the total
    is offset + its length, never the planner's guess ("about 1" for nothing, "about 57"
    for three)."""
    from storage import postgres_mentions

    slow = postgres_mentions.COUNT_SQL.replace("capped", "capped, pg_sleep(1)")
    monkeypatch.setattr(postgres_mentions, "COUNT_SQL", slow)
    monkeypatch.setattr(postgres_mentions, "COUNT_BUDGET", "50ms")
    ms = [mention(i, f"refund {i}", when=NOW - timedelta(minutes=i)) for i in range(3)]
    repo.save_cycle(ms, [], [], [])
    page, total = repo.search_mentions(MentionQuery(words=["refund"]), NOW, NEG, POS)
    assert len(page) == 3 and total == 3 and not isinstance(total, Estimate)
    page, total = repo.search_mentions(MentionQuery(words=["nowhere"]), NOW, NEG, POS)
    assert page == [] and total == 0 and not isinstance(total, Estimate)
    query = MentionQuery(words=["refund"], limit=2, offset=2)
    page, total = repo.search_mentions(query, NOW, NEG, POS)
    assert len(page) == 1 and total == 3


def test_a_statement_over_its_budget_gives_way_and_the_transaction_goes_on(
    repo: PostgresRepository,
) -> None:
    """How a page first walks the time index (bitmap scans off) and a count is tried: each
    within a budget, its settings undone after, a cancelled one leaving the rest alone."""
    from storage.postgres_mentions import _within

    with repo._tx() as conn:
        assert _within(conn, "50ms", "SELECT pg_sleep(1)", []) is None
        rows = _within(conn, "5s", "SELECT 7", [], {"enable_bitmapscan": "off"})
        assert rows == [(7,)]
        settings = conn.execute(
            "SELECT current_setting('statement_timeout'), current_setting('enable_bitmapscan')"
        ).fetchone()
        assert settings == ("0", "on")


def test_mentions_stored_alone_do_not_wait_for_the_flush_the_cycles_last_commit_does(
    repo: PostgresRepository, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The pipeline stores a batch's chunks ahead (mentions alone), then its last save_cycle
    # brings the seen ids, alerts and outbox: only that commit need wait for the WAL.
    from storage import postgres_repo

    ahead: list[int] = []
    real = postgres_repo.store_ahead

    def counting(tx, urgent, slices):  # type: ignore[no-untyped-def]
        ahead.append(sum(len(s) for s in slices))
        real(tx, urgent, slices)

    monkeypatch.setattr(postgres_repo, "store_ahead", counting)
    repo.save_cycle([mention(i) for i in range(50)], [], [], [])
    assert ahead == [50]
    repo.save_cycle([mention(i) for i in range(50, 110)], ["m1"], [], [])
    assert ahead == [50, 50]  # the last 10 go with the seen id, in the durable commit
    assert len(list(repo.iter_mentions(None))) == 110
    assert repo.unseen(["m1", "m2"]) == ["m2"]
