"""The PostgreSQL store's mention rows: writing them, the `mentions` query (a page and a
capped count) and the read of a period through a server-side cursor.

At 10M stored mentions an exact count of a common word visits every matching row (about a
million for "贵" or "acme": seconds); the count stops at COUNT_CAP + 1, so the reply says
"10,000+" and stays fast, while counts up to COUNT_CAP are exact.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any

import psycopg

from core.domain.query import COUNT_CAP, Capped, Estimate, MentionQuery
from storage.common import scalar
from storage.mention_search import mention_row
from storage.postgres_search import pg_text, search_conditions
from storage.store_lock import Urgent

PERIOD_PAGE = 2000
# How long a `mentions` count may take before the planner's estimate is said instead
# ("about 140,000"): a capped count of a word joined with a filter (1% of 10M mentions)
# still visits a million rows.
COUNT_BUDGET = "100ms"
COUNT_SQL = "SELECT count(*) FROM (SELECT 1 FROM mentions WHERE {where} LIMIT %s) capped"
PAGE_SQL = "SELECT doc FROM mentions WHERE {where} ORDER BY at DESC, rid DESC LIMIT %s OFFSET %s"
# A page of words looked for by walking the time index first, for this long (see below).
WALK_BUDGET = "50ms"
WALK = {
    "enable_bitmapscan": "off"
}  # rows a period read fetches from its server-side cursor at a time

_UPSERT = (
    "INSERT INTO mentions(id, fetched_at, at, source_cf, brands_cf, flags, sentiment,"
    " search, grams, doc) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)"
    " ON CONFLICT (id) DO UPDATE SET fetched_at = excluded.fetched_at,"
    " at = excluded.at, source_cf = excluded.source_cf,"
    " brands_cf = excluded.brands_cf, flags = excluded.flags,"
    " sentiment = excluded.sentiment, search = excluded.search,"
    " grams = excluded.grams, doc = excluded.doc"
)


def prepare_mentions(docs: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """The rows of mention records (a repeat: the last one wins): the CPU part of storing
    them, done before the transaction takes a connection."""
    rows = {doc["id"]: mention_row(doc) for doc in docs}
    return [
        (
            *(pg_text(v) if isinstance(v, str) else v for v in row[:8]),
            pg_text(row[8]).split(),
            row[9],
        )
        for row in rows.values()
    ]


def put_mentions(conn: psycopg.Connection, rows: list[tuple[Any, ...]]) -> None:
    """Store prepared rows (a stored id is replaced)."""
    if rows:
        with conn.cursor() as cur:
            cur.executemany(_UPSERT, rows)


def store_ahead(
    tx: Callable[[], AbstractContextManager[psycopg.Connection]],
    urgent: Urgent | None,
    slices: list[list[dict[str, Any]]],
) -> None:
    """A cycle's mentions stored ahead of its last transaction, a slice per transaction,
    each slice's rows made before it. A change a person makes (an ack) goes first: the
    writer waits for it between two slices (its round trips then find the cores and the
    GIL free). These commits do not wait for the WAL's flush (synchronous_commit off): a
    crash may lose them, and the cycle, not yet seen, is redone; the WAL is flushed in
    order, so the cycle's last commit (seen ids, alerts, outbox), which waits, flushes
    them too. Every other commit, an ack's included, waits for the flush."""
    for docs in slices:
        part = prepare_mentions(docs)
        if urgent is not None:  # (None: the writer holds the lock acks wait for)
            urgent.give_way()
        with tx() as conn:
            conn.execute("SET LOCAL synchronous_commit = off")
            put_mentions(conn, part)


def search_mentions(
    conn: psycopg.Connection,
    query: MentionQuery,
    now: datetime,
    negative: float,
    positive: float,
) -> tuple[list[dict[str, Any]], int]:
    """The page asked for (newest first) and the count of matches, exact up to COUNT_CAP
    (or the page's end, paging past it), one more than that when there are more; a count
    that takes longer than COUNT_BUDGET is given up for the planner's estimate."""
    where, params = search_conditions(query, now, negative, positive)
    # These queries over millions of rows cost more than jit_above_cost: compiling them
    # would take longer than running them.
    conn.execute("SET LOCAL jit = off")
    page_params = [*params, query.limit, query.offset]
    rows = None
    if query.words:
        # Walking the time index newest first finds a page of a common word at once; the
        # planner, misjudging words that go together ("sick all night"), may pick the word
        # index and sort a million matches instead. So the walk goes first, for
        # WALK_BUDGET; a rare word, that the walk would look for in vain, takes the index.
        rows = _within(conn, WALK_BUDGET, PAGE_SQL.format(where=where), page_params, WALK)
    if rows is None:
        rows = conn.execute(PAGE_SQL.format(where=where), page_params).fetchall()
    page = [json.loads(r[0]) for r in rows]
    if len(page) < query.limit and (page or not query.offset):
        return page, query.offset + len(page)  # a short page is the last: the count is known
    cap = max(COUNT_CAP, query.offset + query.limit)
    counted = _within(conn, COUNT_BUDGET, COUNT_SQL.format(where=where), [*params, cap + 1])
    if counted is not None:
        total = int(scalar(counted[0]))
        return page, Capped(total) if total > cap else total
    plan = scalar(
        conn.execute(
            f"EXPLAIN (FORMAT JSON) SELECT 1 FROM mentions WHERE {where}", params
        ).fetchone()
    )
    guess = int(plan[0]["Plan"]["Plan Rows"])
    return page, Estimate(max(guess, query.offset + len(page) + (len(page) == query.limit)))


def _within(
    conn: psycopg.Connection,
    budget: str,
    sql: str,
    params: list[Any],
    settings: dict[str, str] | None = None,
) -> list[tuple[Any, ...]] | None:
    """The rows of `sql` if it runs within `budget` (with `settings`), else None. In a
    savepoint, the settings local to it and restored after: the rest of the transaction
    runs as before."""
    names = ["statement_timeout", *(settings or {})]
    values = [budget, *(settings or {}).values()]
    try:
        with conn.transaction():
            before = conn.execute(
                "SELECT " + ", ".join("current_setting(%s)" for _ in names), names
            ).fetchone()
            for name, value in zip(names, values, strict=True):
                conn.execute("SELECT set_config(%s, %s, true)", (name, value))
            rows = conn.execute(sql, params).fetchall()
            for name, value in zip(names, before or (), strict=True):
                conn.execute("SELECT set_config(%s, %s, true)", (name, value))
            return rows
    except psycopg.errors.QueryCanceled:
        return None


def period_rows(
    conn: psycopg.Connection,
    day: str,
    lock: contextlib.AbstractContextManager[Any] | None = None,
) -> Iterator[dict[str, Any]]:
    """Records said on or after `day`, newest first, read PERIOD_PAGE at a time through a
    server-side cursor in the connection's transaction (memory stays flat however long
    the period). `lock` is held around each statement, not between pages."""
    guard = lock or contextlib.nullcontext()
    with guard:
        cur = conn.cursor(name=f"period_{uuid.uuid4().hex}")
        cur.execute("SELECT doc FROM mentions WHERE at >= %s ORDER BY at DESC, rid", (day,))
    try:
        while True:
            with guard:
                rows = cur.fetchmany(PERIOD_PAGE)
            if not rows:
                return
            for (doc,) in rows:
                yield json.loads(doc)
    finally:
        with guard:
            if not conn.closed:
                cur.close()
