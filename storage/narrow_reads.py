"""The Repository's narrow reads (`status`'s counts and page, the SLA check's candidates, the
storm watch's counts, the digest's paged alerts), done where the records are.

- SQLReads: the SQL stores (SQLite, PostgreSQL). Counts come from indexed columns; alerts
  are parsed only for the page asked for; the SLA check's fields are read from the stored
  JSON by the database (json_extract), so no alert is parsed in Python; mention counts read
  the narrow `at`, `brands_cf` and `sentiment` columns (SQLite: one covering index).
- ScanReads: a store that holds its alerts in memory anyway (TinyDB): the same answers,
  from active_alerts and iter_mentions.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

from core.domain.models import Alert, SlaView, Status, from_iso, to_iso
from storage.common import alert_number
from storage.mention_search import SEP, said

ALERT_PAGE = 1000  # alerts read at a time by iter_alerts
# What the SLA check reads of an alert, in SlaView's order after id, status and created_at.
SLA_FIELDS = ("route", "sla_from", "snoozed_until", "escalations", "storm_of")


def count_spans(
    docs: Iterable[dict[str, Any]],
    brand: str,
    spans: Sequence[tuple[datetime, datetime]],
    negative_below: float,
) -> list[tuple[int, int]]:
    """count_mentions_between over mention records (read-only overlays, TinyDB)."""
    wanted = brand.casefold()
    counts = [[0, 0] for _ in spans]
    for doc in docs:
        if wanted not in {str(b).casefold() for b in doc.get("brands") or ()}:
            continue
        try:
            when = from_iso(said(doc))
        except (TypeError, ValueError):
            continue
        if when is None:
            continue
        negative = float(doc.get("sentiment") or 0.0) < negative_below
        for i, (start, end) in enumerate(spans):
            if start <= when < end:
                counts[i][0] += 1
                counts[i][1] += negative
    return [(total, neg) for total, neg in counts]


def _order_key(statuses: Sequence[str]) -> Callable[[Alert], tuple[int, str, int]]:
    rank = {s: i for i, s in enumerate(statuses)}
    return lambda a: (rank[a.status], a.created_at, alert_number(a.id) or 0)


def _sla_wanted(v: SlaView, storm_of: str, routes: Collection[str], woken_by: str) -> bool:
    if storm_of:
        return False
    if v.status == Status.OPEN:
        return v.route in routes
    return v.status == Status.SNOOZED and "" < v.snoozed_until <= woken_by


class ScanReads(ABC):
    """The narrow reads over active_alerts and iter_mentions."""

    @abstractmethod
    def active_alerts(self, created_since: str = "") -> list[Alert]: ...

    @abstractmethod
    def iter_mentions(self, since: datetime | None) -> Iterable[dict[str, Any]]: ...

    @abstractmethod
    def find_alerts(self, predicate: Callable[[Alert], bool]) -> list[Alert]: ...

    def iter_alerts(self) -> Iterable[Alert]:
        return iter(self.find_alerts(lambda a: True))

    def count_active_alerts(self) -> dict[str, int]:
        return dict(Counter(a.status for a in self.active_alerts()))

    def oldest_active_alerts(
        self, statuses: Sequence[str], limit: int, offset: int = 0
    ) -> list[Alert]:
        wanted = [a for a in self.active_alerts() if a.status in statuses]
        return sorted(wanted, key=_order_key(statuses))[offset : offset + limit]

    def sla_candidates(self, routes: Collection[str], woken_by: str) -> list[SlaView]:
        views = [
            (
                SlaView(
                    a.id,
                    a.status,
                    a.route,
                    a.created_at,
                    a.sla_from,
                    a.snoozed_until,
                    a.escalations,
                ),
                a.storm_of,
            )
            for a in self.active_alerts()
        ]
        return [v for v, storm_of in views if _sla_wanted(v, storm_of, routes, woken_by)]

    def count_mentions_between(
        self, brand: str, spans: Sequence[tuple[datetime, datetime]], negative_below: float
    ) -> list[tuple[int, int]]:
        if not spans:
            return []
        docs = self.iter_mentions(min(start for start, _ in spans))
        return count_spans(docs, brand, spans, negative_below)


class SQLReads(ABC):
    """The narrow reads in SQL that SQLite and PostgreSQL both run (NOT archived, count(*)
    FILTER and LIKE ... ESCAPE mean the same in both)."""

    _param = "%s"

    @abstractmethod
    def _page(self, sql: str, params: tuple[Any, ...]) -> list[Any]:
        """Run one query (under the store's lock or in a transaction): its rows."""

    @abstractmethod
    def _parse_alert(self, n: int, doc: str) -> Alert: ...

    @abstractmethod
    def _json_fields(self, names: Sequence[str]) -> str:
        """An SQL expression: the alert doc's fields `names` as a JSON array (text)."""

    def _overlay_docs(self) -> Iterable[dict[str, Any]] | None:
        """A read-only store's mentions "stored" in memory this run; None when there are none."""
        return None

    @abstractmethod
    def iter_mentions(self, since: datetime | None) -> Iterable[dict[str, Any]]: ...

    def iter_alerts(self) -> Iterator[Alert]:
        p, after = self._param, 0
        while True:
            rows = self._page(
                f"SELECT n, doc FROM alerts WHERE NOT archived AND n > {p} ORDER BY n LIMIT {p}",
                (after, ALERT_PAGE),
            )
            # Parsed here, not through a store's cache of recent alerts (which they would
            # only push out).
            yield from (Alert.from_dict(json.loads(doc)) for _, doc in rows)
            if len(rows) < ALERT_PAGE:
                return
            after = rows[-1][0]

    def count_active_alerts(self) -> dict[str, int]:
        rows = self._page(
            "SELECT status, count(*) FROM alerts WHERE status != 'resolved' GROUP BY status", ()
        )
        return {str(status): int(n) for status, n in rows}

    def oldest_active_alerts(
        self, statuses: Sequence[str], limit: int, offset: int = 0
    ) -> list[Alert]:
        statuses = [s for s in statuses if s != Status.RESOLVED]
        if not statuses or limit <= 0:
            return []
        p = self._param
        rank = " ".join(f"WHEN {p} THEN {i}" for i in range(len(statuses)))
        # The numbers first (no doc read for the alerts skipped), then only their docs.
        numbers = [
            n
            for (n,) in self._page(
                f"SELECT n FROM alerts WHERE status != 'resolved' AND status IN"
                f" ({','.join([p] * len(statuses))}) ORDER BY CASE status {rank} END,"
                f" created_at, n LIMIT {p} OFFSET {p}",
                (*statuses, *statuses, limit, max(offset, 0)),
            )
        ]
        if not numbers:
            return []
        docs = dict(
            self._page(
                f"SELECT n, doc FROM alerts WHERE n IN ({','.join([p] * len(numbers))})",
                tuple(numbers),
            )
        )
        return [self._parse_alert(n, docs[n]) for n in numbers if n in docs]

    def sla_candidates(self, routes: Collection[str], woken_by: str) -> list[SlaView]:
        # The open ones only when a route has an SLA (the default config has none): the
        # snoozed ones are few.
        wanted = "'snoozed', 'open'" if routes else "'snoozed'"
        rows = self._page(
            f"SELECT n, status, created_at, {self._json_fields(SLA_FIELDS)} FROM alerts"
            f" WHERE status != 'resolved' AND status IN ({wanted}) ORDER BY n",
            (),
        )
        out = []
        for n, status, created_at, extracted in rows:
            route, sla_from, snoozed_until, escalations, storm_of = json.loads(extracted)
            view = SlaView(
                f"A{n}",
                str(status),
                str(route or ""),
                str(created_at),
                str(sla_from or ""),
                str(snoozed_until or ""),
                int(escalations or 0),
            )
            if _sla_wanted(view, str(storm_of or ""), routes, woken_by):
                out.append(view)
        return out

    def count_mentions_between(
        self, brand: str, spans: Sequence[tuple[datetime, datetime]], negative_below: float
    ) -> list[tuple[int, int]]:
        if not spans:
            return []
        overlay = self._overlay_docs()
        if overlay is not None:  # a dry run's own mentions: counted from the records
            docs = self.iter_mentions(min(start for start, _ in spans))
            return count_spans(docs, brand, spans, negative_below)
        p = self._param
        tag = SEP + brand.casefold() + SEP
        like = "%" + tag.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        counted = (
            f"count(*), count(*) FILTER (WHERE sentiment < {p}) FROM mentions"
            f" WHERE at >= {p} AND at < {p} AND brands_cf LIKE {p} ESCAPE '\\'"
        )
        params: list[Any] = []
        for start, end in spans:
            params += [negative_below, to_iso(start), to_iso(end), like]
        sql = " UNION ALL ".join(f"SELECT {i}, {counted}" for i in range(len(spans)))
        rows = self._page(sql, tuple(params))
        counts = {int(i): (int(total), int(neg or 0)) for i, total, neg in rows}
        return [counts[i] for i in range(len(spans))]
