"""The embedded store on SQLite (stdlib sqlite3): one file, data_dir/buzzwatch.sqlite3.

- WAL while a writer has it open (readers next to the running bot never block it); a clean
  close checkpoints and switches the file back to a plain rollback journal, so a dry run or a
  `mentions` query next to no running bot creates no file at all.
- Every write is one transaction: a poll cycle's mentions, alerts, outbox items and seen ids
  are stored together or not at all (kill -9 leaves the last committed state).
- Mention text is searched through FTS5 with the trigram tokenizer (any substring of 3+
  characters, Chinese or Latin) plus an index of Chinese 1- and 2-character grams; the
  search column marks Latin word starts, so a query's "word start" rule is an exact
  substring test and the whole query (text, time, brand, source, flags, sentiment, count,
  page) runs in SQL.
- The schema is versioned by PRAGMA user_version; MIGRATIONS[i] upgrades version i to i+1.
- One connection, guarded by one re-entrant lock (also `locked()`), shared by the bot's
  threads: SQLite serialises writers anyway, and every call here is short.

Read-only (dry run, queries next to a running bot): the file is opened with mode=ro; the
first write copies the small tables (alerts, outbox, dead letters, state) into TEMP tables
that shadow them, and mentions and seen ids "stored" then live in memory. Nothing reaches
the disk, and the run still sees its own changes, as TinyDBRepository(read_only=True) does.
"""

from __future__ import annotations

import contextlib
import heapq
import json
import logging
import re
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from core.domain.clock import Clock, SystemClock
from core.domain.models import Alert, Mention, OutboxItem, OutboxStatus
from core.domain.query import MentionQuery
from core.reports.query import normalized_words, search_records
from rules.text import normalize
from storage.atomic_json import StorageError, save_derived_file
from storage.process_lock import ProcessLock

log = logging.getLogger("buzzwatch.storage")

T = TypeVar("T")

DB_NAME = "buzzwatch.sqlite3"
SEP = "\x1f"  # between the casefolded brands/flags of a mention: '\x1fa\x1fb\x1f'
MARK = "\x01"  # before every Latin word start in the search column
_WORD_START = re.compile(r"(?<![a-z0-9])(?=[a-z0-9])")
_CJK_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ffff]+")
CHUNK = 500
ALERT_CACHE = 50_000  # parsed alerts kept (about 2 KB each); cleared when full  # ids per `IN (...)`: well under SQLite's variable limit

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


def mark_words(text: str) -> str:
    """Text with MARK before every Latin word start: "(?<![a-z0-9])word" in the text is then
    MARK+word in the marked text, a plain substring test SQL and FTS can run."""
    return _WORD_START.sub(MARK, text.replace(MARK, "\ufffd"))


def search_column(doc: dict[str, Any]) -> str:
    return mark_words(
        normalize(f"{doc.get('title', '')}\n{doc.get('text', '')}\n{doc.get('author', '')}")
    )


def cjk_grams(search: str) -> str:
    """Every Chinese 1- and 2-character substring, space-separated: Chinese words are often
    one or two characters, shorter than a trigram."""
    grams: dict[str, None] = {}
    for run in _CJK_RUN.findall(search):
        for i in range(len(run)):
            grams[run[i]] = None
            if i + 1 < len(run):
                grams[run[i : i + 2]] = None
    return " ".join(grams)


def _tags(values: Iterable[str]) -> str:
    return SEP + SEP.join(v.casefold() for v in values) + SEP if values else ""


# --- the schema: MIGRATIONS[i] takes version i to version i+1 ------------------------------

