"""Opening the SQLite store, and its schema, versioned by PRAGMA user_version: MIGRATIONS[i]
upgrades version i to i+1. TABLES and INDEXES are also made as TEMP copies by a read-only store's overlay.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path

from storage.atomic_json import StorageError
from storage.common import scalar
from storage.mention_search import scrub
from storage.sqlite_mentions import FTS_COLUMNS, index_rows

log = logging.getLogger("buzzwatch.storage")

_HAS_TRIGRAM: bool | None = None


def trigram_available() -> bool:
    """FTS5 with the trigram tokenizer needs SQLite 3.34+ built with FTS5."""
    global _HAS_TRIGRAM
    if _HAS_TRIGRAM is None:
        try:
            probe = sqlite3.connect(":memory:")
            probe.execute("CREATE VIRTUAL TABLE t USING fts5(x, tokenize='trigram')")
            probe.execute("CREATE VIRTUAL TABLE u USING fts5(x)")
            probe.close()
            _HAS_TRIGRAM = True
        except sqlite3.OperationalError:
            _HAS_TRIGRAM = False
            log.warning(
                "SQLite %s has no FTS5 trigram tokenizer (3.34+ needed): `mentions` word "
                "searches scan the stored text instead of using an index",
                sqlite3.sqlite_version,
            )
    return _HAS_TRIGRAM


# --- the schema: MIGRATIONS[i] takes version i to version i+1 ------------------------------

Step = str | Callable[[sqlite3.Connection], None]  # SQL, or work done in Python

TABLES = {
    "alerts": """CREATE TABLE {s}alerts(
        n INTEGER PRIMARY KEY, status TEXT NOT NULL, created_at TEXT NOT NULL,
        resolved_at TEXT NOT NULL, kind TEXT NOT NULL, dedup_key TEXT NOT NULL,
        fingerprint INTEGER NOT NULL DEFAULT 0,
        archived INTEGER NOT NULL DEFAULT 0, doc TEXT NOT NULL)""",
    "outbox": "CREATE TABLE {s}outbox(seq INTEGER PRIMARY KEY, alert_id TEXT, doc TEXT NOT NULL)",
    "dead_letters": "CREATE TABLE {s}dead_letters(seq INTEGER PRIMARY KEY, doc TEXT NOT NULL)",
    "state": "CREATE TABLE {s}state(key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID",
    # (since version 2) requests that must act at most once, each until its time
    "once_keys": "CREATE TABLE {s}once_keys(key TEXT PRIMARY KEY, until TEXT NOT NULL) WITHOUT ROWID",
}
V1_TABLES = ["alerts", "outbox", "dead_letters", "state"]
INDEXES = [
    # open alerts of any age are found without reading the resolved ones
    "CREATE INDEX {s}alerts_active ON alerts(status) WHERE status != 'resolved'",
    "CREATE INDEX {s}alerts_created ON alerts(created_at)",
    "CREATE INDEX {s}alerts_key ON alerts(dedup_key) WHERE status != 'resolved'",
    "CREATE INDEX {s}outbox_alert ON outbox(alert_id)",
    "CREATE INDEX {s}once_keys_until ON once_keys(until)",
]
V1_INDEXES = INDEXES[:4]


def _schema_v1(fts: bool) -> list[str]:
    sql = [TABLES[t].format(s="") for t in V1_TABLES] + [i.format(s="") for i in V1_INDEXES]
    sql += [
        # What queries filter on, kept narrow so a count reads many rows per page; the
        # record itself (and its Chinese grams) sit in mention_docs, read for a page only.
        """CREATE TABLE mentions(
            rid INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, fetched_at TEXT NOT NULL,
            at TEXT NOT NULL, source_cf TEXT NOT NULL, brands_cf TEXT NOT NULL,
            flags TEXT NOT NULL, sentiment REAL NOT NULL, search TEXT NOT NULL)""",
        "CREATE TABLE mention_docs(rid INTEGER PRIMARY KEY, grams TEXT NOT NULL, doc TEXT NOT NULL)",
        "CREATE INDEX mentions_at ON mentions(at)",
        "CREATE INDEX mentions_fetched ON mentions(fetched_at)",
        "CREATE TABLE seen(id TEXT PRIMARY KEY, day TEXT NOT NULL) WITHOUT ROWID",
    ]
    if fts:
        sql += [
            """CREATE VIRTUAL TABLE mention_text USING fts5(search, content='mentions',
                content_rowid='rid', tokenize='trigram case_sensitive 1')""",
            """CREATE VIRTUAL TABLE mention_grams USING fts5(grams, content='mention_docs',
                content_rowid='rid', tokenize='unicode61 remove_diacritics 0')""",
            """CREATE TRIGGER mentions_ai AFTER INSERT ON mentions BEGIN
                INSERT INTO mention_text(rowid, search) VALUES (new.rid, new.search);
            END""",
            """CREATE TRIGGER mentions_ad AFTER DELETE ON mentions BEGIN
                INSERT INTO mention_text(mention_text, rowid, search)
                    VALUES ('delete', old.rid, old.search);
            END""",
            """CREATE TRIGGER mention_docs_ai AFTER INSERT ON mention_docs BEGIN
                INSERT INTO mention_grams(rowid, grams) VALUES (new.rid, new.grams);
            END""",
            """CREATE TRIGGER mention_docs_ad AFTER DELETE ON mention_docs BEGIN
                INSERT INTO mention_grams(mention_grams, rowid, grams)
                    VALUES ('delete', old.rid, old.grams);
            END""",
        ]
    return sql


def _schema_v2(fts: bool) -> list[str]:
    """The keys of signed chat requests already acted on (Repository.remember_once)."""
    return [TABLES["once_keys"].format(s=""), INDEXES[4].format(s="")]


def _schema_v3(fts: bool) -> list[str]:
    """Every column a `mentions` filter reads, in two covering indexes, so filters never
    read the wide rows (their search text): by time (a filter-only count reads the time
    range of the index alone, and a page walks it newest first), and by rid (the rows of
    the word index's hits are tested in the index alone). The time one takes mentions_at's
    place."""
    cols = "at, sentiment, source_cf, flags, brands_cf"
    return [
        f"CREATE INDEX mentions_when ON mentions({cols})",
        f"CREATE INDEX mentions_hits ON mentions(rid, {cols})",
        "DROP INDEX mentions_at",
    ]


def _schema_v4(fts: bool) -> list[Step]:
    """The full-text indexes become contentless and carry each mention's filter tags
    (storage/sqlite_mentions.py), so a word with `source:`, `brand:`, `flag:` or
    `sentiment:` is narrowed inside the index, and each index row's rowid is its mention's
    time (hour << 32 + rid), so `since:` is too; written by the store, not by triggers.
    Rebuilds both indexes from the stored rows (about 2-4 minutes per million mentions).
    The index on fetched_at goes: no query reads it (they go by `at`), every write paid it."""
    steps: list[Step] = [
        "DROP INDEX IF EXISTS mentions_fetched",
        *(f"DROP TRIGGER IF EXISTS {t}" for t in _V1_TRIGGERS),
        "DROP TABLE IF EXISTS mention_text",
        "DROP TABLE IF EXISTS mention_grams",
    ]
    if fts:
        steps += [*FTS_TABLES, _index_stored_mentions]
    return steps


FTS_TABLES = [
    # columnsize=0: no per-row size table (nothing ranks by length)
    """CREATE VIRTUAL TABLE mention_text USING fts5(search, content='', columnsize=0,
        tokenize='trigram case_sensitive 1')""",
    """CREATE VIRTUAL TABLE mention_grams USING fts5(grams, content='', columnsize=0,
        tokenize='unicode61 remove_diacritics 0')""",
]
_V1_TRIGGERS = ["mentions_ai", "mentions_ad", "mention_docs_ai", "mention_docs_ad"]


def _index_stored_mentions(db: sqlite3.Connection) -> None:
    n = scalar(db.execute("SELECT count(*) FROM mentions").fetchone())
    if n:
        log.warning("Upgrading the store to schema 4: indexing %s stored mentions again", n)
    scrubbed = []
    # Streamed in time order (the time index), 5,000 at a time: nearly the rowid order the
    # indexes want (see index_rows), in constant memory
    rows = db.execute(f"SELECT {FTS_COLUMNS} FROM mentions INDEXED BY mentions_when ORDER BY at")
    while batch := rows.fetchmany(5000):
        index_rows(db, batch)
        scrubbed += [(scrub(r[2]), r[0]) for r in batch if scrub(r[2]) != r[2]]
    # (a stored private-use character becomes U+FFFD, as mark_words makes it in new rows)
    db.executemany("UPDATE mentions SET search = ? WHERE rid = ?", scrubbed)


MIGRATIONS: list[Callable[[bool], Sequence[Step]]] = [
    _schema_v1,
    _schema_v2,
    _schema_v3,
    _schema_v4,
]
SCHEMA_VERSION = len(MIGRATIONS)


def refuse_newer(db: sqlite3.Connection, path: Path) -> int:
    """The store's schema version, or a StorageError if a newer Buzzwatch wrote it."""
    version: int = db.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise StorageError(
            f"{path} was written by a newer Buzzwatch (schema {version}, this one "
            f"knows {SCHEMA_VERSION}): upgrade Buzzwatch"
        )
    return version


def migrate(db: sqlite3.Connection, path: Path, read_only: bool) -> None:
    """Bring the store at `path` (open as `db`) to SCHEMA_VERSION; a read-only one that
    needs it is refused."""
    version = refuse_newer(db, path)
    if version == SCHEMA_VERSION:
        return
    if read_only and path.exists():
        raise StorageError(
            f"{path} has schema {version}, this Buzzwatch needs {SCHEMA_VERSION}: "
            "start the bot once (without --dry-run) to upgrade it"
        )
    fts = trigram_available()
    indexed = db.execute(
        "SELECT 1 FROM sqlite_master WHERE name IN ('mention_text', 'mention_grams')"
    ).fetchone()
    if indexed and not fts:
        # Upgraded here the store would lose its full-text indexes for good.
        raise StorageError(
            f"{path} has full-text indexes that this Python's SQLite {sqlite3.sqlite_version} "
            "cannot keep (it has no FTS5 trigram tokenizer, SQLite 3.34+): run Buzzwatch "
            "with the Python that made the store, or one whose SQLite is 3.34 or newer"
        )
    db.execute("BEGIN IMMEDIATE")
    try:
        for step in range(version, SCHEMA_VERSION):
            for sql in MIGRATIONS[step](fts):
                if isinstance(sql, str):
                    db.execute(sql)
                else:
                    sql(db)
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise


def connect(path: Path, read_only: bool) -> sqlite3.Connection:
    """The store's one connection (autocommit: transactions are explicit), its schema
    brought up to date; read-only with no file yet, an empty store in memory."""
    if read_only and not path.exists():
        # Nothing stored yet: an empty store in memory, so even the folder is not created.
        db = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
        migrate(db, path, read_only)
        return db
    try:
        if read_only:
            uri = f"file:{path.resolve()}?mode=ro"
            db = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
        else:
            db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    except sqlite3.DatabaseError as err:
        raise StorageError(f"could not open {path}: {err}") from err
    try:
        db.execute("PRAGMA busy_timeout = 10000")
        db.execute("PRAGMA temp_store = MEMORY")
        # A 16 MB page cache and no memory map: both count in the bot's RSS (a 256 MB map
        # filled as the storm check read a week of mentions, and 64 MB of cache as `status`
        # read the open alerts), and neither made a query measurably faster; the OS's own
        # file cache keeps the pages read (issue 15, bench/storage.py --rss-mentions).
        db.execute("PRAGMA mmap_size = 0")
        db.execute(f"PRAGMA cache_size = -{16 << 10}")
        if not read_only:
            # Before the first write (the journal mode is stored in the file): a newer
            # Buzzwatch's store, or a damaged one, is left as it was found.
            refuse_newer(db, path)
            db.execute("PRAGMA journal_mode = WAL")
            # Each commit reaches the disk before the call returns, as the JSON store's
            # fsync did: an outbox item is stored before its message is sent.
            db.execute("PRAGMA synchronous = FULL")
        migrate(db, path, read_only)
    except BaseException as err:
        db.close()  # (an open handle on a file the user is told to restore or move)
        if isinstance(err, sqlite3.DatabaseError):
            raise StorageError(f"could not open {path}: {err}") from err
        raise
    return db
