"""The SQLite store's reads of mentions: the `mentions` query's plan, with the same answer as
core.reports.query.search_records over every record, and the paged read of a period.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from core.domain.query import MentionQuery
from core.reports.query import normalized_words
from storage.common import scalar
from storage.mention_search import CJK_RUN, SEP, mark_words, said
from storage.sqlite_mentions import RID_BITS, RID_MASK, SENTIMENT_CUTS, hour, tag

ITER_ROWS = 5000  # mentions read at a time by mentions_said_since
PageReader = Callable[[str, tuple[Any, ...]], list[tuple[str, int, str]]]


def mentions_said_since(
    read_page: PageReader, day: str, overlay: dict[str, dict[str, Any]]
) -> Iterator[dict[str, Any]]:
    """Records said on or after `day`, newest first, ITER_ROWS at a time (`read_page` runs one
    page's SQL under the store's lock), then the read-only overlay's own new records."""
    select = (
        "SELECT m.at, m.rid, d.doc FROM mentions m JOIN mention_docs d"
        " ON d.rid = m.rid WHERE m.at >= ?"
    )
    order = " ORDER BY m.at DESC, m.rid LIMIT ?"
    rows = read_page(select + order, (day, ITER_ROWS))
    while rows:
        for _, _, doc in rows:
            record = json.loads(doc)
            if record["id"] not in overlay:
                yield record
        if len(rows) < ITER_ROWS:
            break
        # The next page: after the last row in this order (keyset, not OFFSET).
        after, rid = rows[-1][0], rows[-1][1]
        rows = read_page(
            # (a range on the time index, not an OR that would scan it all)
            select + " AND m.at <= ? AND NOT (m.at = ? AND m.rid <= ?)" + order,
            (day, after, after, rid, ITER_ROWS),
        )
    yield from (d for d in overlay.values() if said(d) >= day)