TABLES = {
    "alerts": """CREATE TABLE {s}alerts(
        n INTEGER PRIMARY KEY, status TEXT NOT NULL, created_at TEXT NOT NULL,
        resolved_at TEXT NOT NULL, kind TEXT NOT NULL, dedup_key TEXT NOT NULL,
        fingerprint INTEGER NOT NULL DEFAULT 0,
        archived INTEGER NOT NULL DEFAULT 0, doc TEXT NOT NULL)""",
    "outbox": "CREATE TABLE {s}outbox(seq INTEGER PRIMARY KEY, alert_id TEXT, doc TEXT NOT NULL)",
    "dead_letters": "CREATE TABLE {s}dead_letters(seq INTEGER PRIMARY KEY, doc TEXT NOT NULL)",
    "state": "CREATE TABLE {s}state(key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID",
}
INDEXES = [
    # open alerts of any age are found without reading the resolved ones
    "CREATE INDEX {s}alerts_active ON alerts(status) WHERE status != 'resolved'",
    "CREATE INDEX {s}alerts_created ON alerts(created_at)",
    "CREATE INDEX {s}alerts_key ON alerts(dedup_key) WHERE status != 'resolved'",
    "CREATE INDEX {s}outbox_alert ON outbox(alert_id)",
]


def _schema_v1(fts: bool) -> list[str]:
    sql = [t.format(s="") for t in TABLES.values()] + [i.format(s="") for i in INDEXES]
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


MIGRATIONS: list[Callable[[bool], list[str]]] = [_schema_v1]
SCHEMA_VERSION = len(MIGRATIONS)


def _alert_number(alert_id: str) -> int | None:
    text = alert_id.strip().upper().removeprefix("A")
    return int(text) if text.isascii() and text.isdigit() and len(text) < 10 else None


def _signed64(n: int) -> int:
    """A 64-bit fingerprint as SQLite's signed INTEGER."""
    n &= (1 << 64) - 1
    return n - (1 << 64) if n >= 1 << 63 else n


def _unsigned64(n: int) -> int:
    return n & ((1 << 64) - 1)


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def mention_row(doc: dict[str, Any]) -> tuple[Any, ...]:
    search = search_column(doc)
    return (
        doc["id"],
        doc["fetched_at"],
        doc.get("published") or doc.get("fetched_at") or "",
        str(doc.get("source", "")).casefold(),
        _tags(doc.get("brands") or ()),
        _tags(doc.get("flags") or ()),
        float(doc.get("sentiment", 0.0) or 0.0),
        search,
        cjk_grams(search),
        _dumps(doc),
    )


class _SearchPlan:
    """One `mentions` query as SQL: plain conditions, and word conditions that can run as
    index lookups (FTS) or as substring tests on the text column, with the same answer."""

    # When at least one row in this many matches, the newest page is found sooner by
    # walking the time index and testing the text than by collecting every index hit.
    WALK_BELOW = 50

    def __init__(self) -> None:
        self.conds: list[str] = []
        self.params: list[Any] = []
        self.lookups: list[tuple[str, str, str]] = []  # (fts table, MATCH expression, substring)
        self.size = 0  # about how many rows the time range holds
        self.rows: list[tuple[str, int]] | None = None  # (at, rid) of every match, if read

    def where(self, cond: str, *params: Any) -> None:
        self.conds.append(cond)
        self.params.extend(params)

    def index(self, table: str, match: str, substring: str) -> None:
        self.lookups.append((table, match, substring))

    def _hits(self) -> tuple[str, list[Any]]:
        parts = [f"SELECT rowid FROM {t} WHERE {t} MATCH ?" for t, _, _ in self.lookups]
        return " INTERSECT ".join(parts), [m for _, m, _ in self.lookups]

    def count(self, db: sqlite3.Connection) -> int:
        if self.lookups:
            hits, params = self._hits()
            n_hits = db.execute(f"SELECT count(*) FROM ({hits})", params).fetchone()[0]
            if not self.conds:
                return n_hits
            if self.size < n_hits:  # a short time range: test its rows rather than each hit
                conds = [*self.conds, *("instr(search, ?) > 0" for _ in self.lookups)]
                sql = "SELECT count(*) FROM mentions WHERE " + " AND ".join(conds)
                params = [*self.params, *(s for _, _, s in self.lookups)]
                return db.execute(sql, params).fetchone()[0]
            # Each hit is read once: the matching rows' times give the count and, when few
            # enough, the page too.
            sql = f"SELECT at, rid FROM mentions WHERE rid IN ({hits}) AND " + " AND ".join(
                self.conds
            )
            self.rows = db.execute(sql, [*params, *self.params]).fetchall()
            return len(self.rows)
        cond = " AND ".join(self.conds) or "1"
        return db.execute(f"SELECT count(*) FROM mentions WHERE {cond}", self.params).fetchone()[0]

    def page(self, db: sqlite3.Connection, total: int, limit: int, offset: int) -> list[int]:
        """The rids of the page, newest first."""
        conds, params = list(self.conds), list(self.params)
        if self.rows is not None and total * self.WALK_BELOW < self.size:
            return [rid for _, rid in heapq.nlargest(offset + limit, self.rows)][offset:]
        if self.lookups and total * self.WALK_BELOW < self.size:
            hits, hit_params = self._hits()
            conds.insert(0, f"m.rid IN ({hits})")
            params[:0] = hit_params
        else:
            for _, _, substring in self.lookups:
                conds.append("instr(search, ?) > 0")
                params.append(substring)
        # The page's rows first, from the narrow table; their records after (a join would
        # read the record of every hit before sorting).
        sql = (
            "SELECT rid FROM mentions m WHERE "
            + (" AND ".join(conds) or "1")
            + " ORDER BY m.at DESC, m.rid DESC LIMIT ? OFFSET ?"
        )
        return [r[0] for r in db.execute(sql, [*params, limit, offset])]


