"""The digest: what happened to a brand (or all brands) in a period, from stored records.

Pure computation: `compute_digest` reads mention records and alerts in one pass and returns
figures; core/reports/digest_text.py writes them as plain text that every platform escapes
and formats for itself (Slack mrkdwn, DingTalk markdown, the console).

Periods are in local time: the daily digest covers the day that ended at the digest time,
[D-1 09:00, D 09:00) local, which is 23 or 25 hours long on a DST change day.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any

from core.domain.models import Alert, Status, from_iso
from core.reports.query import sentiment_kind
from rules.text import cap, one_line
from rules.titles import telling_title

HOURLY_UP_TO = timedelta(days=2)  # longer periods are bucketed by day
BASELINE_DAYS = 7
ANSWERED = {Status.ACKED, Status.ASSIGNED, Status.RESOLVED}
TITLE_CHARS = 90


# --- periods --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """[start, end) as aware local datetimes (wall-clock arithmetic happens in `tz`)."""

    start: datetime
    end: datetime
    daily: bool = False  # the scheduled digest's day, not a rolling "last N hours"

    @property
    def tz(self) -> tzinfo:
        assert self.start.tzinfo is not None
        return self.start.tzinfo

    @property
    def span(self) -> timedelta:
        """The wall-clock length (1 day for a daily digest, even on a DST change day)."""
        return self.end.replace(tzinfo=None) - self.start.replace(tzinfo=None)

    @property
    def hours(self) -> float:
        # Real elapsed time: aware datetimes sharing a tzinfo subtract as wall-clock times.
        return (self.end.astimezone(UTC) - self.start.astimezone(UTC)).total_seconds() / 3600


def local_moment(day: date, at: time, tz: tzinfo) -> datetime:
    """`at` on `day` in `tz` as a real instant: a time skipped by DST counts as the moment
    the clocks jumped past it, a repeated time as its first occurrence."""
    naive = datetime.combine(day, at)
    moment = naive.replace(tzinfo=tz)
    # zoneinfo maps a skipped wall time with the offset from before the jump; round-tripping
    # through UTC gives the wall time the clocks actually showed.
    return moment.astimezone(UTC).astimezone(tz)


def daily_period(day: date, at: time, tz: tzinfo) -> Period:
    """The day that ends at `at` on `day`: what the digest sent then reports."""
    start, end = local_moment(day - timedelta(days=1), at, tz), local_moment(day, at, tz)
    return Period(start, end, daily=True)


def rolling_period(now: datetime, length: timedelta, tz: tzinfo) -> Period:
    """The last `length` up to `now` (on demand: `digest since:7d`)."""
    end = now.astimezone(tz)
    return Period((now - length).astimezone(tz), end)


def parse_hhmm(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


# --- the figures ----------------------------------------------------------------------------


@dataclass
class Bucket:
    start: datetime  # local
    negative: int = 0
    neutral: int = 0
    positive: int = 0

    @property
    def total(self) -> int:
        return self.negative + self.neutral + self.positive


@dataclass
class MentionRef:
    id: str
    title: str
    url: str
    source: str
    author: str
    when: datetime | None
    sentiment: float
    reach: int
    kol_tier: str = ""
    aspects: list[str] = field(default_factory=list)


@dataclass
class QuestionRef:
    alert_id: str
    title: str
    url: str
    source: str
    waiting: timedelta


@dataclass
class KolActivity:
    author: str
    tier: str
    reach: int
    mentions: int
    sentiment: float  # mean


@dataclass
class AspectStat:
    name: str
    total: int = 0
    negative: int = 0
    neutral: int = 0
    positive: int = 0
    sentiment_sum: float = 0.0

    @property
    def sentiment(self) -> float:
        return self.sentiment_sum / self.total if self.total else 0.0


@dataclass
class Digest:
    brand: str | None
    period: Period
    bucket: timedelta
    total: int = 0
    previous: int = 0  # the period of the same length just before
    baseline_total: int = 0  # the 7 days before the period
    negative: int = 0
    neutral: int = 0
    positive: int = 0
    buckets: list[Bucket] = field(default_factory=list)
    critical: list[MentionRef] = field(default_factory=list)  # the worst first
    critical_total: int = 0
    top_negative: list[MentionRef] = field(default_factory=list)
    top_reach: list[MentionRef] = field(default_factory=list)
    unanswered: list[QuestionRef] = field(default_factory=list)
    unanswered_total: int = 0
    kols: list[KolActivity] = field(default_factory=list)
    kol_mentions: int = 0
    aspects: list[AspectStat] = field(default_factory=list)
    sources: list[tuple[str, int]] = field(default_factory=list)
    by_day: list[tuple[date, int]] = field(default_factory=list)
    alerts_opened: int = 0
    alerts_acked: int = 0
    alerts_resolved: int = 0
    median_ack: timedelta | None = None

    @property
    def days(self) -> float:
        return self.period.span.total_seconds() / 86400

    @property
    def baseline_per_day(self) -> float:
        return self.baseline_total / BASELINE_DAYS

    @property
    def baseline_per_period(self) -> float:
        """The 7-day average scaled to this period's length."""
        return self.baseline_per_day * self.days


