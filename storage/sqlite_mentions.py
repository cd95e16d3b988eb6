"""What the SQLite store's full-text indexes hold for a mention (schema 4), and its writes.

Each index row is the mention's searchable text followed by its filter tags: one 3-character
token per source, brand, flag and sentiment class, made of supplementary private-use
characters that no stored text can contain (mark_words replaces them). A `mentions` query
then narrows by `source:weibo` inside the index, in one MATCH with its words
(`"艾克米" AND <tag>`), instead of testing each of the word's hits against the table.
An index row's rowid is the mention's hour and its rid, so `since:7d` is a rowid range
FTS5 keeps to while it reads.

Both indexes are contentless (nothing stored twice) and written here, not by triggers: a
mention's index rows are deleted with the text they were made from, which this module
recomputes from the mentions row.
"""

from __future__ import annotations

import hashlib
import math
import sqlite3
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from core.reports.query import sentiment_kind
from storage.mention_search import SEP, cjk_grams, mention_row, scrub
from storage.store_lock import StoreLock

CHUNK = 500  # ids per `IN (...)`: well under SQLite's variable limit
# The sentiment classes tagged in the index, by the default thresholds (rules.negative_threshold
# and rules.positive_threshold): a config with other thresholds is answered from the
# sentiment column instead. Part of schema 4: changing them needs a migration.
SENTIMENT_CUTS = (-0.05, 0.5)
_PLANE = 0xF0000  # supplementary private use area A: U+F0000..U+FFFFD


@lru_cache(maxsize=4096)
def tag(kind: str, value: str) -> str:
    """The index token of one filter value (kind: s source, b brand, f flag, m sentiment
    class): 3 characters, so the trigram index holds it as one token. Remembered: a store
    has few sources, brands and flags, and every mention stored or searched needs theirs."""
    digest = hashlib.blake2b(f"{kind}\x00{value}".encode(), digest_size=6).digest()
    return "".join(
        chr(_PLANE + int.from_bytes(digest[i : i + 2], "big") % 0xFFFE) for i in (0, 2, 4)
    )


def _split(tags: str) -> list[str]:
    return [t for t in tags.split(SEP) if t]


def row_tags(source_cf: str, brands_cf: str, flags: str, sentiment: float) -> str:
    """A mentions row's filter tags, space-separated."""
    tokens = [tag("s", source_cf), tag("m", sentiment_kind(sentiment, *SENTIMENT_CUTS))]
    tokens += [tag("b", b) for b in _split(brands_cf)]
    tokens += [tag("f", f) for f in _split(flags)]
    return " ".join(tokens)


def index_texts(
    search: str,
    source_cf: str,
    brands_cf: str,
    flags: str,
    sentiment: float,
    grams: str | None = None,
) -> tuple[str, str]:
    """The rows of the trigram index (mention_text) and of the Chinese gram index
    (mention_grams) for a mentions row (its search column and filter columns). `grams`:
    cjk_grams(search), when the caller made the row (mention_row) and has them."""
    if grams is None:
        search = scrub(search)  # (a schema 3 row may hold private-use characters)
        grams = cjk_grams(search)
    tags = row_tags(source_cf, brands_cf, flags, sentiment)
    return f"{search}\n{tags}", f"{grams} {tags}"


# An index row's rowid is its mention's hour and rid, (hour << 32) + rid: FTS5 narrows a
# MATCH to a rowid range itself, so `since:7d` is answered inside the index too. (Hours,
# not seconds: a doclist stores the gaps between rowids, and within an hour they stay rid
# gaps, a byte or two each.)
RID_BITS = 32
RID_MASK = (1 << RID_BITS) - 1
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def hour(at: str) -> int:
    """The hour (since 2000, UTC) of a stored `at`; 0 if it cannot be read."""
    try:
        when = datetime.fromisoformat(at)
    except ValueError:
        return 0
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(-(1 << 30), min(1 << 30, math.floor((when - _EPOCH).total_seconds() / 3600)))


def time_key(at: str, rid: int) -> int:
    """The index rowid of the mention `rid` said at `at`: sorted by hour, then rid."""
    return (hour(at) << RID_BITS) + rid


FTS_COLUMNS = "rid, at, search, source_cf, brands_cf, flags, sentiment"


def index_rows(
    db: sqlite3.Connection, rows: Iterable[tuple[Any, ...]], delete: bool = False
) -> None:
    """Add (or, with `delete`, remove) the index rows of mentions rows (FTS_COLUMNS, then
    optionally the search column's cjk_grams when known)."""
    text, grams = [], []
    for rid, at, *cols in rows:
        key = time_key(at, rid)
        t, g = index_texts(*cols)
        text.append((key, t))
        grams.append((key, g))
    write_index(db, text, grams, delete)