class SQLiteRepository:
    def __init__(self, data_dir: Path, clock: Clock | None = None, read_only: bool = False) -> None:
        self.data_dir = Path(data_dir)
        self.path = self.data_dir / DB_NAME
        self.clock = clock or SystemClock()
        self.read_only = read_only
        self._lock = threading.RLock()
        self._depth = 0
        self._overlay = False  # read-only: the small tables are shadowed by TEMP copies
        self._new_mentions: dict[str, dict[str, Any]] = {}  # read-only: mentions "stored"
        self._new_seen: set[str] = set()
        self._alert_cache: dict[int, tuple[str, Alert]] = {}
        self._near: tuple[list[int], int] = ([], 0)
        self._process_lock = None if read_only else ProcessLock(self.data_dir)
        try:
            self._db = self._connect()
        except BaseException:
            if self._process_lock is not None:
                self._process_lock.release()
            raise
        self.fts = self._has_table("mention_text")
        self._db.create_function(
            "bw_near", 1, lambda fp: self._is_near(_unsigned64(fp)), deterministic=True
        )

    # --- opening and schema ----------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        if self.read_only and not self.path.exists():
            # Nothing stored yet: an empty store in memory, so even the folder is not created.
            db = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
            self._migrate(db)
            return db
        try:
            if self.read_only:
                uri = f"file:{self.path.resolve()}?mode=ro"
                db = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
            else:
                db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            db.execute("PRAGMA busy_timeout = 10000")
            db.execute("PRAGMA temp_store = MEMORY")
            # Reads through a memory map (no read() call per page) and a 64 MB page cache:
            # both bounded, so memory stays flat however many mentions are stored.
            db.execute(f"PRAGMA mmap_size = {256 << 20}")
            db.execute(f"PRAGMA cache_size = -{64 << 10}")
            if not self.read_only:
                db.execute("PRAGMA journal_mode = WAL")
                # Each commit reaches the disk before the call returns, as the JSON store's
                # fsync did: an outbox item is stored before its message is sent.
                db.execute("PRAGMA synchronous = FULL")
            self._migrate(db)
        except sqlite3.DatabaseError as err:
            raise StorageError(f"could not open {self.path}: {err}") from err
        return db

    def _migrate(self, db: sqlite3.Connection) -> None:
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise StorageError(
                f"{self.path} was written by a newer Buzzwatch (schema {version}, this one "
                f"knows {SCHEMA_VERSION}): upgrade Buzzwatch"
            )
        if version == SCHEMA_VERSION:
            return
        if self.read_only and self.path.exists():
            raise StorageError(
                f"{self.path} has schema {version}, this Buzzwatch needs {SCHEMA_VERSION}: "
                "start the bot once (without --dry-run) to upgrade it"
            )
        fts = trigram_available()
        db.execute("BEGIN IMMEDIATE")
        try:
            for step in range(version, SCHEMA_VERSION):
                for sql in MIGRATIONS[step](fts):
                    db.execute(sql)
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def _has_table(self, name: str) -> bool:
        row = self._db.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)
        ).fetchone()
        return row is not None

    def locked(self) -> threading.RLock:
        """The repository's lock, for a read-modify-write that spans several calls."""
        return self._lock

    @contextlib.contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (nested calls join the outer one); any error rolls it back."""
        with self._lock:
            if self.read_only and not self._overlay:
                self._start_overlay()
            if self._depth:
                self._depth += 1
                try:
                    yield self._db
                finally:
                    self._depth -= 1
                return
            self._depth = 1
            try:
                # Read-only writes go to TEMP tables only: no lock on the file is wanted.
                self._db.execute("BEGIN" if self.read_only else "BEGIN IMMEDIATE")
                try:
                    yield self._db
                    self._db.execute("COMMIT")
                except BaseException:
                    # A full disk (SQLITE_FULL) may have rolled back already: a second
                    # ROLLBACK would fail and hide that error behind "no transaction is
                    # active"; a COMMIT that failed leaves one to end.
                    if self._db.in_transaction:
                        self._db.execute("ROLLBACK")
                    raise
            except sqlite3.DatabaseError as err:
                raise StorageError(f"could not write {self.path}: {err}") from err
            finally:
                self._depth = 0

    def _start_overlay(self) -> None:
        """Read-only: shadow the small tables with TEMP copies that take this run's writes."""
        if self.path.exists():
            for name, ddl in TABLES.items():
                self._db.execute(ddl.format(s="temp."))
                self._db.execute(f"INSERT INTO temp.{name} SELECT * FROM main.{name}")
            for ddl in INDEXES:
                self._db.execute(ddl.format(s="temp."))
        self._overlay = True

    # --- mentions ---------------------------------------------------------------------------

    def unseen(self, ids: Iterable[str]) -> list[str]:
        wanted = list(dict.fromkeys(ids))
        known: set[str] = set()
        with self._lock:
            for i in range(0, len(wanted), CHUNK):
                chunk = wanted[i : i + CHUNK]
                marks = ",".join("?" * len(chunk))
                rows = self._db.execute(f"SELECT id FROM seen WHERE id IN ({marks})", chunk)
                known.update(r[0] for r in rows)
            known |= self._new_seen
        return [i for i in wanted if i not in known]

    def save_cycle(
        self,
        mentions: list[Mention],
        seen_ids: list[str],
        alerts: list[Alert],
        outbox: list[OutboxItem],
    ) -> None:
        with self._tx() as db:
            self._put_mentions([m.to_dict() for m in mentions])
            self._put_alerts(alerts)
            self._insert_outbox(outbox)
            # One transaction: the seen ids are stored with the cycle or not at all.
            self._add_seen(seen_ids, self.clock.now().date().isoformat(), db)

    def _put_mentions(self, docs: list[dict[str, Any]]) -> None:
        if not docs:
            return
        if self.read_only:
            for doc in docs:
                self._new_mentions[doc["id"]] = doc
            return
        rows = {doc["id"]: mention_row(doc) for doc in docs}  # a repeat: the last one wins
        ids = list(rows)
        for i in range(0, len(ids), CHUNK):
            chunk = ids[i : i + CHUNK]
            # DELETE then INSERT (not REPLACE): the delete triggers keep the indexes true.
            marks = ",".join("?" * len(chunk))
            self._db.execute(
                f"DELETE FROM mention_docs WHERE rid IN (SELECT rid FROM mentions WHERE id IN ({marks}))",
                chunk,
            )
            self._db.execute(f"DELETE FROM mentions WHERE id IN ({marks})", chunk)
        for row in rows.values():
            cur = self._db.execute(
                "INSERT INTO mentions(id, fetched_at, at, source_cf, brands_cf, flags, sentiment,"
                " search) VALUES (?,?,?,?,?,?,?,?)",
                row[:8],
            )
            self._db.execute(
                "INSERT INTO mention_docs(rid, grams, doc) VALUES (?,?,?)",
                (cur.lastrowid, *row[8:]),
            )

    def _add_seen(self, ids: Iterable[str], day: str, db: sqlite3.Connection) -> None:
        if self.read_only:
            self._new_seen.update(ids)
            return
        db.executemany("INSERT OR IGNORE INTO seen(id, day) VALUES (?, ?)", ((i, day) for i in ids))

    def _mention_docs(self, sql: str, params: Iterable[Any]) -> list[dict[str, Any]]:
        return [json.loads(r[0]) for r in self._db.execute(sql, tuple(params))]

    def iter_mentions(self, since: datetime | None) -> Iterable[dict[str, Any]]:
        """Records fetched on or after `since`'s UTC day, newest first."""
        day = since.astimezone(UTC).date().isoformat() if since else ""
        with self._lock:
            docs = self._mention_docs(
                "SELECT d.doc FROM mentions m JOIN mention_docs d ON d.rid = m.rid"
                " WHERE m.fetched_at >= ? ORDER BY m.fetched_at DESC, m.rid",
                (day,),
            )
            if self._new_mentions:
                docs = [d for d in docs if d["id"] not in self._new_mentions]
                docs += [d for d in self._new_mentions.values() if d["fetched_at"] >= day]
        return docs

    def search_mentions(
        self,
        query: MentionQuery,
        now: datetime,
        negative_threshold: float,
        positive_threshold: float,
    ) -> tuple[list[dict[str, Any]], int]:
        """Matching records, newest first: the page asked for and the total count."""
        want = query.offset + query.limit
        skip = 0 if self._new_mentions else query.offset
        with self._lock:
            plan = self._search_plan(query, now, negative_threshold, positive_threshold)
            total = plan.count(self._db)
            rids = plan.page(self._db, total, want - skip, skip)
            docs = dict(
                self._db.execute(
                    f"SELECT rid, doc FROM mention_docs WHERE rid IN ({','.join('?' * len(rids))})",
                    rids,
                ).fetchall()
            )
            page = [json.loads(docs[r]) for r in rids]
            if not self._new_mentions:
                return page, total
            # A dry run's own mentions are matched in Python and merged in.
            extra, n = search_records(
                list(self._new_mentions.values()),
                MentionQuery(**{**query.__dict__, "offset": 0, "limit": want}),
                now,
                negative_threshold,
                positive_threshold,
            )
        page = [d for d in page if d["id"] not in self._new_mentions] + extra
        page.sort(key=lambda d: d.get("published") or d.get("fetched_at") or "", reverse=True)
        return page[query.offset : want], total + n

    def _search_plan(
        self, query: MentionQuery, now: datetime, negative: float, positive: float
    ) -> _SearchPlan:
        plan = _SearchPlan()
        cutoff = (now - query.since).astimezone(UTC).isoformat()
        oldest = self._db.execute("SELECT min(at) FROM mentions").fetchone()[0]
        if oldest is None or cutoff > oldest:  # (a range that holds everything needs no test)
            plan.where("at >= ?", cutoff)
            # rows in the time range (from the index alone): what a walk would read at most
            plan.size = self._db.execute(
                "SELECT count(*) FROM mentions WHERE at >= ?", (cutoff,)
            ).fetchone()[0]
        else:
            plan.size = self._db.execute("SELECT max(rid) FROM mentions").fetchone()[0] or 0
        if query.brand:
            plan.where("instr(brands_cf, ?) > 0", SEP + query.brand.casefold() + SEP)
        if query.source:
            plan.where("source_cf = ?", query.source.casefold())
        for flag in dict.fromkeys(query.flags):
            plan.where("instr(flags, ?) > 0", SEP + flag.casefold() + SEP)
        if query.sentiment == "negative":
            plan.where("sentiment < ?", negative)
        elif query.sentiment == "positive":
            plan.where("sentiment >= ?", positive)
        elif query.sentiment == "neutral":
            plan.where("sentiment >= ? AND sentiment < ?", negative, positive)
        for word in normalized_words(query):
            pattern = mark_words(word)
            # The same test, as an index lookup where there is one and as a scan of the
            # text column: the page picks whichever is cheaper.
            if self.fts and len(pattern) >= 3:
                plan.index("mention_text", '"' + pattern.replace('"', '""') + '"', pattern)
            elif self.fts and _CJK_RUN.fullmatch(word):
                plan.index("mention_grams", f'"{word}"', pattern)
            else:
                plan.where("instr(search, ?) > 0", pattern)
        return plan

    def count_mentions(self) -> int:
        with self._lock:
            n = self._db.execute("SELECT count(*) FROM mentions").fetchone()[0]
            return n + len(self._new_mentions)

    # --- alerts -----------------------------------------------------------------------------

    def next_alert_ids(self, count: int) -> list[str]:
        with self._tx():
            first = int(self.get_state("alert_seq", 0)) + 1
            self.set_state("alert_seq", first + count - 1)
        return [f"A{n}" for n in range(first, first + count)]

    def _put_alerts(self, alerts: list[Alert], archived: bool = False) -> None:
        rows = []
        for alert in alerts:
            n = _alert_number(alert.id)
            if n is None:
                raise ValueError(f"bad alert id {alert.id!r}")
            rows.append(
                (
                    n,
                    alert.status,
                    alert.created_at,
                    alert.resolved_at,
                    alert.kind,
                    alert.dedup_key,
                    _signed64(alert.fingerprint),
                    int(archived),
                    _dumps(alert.to_dict()),
                )
            )
        self._db.executemany(
            "INSERT INTO alerts(n, status, created_at, resolved_at, kind, dedup_key, fingerprint,"
            " archived, doc) VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT(n) DO UPDATE SET"
            " status = excluded.status, fingerprint = excluded.fingerprint,"
            " created_at = excluded.created_at, resolved_at = excluded.resolved_at,"
            " kind = excluded.kind, dedup_key = excluded.dedup_key,"
            " archived = excluded.archived, doc = excluded.doc",
            rows,
        )

    def _alerts(self, sql: str, params: Iterable[Any] = ()) -> list[Alert]:
        """Alerts from `SELECT n, doc ...`, each a fresh copy."""
        return [self._parse_alert(n, doc) for n, doc in self._db.execute(sql, tuple(params))]

    def _parse_alert(self, n: int, doc: str) -> Alert:
        # Parsing JSON is most of what reading an alert costs, and grouping reads a few days
        # of alerts every poll. The cache is keyed by the stored text itself, so it can
        # never be stale: a changed alert has a different text.
        cached = self._alert_cache.get(n)
        if cached is None or cached[0] != doc:
            if len(self._alert_cache) >= ALERT_CACHE:
                self._alert_cache.clear()
            cached = (doc, Alert.from_dict(json.loads(doc)))
            self._alert_cache[n] = cached
        # A copy with its own lists and dicts (callers change them; their items are plain
        # values or history entries, never changed in place), made without the dataclass
        # machinery: grouping copies thousands of alerts every poll.
        copy = object.__new__(Alert)
        copy.__dict__.update(
            {k: v.copy() if type(v) in (list, dict) else v for k, v in cached[1].__dict__.items()}
        )
        return copy

    def get_alert(self, alert_id: str) -> Alert | None:
        n = _alert_number(alert_id)
        if n is None:
            return None
        with self._lock:
            found = self._alerts("SELECT n, doc FROM alerts WHERE n = ?", (n,))
        return found[0] if found else None

    def archive_alerts(self, resolved_before: datetime) -> int:
        """Mark alerts resolved before then (with nothing left to send) archived: find_alerts
        and active_alerts skip them, get_alert still finds them. Nothing moves: an index
        keeps open alerts fast whatever the table holds."""
        stamp = resolved_before.astimezone(UTC).isoformat()
        with self._tx() as db:
            cur = db.execute(
                "UPDATE alerts SET archived = 1 WHERE archived = 0 AND status = 'resolved'"
                " AND resolved_at > '' AND resolved_at < ?"
                " AND 'A' || n NOT IN (SELECT alert_id FROM outbox WHERE alert_id IS NOT NULL)",
                (stamp,),
            )
            return cur.rowcount

    def find_alerts(self, predicate: Callable[[Alert], bool]) -> list[Alert]:
        with self._lock:
            alerts = self._alerts("SELECT n, doc FROM alerts WHERE archived = 0 ORDER BY n")
        return [a for a in alerts if predicate(a)]

    def active_alerts(self, created_since: str = "") -> list[Alert]:
        """Alerts not resolved, and (with `created_since`) resolved ones created at or after
        it; archived ones left out. In id order."""
        with self._lock:
            alerts = self._alerts(
                "SELECT n, doc FROM alerts WHERE status != 'resolved' AND archived = 0"
            )
            if created_since:
                alerts += self._alerts(
                    "SELECT n, doc FROM alerts WHERE created_at >= ? AND status = 'resolved'"
                    " AND archived = 0",
                    (created_since,),
                )
        alerts.sort(key=lambda a: _alert_number(a.id) or 0)
        return alerts

    def grouping_candidates(
        self,
        keys: Iterable[str],
        created_since: str,
        active_since: str,
        near: tuple[list[int], int] | None = None,
    ) -> list[Alert]:
        """See Repository.grouping_candidates."""
        keys = list(dict.fromkeys(keys))
        found: dict[int, str] = {}
        with self._lock:
            recent = "created_at >= ? AND archived = 0"
            queries: list[tuple[str, list[Any]]] = [
                (
                    "SELECT n, doc FROM alerts WHERE status != 'resolved' AND archived = 0"
                    " AND (kind = 'storm' OR created_at >= ?)",
                    [active_since],
                ),
                (
                    f"SELECT n, doc FROM alerts WHERE {recent} AND created_at >= ?",
                    [created_since, active_since],
                ),
            ]
            if near is None:
                queries.append((f"SELECT n, doc FROM alerts WHERE {recent}", [created_since]))
            elif near[0]:
                # SimHash distance in SQL: only alerts near one of the mentions are parsed.
                self._near = ([int(f) for f in near[0] if f], int(near[1]))
                queries.append(
                    (
                        f"SELECT n, doc FROM alerts WHERE {recent} AND fingerprint != 0"
                        " AND bw_near(fingerprint)",
                        [created_since],
                    )
                )
            for i in range(0, len(keys), CHUNK):
                chunk = keys[i : i + CHUNK]
                marks = ",".join("?" * len(chunk))
                queries.append(
                    (
                        "SELECT n, doc FROM alerts WHERE (status != 'resolved' OR created_at >= ?)"
                        f" AND archived = 0 AND dedup_key IN ({marks})",
                        [created_since, *chunk],
                    )
                )
            for sql, params in queries:
                found.update(self._db.execute(sql, params).fetchall())
            return [self._parse_alert(n, found[n]) for n in sorted(found)]

    def _is_near(self, fingerprint: int) -> bool:
        fingerprints, max_distance = self._near
        return any((fingerprint ^ f).bit_count() <= max_distance for f in fingerprints)

    def change_alert(
        self,
        alert_id: str,
        change: Callable[[Alert], T],
        outbox: Callable[[Alert, T], list[OutboxItem]] | None = None,
    ) -> T | None:
        n = _alert_number(alert_id)
        if n is None:
            return None
        with self._tx() as db:
            row = db.execute("SELECT doc, archived FROM alerts WHERE n = ?", (n,)).fetchone()
            if row is None or row[1]:
                return None
            alert = self._parse_alert(n, row[0])
            result = change(alert)
            self._put_alerts([alert])
            if outbox:
                self._insert_outbox(outbox(alert, result))
            return result

    # --- outbox -----------------------------------------------------------------------------

    def _insert_outbox(self, items: list[OutboxItem]) -> None:
        if not items:
            return
        first = int(self.get_state("outbox_seq", 0)) + 1
        self.set_state("outbox_seq", first + len(items) - 1)
        rows = []
        for seq, item in enumerate(items, first):
            item.id = item.id or f"o{seq}"
            rows.append((seq, item.alert_id or None, _dumps(item.to_dict())))
        self._db.executemany(
            "INSERT OR REPLACE INTO outbox(seq, alert_id, doc) VALUES (?,?,?)", rows
        )

    def add_outbox(self, items: list[OutboxItem], state: dict[str, Any] | None = None) -> None:
        with self._tx():
            for key, value in (state or {}).items():
                self.set_state(key, value)
            self._insert_outbox(items)

    def pending_outbox(self) -> list[OutboxItem]:
        with self._lock:
            rows = self._db.execute("SELECT doc FROM outbox ORDER BY seq").fetchall()
        return [OutboxItem.from_dict(json.loads(r[0])) for r in rows]

    def dead_letters(self) -> list[OutboxItem]:
        with self._lock:
            rows = self._db.execute("SELECT doc FROM dead_letters ORDER BY seq").fetchall()
        return [OutboxItem.from_dict(json.loads(r[0])) for r in rows]

    def save_outbox(
        self, item: OutboxItem, refs: list[tuple[str, str, dict[str, str]]] | None = None
    ) -> None:
        """Sent items leave the outbox, dead ones move to the dead letters, others stay with
        their new retry time; `refs` record where alerts' messages now live, in one write."""
        seq = int(item.id.removeprefix("o"))
        with self._tx() as db:
            if item.status == OutboxStatus.PENDING:
                db.execute(
                    "INSERT OR REPLACE INTO outbox(seq, alert_id, doc) VALUES (?,?,?)",
                    (seq, item.alert_id or None, _dumps(item.to_dict())),
                )
            else:
                db.execute("DELETE FROM outbox WHERE seq = ?", (seq,))
                if item.status == OutboxStatus.DEAD:
                    db.execute(
                        "INSERT OR REPLACE INTO dead_letters(seq, doc) VALUES (?,?)",
                        (seq, _dumps(item.to_dict())),
                    )
            for alert_id, destination, ref in refs or []:
                n = _alert_number(alert_id)
                row = db.execute("SELECT doc, archived FROM alerts WHERE n = ?", (n,)).fetchone()
                if row is not None:
                    alert = Alert.from_dict(json.loads(row[0]))
                    alert.messages[destination] = ref
                    self._put_alerts([alert], archived=bool(row[1]))

    def replace_outbox(self, old: list[OutboxItem], new: OutboxItem) -> None:
        """Swap several pending items for one (a batch) in the place of the first."""
        seqs = [int(o.id.removeprefix("o")) for o in old]
        with self._tx() as db:
            db.executemany("DELETE FROM outbox WHERE seq = ?", ((s,) for s in seqs))
            new.id = f"o{min(seqs)}"
            db.execute(
                "INSERT INTO outbox(seq, alert_id, doc) VALUES (?,?,?)",
                (min(seqs), new.alert_id or None, _dumps(new.to_dict())),
            )

    # --- small state: one row per key, so a source's state saves only that source -----------

    def save_file(self, relative: str, data: bytes) -> Path | None:
        return save_derived_file(self.data_dir, relative, data, self.read_only)

    def get_state(self, key: str, default: Any = None) -> Any:
        with self._lock:
            row = self._db.execute("SELECT value FROM state WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else default

    def set_state(self, key: str, value: Any) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT INTO state(key, value) VALUES (?, ?)"
                " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, _dumps(value)),
            )

    def all_state(self) -> dict[str, Any]:
        with self._lock:
            rows = self._db.execute("SELECT key, value FROM state").fetchall()
        return {k: json.loads(v) for k, v in rows}

    def close(self) -> None:
        with self._lock:
            if self._db is None:
                return
            if not self.read_only:
                # Back to a rollback journal when no one else has the file open: readers
                # (dry runs, queries) then create no -wal/-shm files next to it.
                with contextlib.suppress(sqlite3.DatabaseError):
                    self._db.execute("PRAGMA busy_timeout = 0")
                    self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                    self._db.execute("PRAGMA journal_mode = DELETE")
            self._db.close()
            self._db = None  # type: ignore[assignment]
            if self._process_lock is not None:
                self._process_lock.release()
                self._process_lock = None