def _when(doc: dict[str, Any]) -> datetime | None:
    try:
        return from_iso(doc.get("published") or doc.get("fetched_at"))
    except (TypeError, ValueError):
        return None


def _is_critical(doc: dict[str, Any]) -> bool:
    return "critical" in (doc.get("flags") or ()) or doc.get("severity") == "critical"


def _ref(doc: dict[str, Any], when: datetime | None) -> MentionRef:
    author = str(doc.get("author") or "")
    # A title that says nothing (转发微博, Repost, the author's name): the text says more.
    title = telling_title(str(doc.get("title") or ""), str(doc.get("text") or ""), author)
    return MentionRef(
        id=str(doc.get("id", "")),
        title=cap(title, TITLE_CHARS),
        url=str(doc.get("url") or ""),
        source=str(doc.get("source") or ""),
        author=cap(one_line(author), 40),
        when=when,
        sentiment=float(doc.get("sentiment") or 0.0),
        reach=int(doc.get("reach") or 0),
        kol_tier=str(doc.get("kol_tier") or ""),
        aspects=[cap(one_line(str(a)), 40) for a in (doc.get("aspects") or ())][:5],
    )


class _Top:
    """The n largest by key, kept in a bounded heap (one pass, little memory)."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.heap: list[tuple[Any, int, Any]] = []
        self.seq = 0

    def offer(self, key: Any, item: Any) -> None:
        self.seq += 1
        entry = (key, -self.seq, item)  # on equal keys, the earlier offer wins
        if len(self.heap) < self.n:
            heapq.heappush(self.heap, entry)
        elif entry > self.heap[0]:
            heapq.heapreplace(self.heap, entry)

    def items(self) -> list[Any]:
        return [item for _, _, item in sorted(self.heap, reverse=True)]


def compute_digest(
    mentions: Iterable[dict[str, Any]],
    alerts: Iterable[Alert],
    period: Period,
    now: datetime,
    *,
    brand: str | None = None,
    negative_threshold: float = -0.2,
    positive_threshold: float = 0.5,
    top: int = 5,
) -> Digest:
    """Every figure of the digest, in one pass over the mention records."""
    tz = period.tz
    start, end = period.start.astimezone(UTC), period.end.astimezone(UTC)
    prev_start = (period.start - period.span).astimezone(UTC)  # wall-clock: a day is a day
    base_start = (period.start - timedelta(days=BASELINE_DAYS)).astimezone(UTC)
    earliest = min(prev_start, base_start)
    hourly = period.span <= HOURLY_UP_TO
    step = timedelta(hours=1) if hourly else timedelta(days=1)
    if hourly:
        n_buckets = max(1, -(-int((end - start).total_seconds()) // 3600))
        buckets = [Bucket((start + i * step).astimezone(tz)) for i in range(n_buckets)]
    else:
        # Calendar days, so a day's label is the day its mentions were said (24-hour windows
        # from a rolling period's start put a day's mentions under the day before's date).
        first_day = period.start.date()
        last_day = (period.end - timedelta(microseconds=1)).date()
        n_buckets = max(1, (last_day - first_day).days + 1)
        buckets = [
            Bucket(datetime.combine(first_day + timedelta(days=i), time(), tzinfo=tz))
            for i in range(n_buckets)
        ]
    d = Digest(brand=brand, period=period, bucket=step, buckets=buckets)

    wanted = brand.casefold() if brand else None
    worst, widest, critical = _Top(top), _Top(top), _Top(top)
    sources: Counter[str] = Counter()
    days: Counter[date] = Counter()
    aspects: dict[str, AspectStat] = {}
    kols: dict[str, list[Any]] = {}
    for doc in mentions:
        if wanted and wanted not in (str(b).casefold() for b in doc.get("brands") or ()):
            continue
        when = _when(doc)
        if when is None or when < earliest or when >= end:
            continue
        if when < start:
            if when >= prev_start:
                d.previous += 1
            if when >= base_start:
                d.baseline_total += 1
            continue
        score = float(doc.get("sentiment") or 0.0)
        kind = sentiment_kind(score, negative_threshold, positive_threshold)
        d.total += 1
        setattr(d, kind, getattr(d, kind) + 1)
        local = when.astimezone(tz)
        if hourly:
            index = int((when - start).total_seconds() // 3600)
        else:
            index = (local.date() - first_day).days
        bucket = buckets[min(index, n_buckets - 1)]
        setattr(bucket, kind, getattr(bucket, kind) + 1)
        days[local.date()] += 1
        sources[str(doc.get("source") or "?")] += 1
        for name in doc.get("aspects") or ():
            stat = aspects.setdefault(name, AspectStat(name))
            stat.total += 1
            stat.sentiment_sum += score
            setattr(stat, kind, getattr(stat, kind) + 1)
        reach = int(doc.get("reach") or 0)
        # Critical whatever its score: a regulator's fine reads as neutral news (-0.04).
        if _is_critical(doc):
            d.critical_total += 1
            critical.offer((-score, reach), (doc, when))
        if kind == "negative":
            worst.offer((-score, reach), (doc, when))
        if reach > 0:
            widest.offer((reach, -score), (doc, when))
        if "kol" in (doc.get("flags") or ()) or doc.get("kol_tier"):
            d.kol_mentions += 1
            author = one_line(str(doc.get("author") or "?"))
            entry = kols.setdefault(author.casefold(), [author, "", 0, 0, 0.0])
            entry[1] = entry[1] or str(doc.get("kol_tier") or "")
            entry[2] = max(entry[2], reach)
            entry[3] += 1
            entry[4] += score

    d.critical = [_ref(doc, when) for doc, when in critical.items()]
    d.top_negative = [_ref(doc, when) for doc, when in worst.items()]
    d.top_reach = [_ref(doc, when) for doc, when in widest.items()]
    d.sources = sources.most_common(top)
    d.by_day = sorted(days.items())
    d.aspects = sorted(aspects.values(), key=lambda a: (-a.total, a.name))
    d.kols = sorted(
        (
            KolActivity(cap(a, 40), tier, reach, n, total / n)
            for a, tier, reach, n, total in kols.values()
        ),
        key=lambda k: (-k.reach, -k.mentions, k.author),
    )[:top]
    _alert_figures(d, alerts, start, end, now, wanted, top)
    return d


def _alert_figures(
    d: Digest,
    alerts: Iterable[Alert],
    start: datetime,
    end: datetime,
    now: datetime,
    wanted: str | None,
    top: int,
) -> None:
    def within(stamp: str) -> datetime | None:
        when = from_iso(stamp) if stamp else None
        return when if when is not None and start <= when < end else None

    ack_times: list[timedelta] = []
    waiting: list[tuple[datetime, Alert]] = []
    for a in alerts:
        if wanted and a.brand.casefold() != wanted:
            continue
        if getattr(a, "kind", "mention") != "mention":  # a burst summary, not a mention
            continue
        created = from_iso(a.created_at)
        if created is None:
            continue
        if within(a.created_at):
            d.alerts_opened += 1
        acked = within(a.acked_at)
        if acked:
            d.alerts_acked += 1
            ack_times.append(acked - created)
        if within(a.resolved_at):
            d.alerts_resolved += 1
        if "question" in a.flags and created < end and not a.acked_at and a.status not in ANSWERED:
            waiting.append((created, a))
    d.median_ack = _median(ack_times) if ack_times else None
    waiting.sort(key=lambda pair: (pair[0], pair[1].id))
    d.unanswered_total = len(waiting)
    for created, a in waiting[:top]:
        s = a.summary
        title = telling_title(
            str(s.get("title") or ""), str(s.get("text") or ""), str(s.get("author") or "")
        )
        d.unanswered.append(
            QuestionRef(
                alert_id=a.id,
                title=cap(title, TITLE_CHARS),
                url=str(s.get("url") or ""),
                source=str(s.get("source") or ""),
                waiting=max(timedelta(0), now - created),
            )
        )


def _median(values: list[timedelta]) -> timedelta:
    """statistics.median for durations (its typing accepts numbers only): the middle one,
    or the mean of the middle two."""
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2