def write_index(
    db: sqlite3.Connection,
    text: list[tuple[int, str]],
    grams: list[tuple[int, str]],
    delete: bool = False,
) -> None:
    """Write (or delete) index rows: (rowid, text) of each index."""
    # In rowid order: FTS5 writes out what it holds in memory whenever a rowid is lower
    # than the last one (a segment per row, in a poll's random publish times).
    text.sort()
    grams.sort()
    if delete:
        db.executemany(
            "INSERT INTO mention_text(mention_text, rowid, search) VALUES ('delete', ?, ?)", text
        )
        db.executemany(
            "INSERT INTO mention_grams(mention_grams, rowid, grams) VALUES ('delete', ?, ?)", grams
        )
    else:
        db.executemany("INSERT INTO mention_text(rowid, search) VALUES (?, ?)", text)
        db.executemany("INSERT INTO mention_grams(rowid, grams) VALUES (?, ?)", grams)


# A mentions row (mention_search.mention_row) and, with full-text indexes, its index texts.
Prepared = tuple[tuple[Any, ...], tuple[str, str] | None]


def prepare_mentions(docs: list[dict[str, Any]], fts: bool) -> list[Prepared]:
    """The rows and index texts of mention records (a repeat: the last one wins): the CPU
    part of storing them (~0.15 ms a mention), done before the write transaction, so the
    store's lock is not held for it."""
    rows = {doc["id"]: mention_row(doc) for doc in docs}
    # (mention_row scrubbed the search column and made its grams: not again)
    return [(row, _index_texts(row) if fts else None) for row in rows.values()]


def _index_texts(row: tuple[Any, ...]) -> tuple[str, str]:
    search, source_cf, brands_cf, flags, sentiment, grams = row[7], *row[3:7], row[8]
    return index_texts(search, source_cf, brands_cf, flags, sentiment, grams)


def put_mentions(db: sqlite3.Connection, prepared: list[Prepared], fts: bool) -> None:
    """Store prepared mentions (a stored id is replaced), inside the caller's transaction."""
    ids = [row[0] for row, _ in prepared]
    for i in range(0, len(ids), CHUNK):
        chunk = ids[i : i + CHUNK]
        marks = ",".join("?" * len(chunk))
        if fts:
            old = db.execute(f"SELECT {FTS_COLUMNS} FROM mentions WHERE id IN ({marks})", chunk)
            index_rows(db, old.fetchall(), delete=True)
        db.execute(
            f"DELETE FROM mention_docs WHERE rid IN (SELECT rid FROM mentions WHERE id IN ({marks}))",
            chunk,
        )
        db.execute(f"DELETE FROM mentions WHERE id IN ({marks})", chunk)
    # The rids SQLite would give one by one (one more than the largest; index rowids
    # already need them under 2**32), given here so each table takes the rows in one
    # executemany.
    last = db.execute("SELECT coalesce(max(rid), 0) FROM mentions").fetchone()[0]
    rids = range(last + 1, last + 1 + len(prepared))
    db.executemany(
        "INSERT INTO mentions(rid, id, fetched_at, at, source_cf, brands_cf, flags,"
        " sentiment, search) VALUES (?,?,?,?,?,?,?,?,?)",
        [(rid, *row[:8]) for rid, (row, _) in zip(rids, prepared, strict=True)],
    )
    # (the grams are the index's alone: recomputed from the search column when needed)
    db.executemany(
        "INSERT INTO mention_docs(rid, grams, doc) VALUES (?, '', ?)",
        [(rid, row[9]) for rid, (row, _) in zip(rids, prepared, strict=True)],
    )
    text, grams = [], []
    for rid, (row, texts) in zip(rids, prepared, strict=True):
        if texts is not None:
            key = time_key(row[2], rid)
            text.append((key, texts[0]))
            grams.append((key, texts[1]))
    if fts:
        write_index(db, text, grams)


# Mentions a transaction of a cycle stores ahead (PostgreSQL: common.MENTION_TX, 50). An ack
# waiting for one waits for its commit, which writes the full-text index of the whole slice:
# 20 made the ack's p95 under load ~40% shorter than 50, with the writer's rate under that
# load unchanged; alone, the writer's 500-mention cycle takes ~28% longer (68-73 -> 89-93 ms).
SLICE = 20
STEP = 10  # mentions a statement writes in a transaction that may end early


def store_ahead(
    tx: Callable[[], AbstractContextManager[sqlite3.Connection]],
    lock: StoreLock,
    docs: list[dict[str, Any]],
    fts: bool,
) -> None:
    """A cycle's mentions stored ahead of its last transaction (issue 16: what an ack typed
    meanwhile waits for): in transactions of up to SLICE mentions, their rows made
    before each, a STEP at a time; a transaction ends early, after a step, when another
    thread waits for the store, and that thread goes first (store_lock.py)."""
    for start in range(0, len(docs), SLICE):
        part = prepare_mentions(docs[start : start + SLICE], fts)
        part.sort(key=lambda p: hour(p[0][2]))  # (index rowids rise from step to step)
        while part:
            lock.give_way()
            with tx() as db:
                done = 0
                while done < len(part) and not (done and lock.waiting):
                    put_mentions(db, part[done : done + STEP], fts)
                    done += STEP
            part = part[done:]