class SearchPlan:
    """One `mentions` query as SQL: conditions on the filter columns, and full-text terms
    (words, and the filter tags of schema 4) that run as index lookups, each with an
    equivalent test on the row (a substring of the text column, or the filter's condition),
    so the page can walk the time index instead, with the same answer."""

    # When at least one row in this many matches, the newest page is found sooner by
    # walking the time index and testing the text than by collecting every index hit.
    WALK_BELOW = 50
    # Sparser: a walk of the newest rows first, SPARE times as many as would hold the page
    # if the matches were spread evenly, plus EXTRA; tried when it reads at most
    # WALK_PER_HIT rows per hit (else sorting the hits costs about as much, and a walk that
    # came back short would double the cost).
    SPARE = 4
    EXTRA = 100
    WALK_PER_HIT = 2

    def __init__(self) -> None:
        self.conds: list[str] = []  # tested on the rows (not answered by the index)
        self.params: list[Any] = []
        self.tagged: list[str] = []  # answered by the index's tags: tested on a walk only
        self.tagged_params: list[Any] = []
        self.terms: dict[str, list[str]] = {}  # fts table: MATCH terms, AND-ed
        self.substrings: list[str] = []  # the words' test on the text column
        self.since: tuple[str, int] | None = None  # (cutoff, its hour) if in the index
        self.size = 0  # about how many rows the time range holds
        self.top: list[int] | None = None  # rids of the newest matches, if read with the count

    def where(self, cond: str, *params: Any) -> None:
        self.conds.append(cond)
        self.params.extend(params)

    def index(self, table: str, match: str, substring: str) -> None:
        self.terms.setdefault(table, []).append(match)
        self.substrings.append(substring)

    def tag(self, token: str, cond: str, *params: Any) -> None:
        """A filter answered by the index's tags (with `cond` its test on a row)."""
        table = "mention_grams" if list(self.terms) == ["mention_grams"] else "mention_text"
        self.terms.setdefault(table, []).append(f'"{token}"')
        self.tagged.append(cond)
        self.tagged_params.extend(params)

    def within(self, cutoff: str) -> None:
        """Mentions said at or after `cutoff`, answered by the index's rowids (their time)."""
        self.since = (cutoff, hour(cutoff))
        self.tagged.append("at >= ?")
        self.tagged_params.append(cutoff)

    @property
    def lookups(self) -> bool:
        return bool(self.terms)

    def _hits(self) -> tuple[str, list[Any]]:
        """The rids of the index hits, as SQL. One MATCH per index: FTS5 intersects its own
        doclists, skipping through them, and keeps to the rowid (time) range itself."""
        parts: list[str] = []
        params: list[Any] = []
        for table, terms in self.terms.items():
            parts.append(f"SELECT rowid AS k FROM {table} WHERE {table} MATCH ?")
            params.append(" AND ".join(terms))
            if self.since:
                parts[-1] += " AND rowid >= ?"
                params.append(self.since[1] << RID_BITS)
        sql = f"SELECT k & {RID_MASK} AS hit FROM ({' INTERSECT '.join(parts)})"
        if not self.since:
            return sql, params
        # The cutoff's own hour is in the range whole: its hits' times are read
        cutoff, first = self.since
        sql += f" WHERE k >= ? OR (SELECT at FROM mentions WHERE rid = k & {RID_MASK}) >= ?"
        return sql, [*params, (first + 1) << RID_BITS, cutoff]

    def _row_tests(self) -> tuple[list[str], list[Any]]:
        """Every condition as a test on the row: the filters, the tags' and the words'."""
        conds = [*self.conds, *self.tagged, *("instr(search, ?) > 0" for _ in self.substrings)]
        return conds, [*self.params, *self.tagged_params, *self.substrings]

    def count(self, db: sqlite3.Connection, want: int) -> int:
        """The number of matches (`want`: how many of the newest the page may need)."""
        if self.lookups:
            hits, params = self._hits()
            n_hits = int(scalar(db.execute(f"SELECT count(*) FROM ({hits})", params).fetchone()))
            if not self.conds:
                return n_hits
            # Each hit is read once, in the rid index (it holds every filter column: no wide
            # row is read), and one pass gives both the count and the page: a window count
            # over the matches, the newest `want` of them kept by the sort.
            sql = (
                f"SELECT m.rid, count(*) OVER () FROM ({hits}) AS h"
                " CROSS JOIN mentions AS m INDEXED BY mentions_hits ON m.rid = h.hit WHERE "
                + " AND ".join(self.conds)
                + " ORDER BY m.at DESC, m.rid DESC LIMIT ?"
            )
            found = db.execute(sql, [*params, *self.params, max(want, 1)]).fetchall()
            self.top = [rid for rid, _ in found]
            return int(found[0][1]) if found else 0
        cond = " AND ".join(self.conds) or "1"
        sql = f"SELECT count(*) FROM mentions WHERE {cond}"
        return int(scalar(db.execute(sql, self.params).fetchone()))

    def page(self, db: sqlite3.Connection, total: int, limit: int, offset: int) -> list[int]:
        """The rids of the page, newest first."""
        if offset >= total:  # nothing to show (walking the time index for it would read all)
            return []
        if self.top is not None:
            return self.top[offset : offset + limit]
        conds, params = self._row_tests()
        if not self.lookups or total * self.WALK_BELOW >= self.size:
            return self._walk(db, conds, params, limit, offset)
        # Fewer matches: first a walk of the newest rows where, spread evenly, they would
        # hold the page SPARE times over (a few thousand rows: milliseconds); the page is
        # right if it is full there (any other match is older than all of them).
        need = min(total, offset + limit)
        newest = need * self.size // total * self.SPARE + self.EXTRA
        if newest < self.size and newest <= total * self.WALK_PER_HIT:
            rows = self._walk(db, conds, params, need, 0, newest)
            if len(rows) == need:
                return rows[offset:]
        # Else every hit, its time read from the rid index (no wide row), sorted.
        hits, hit_params = self._hits()
        sql = (
            f"SELECT m.rid FROM ({hits}) AS h CROSS JOIN mentions AS m INDEXED BY mentions_hits"
            " ON m.rid = h.hit WHERE "
            + (" AND ".join(self.conds) or "1")
            + " ORDER BY m.at DESC, m.rid DESC LIMIT ? OFFSET ?"
        )
        return [r[0] for r in db.execute(sql, [*hit_params, *self.params, limit, offset])]

    @staticmethod
    def _walk(
        db: sqlite3.Connection,
        conds: list[str],
        params: list[Any],
        limit: int,
        offset: int,
        newest: int | None = None,
    ) -> list[int]:
        """Walk the time index newest first (its newest `newest` rows only, if given),
        testing every condition on the row."""
        rows = "mentions m"
        if newest is not None:
            rows = (
                "(SELECT rid FROM mentions ORDER BY at DESC, rid DESC LIMIT ?) AS n"
                " CROSS JOIN mentions m ON m.rid = n.rid"
            )
            params = [newest, *params]
        # The page's rows first, from the narrow table; their records after (a join would
        # read the record of every hit before sorting).
        sql = (
            f"SELECT m.rid FROM {rows} WHERE "
            + (" AND ".join(conds) or "1")
            + " ORDER BY m.at DESC, m.rid DESC LIMIT ? OFFSET ?"
        )
        return [r[0] for r in db.execute(sql, [*params, limit, offset])]


def plan_search(
    db: sqlite3.Connection,
    fts: bool,
    query: MentionQuery,
    now: datetime,
    negative: float,
    positive: float,
) -> SearchPlan:
    """The plan of `query` (`fts`: the store has the FTS5 indexes)."""
    plan = SearchPlan()
    cutoff = (now - query.since).astimezone(UTC).isoformat()
    oldest = db.execute("SELECT min(at) FROM mentions").fetchone()[0]
    timed = oldest is None or cutoff > oldest  # (a range that holds everything needs no test)
    if timed:
        # rows in the time range (from the index alone): what a walk would read at most
        plan.size = db.execute("SELECT count(*) FROM mentions WHERE at >= ?", (cutoff,)).fetchone()[
            0
        ]
    else:
        plan.size = db.execute("SELECT max(rid) FROM mentions").fetchone()[0] or 0
    words = normalized_words(query)
    for word in words:
        pattern = mark_words(word)
        # The same test, as an index lookup where there is one and as a scan of the
        # text column: the page picks whichever is cheaper.
        if fts and len(pattern) >= 3:
            plan.index("mention_text", '"' + pattern.replace('"', '""') + '"', pattern)
        elif fts and CJK_RUN.fullmatch(word):
            plan.index("mention_grams", f'"{word}"', pattern)
        else:
            plan.where("instr(search, ?) > 0", pattern)
    # The filters: as the index's tags (schema 4) where it has them, else on the rows.
    filters: list[tuple[str | None, str, list[Any]]] = []
    if query.brand:
        brand = query.brand.casefold()
        filters.append((tag("b", brand), "instr(brands_cf, ?) > 0", [SEP + brand + SEP]))
    if query.source:
        source = query.source.casefold()
        filters.append((tag("s", source), "source_cf = ?", [source]))
    for flag in dict.fromkeys(f.casefold() for f in query.flags):
        filters.append((tag("f", flag), "instr(flags, ?) > 0", [SEP + flag + SEP]))
    rule = {
        "negative": ("sentiment < ?", [negative]),
        "positive": ("sentiment >= ?", [positive]),
        "neutral": ("sentiment >= ? AND sentiment < ?", [negative, positive]),
    }.get(query.sentiment)
    if rule:
        # (tagged by the default thresholds only: other ones are tested on the rows)
        token = tag("m", query.sentiment) if (negative, positive) == SENTIMENT_CUTS else None
        filters.append((token, *rule))
    for token, cond, params in filters:
        if fts and token:
            plan.tag(token, cond, *params)
        else:
            plan.where(cond, *params)
    if timed and plan.lookups:
        plan.within(cutoff)
    elif timed:
        plan.where("at >= ?", cutoff)
    return plan
