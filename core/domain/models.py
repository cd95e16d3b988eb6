"""The records Buzzwatch passes around: mentions, their analysis, alerts.

Plain dataclasses with to_dict/from_dict so storage can keep them as JSON and
every layer above storage stays free of any database type.
"""

from __future__ import annotations

import calendar
import time
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any


def utcnow() -> datetime:
    return datetime.now(UTC)


def to_iso(dt: datetime | None) -> str | None:
    return dt.astimezone(UTC).isoformat() if dt else None


def from_iso(value: str | None) -> datetime | None:
    if not value:
        return None
    dt = datetime.fromisoformat(value)
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


# A publish time before this, or more than FUTURE_SLACK after the fetch, is a placeholder
# (0001-01-01), a broken clock or a lie; and near datetime's limits it overflows on the
# way to UTC or to a reader's time zone. Such a time is treated as unknown.
EARLIEST_PUBLISHED = datetime(1990, 1, 1, tzinfo=UTC)
FUTURE_SLACK = timedelta(days=1)

# The source `bot.py import` files rows under when neither the row nor --source names one:
# a name searches, silences and routes accept although no config section declares it.
IMPORT_SOURCE = "import"


def plausible_time(value: object, now: datetime) -> datetime | None:
    """A publish time from a source, in UTC, or None when it is missing, unreadable or
    implausible (before 1990, or more than a day after `now`): the fetch time stands in.
    A time up to a day ahead (clock skew) becomes `now`.

    Takes a datetime (naive means UTC), an ISO 8601 string, Unix seconds, or a UTC time
    tuple (feedparser's *_parsed). Never raises."""
    try:
        if isinstance(value, datetime):
            dt = value
        elif isinstance(value, str):
            dt = datetime.fromisoformat(value.strip())
        elif isinstance(value, int | float) and not isinstance(value, bool):
            dt = datetime.fromtimestamp(value, UTC)
        elif isinstance(value, tuple | time.struct_time):
            dt = datetime.fromtimestamp(calendar.timegm(value), UTC)
        else:
            return None
        dt = (dt if dt.tzinfo else dt.replace(tzinfo=UTC)).astimezone(UTC)
        if dt < EARLIEST_PUBLISHED or dt > now + FUTURE_SLACK:
            return None
    except (OverflowError, ValueError, OSError, TypeError):
        return None
    return min(dt, now)


def _copy(value: Any) -> Any:
    # Lists and dicts are copied so a record and a stored document never share them; their
    # items are plain values or history entries, which are never changed in place.
    if isinstance(value, list):
        return list(value)
    if isinstance(value, dict):
        return dict(value)
    return value


def _copy_fields(obj: Any) -> dict[str, Any]:
    """A dataclass as a dict, faster than dataclasses.asdict (which deep-copies)."""
    return {name: _copy(value) for name, value in obj.__dict__.items()}


_FIELD_NAMES: dict[type, frozenset[str]] = {}


def _copy_known(cls: type, data: dict[str, Any]) -> dict[str, Any]:
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = frozenset(f.name for f in fields(cls))
    return {k: _copy(v) for k, v in data.items() if k in names}


class Severity(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return list(Severity).index(self)


class Flag(StrEnum):
    NEGATIVE = "negative"
    QUESTION = "question"
    KOL = "kol"
    CRITICAL = "critical"
    POSITIVE = "positive"


class Status(StrEnum):
    OPEN = "open"
    ACKED = "acked"
    ASSIGNED = "assigned"
    RESOLVED = "resolved"
    SNOOZED = "snoozed"


_DATETIME_FIELDS = {"published", "fetched_at"}


@dataclass
class Mention:
    """One public post, comment or article that may speak of a brand."""

    id: str
    source: str
    url: str
    title: str
    text: str
    author: str = ""
    published: datetime | None = None
    fetched_at: datetime = field(default_factory=utcnow)
    lang: str = ""
    metrics: dict[str, int] = field(default_factory=dict)
    # Filled in by the rules layer.
    brands: list[str] = field(default_factory=list)
    sentiment: float = 0.0
    complaint: float = 0.0  # P(a complaint / needs a person), from rules.complaint
    flags: list[str] = field(default_factory=list)
    aspects: list[str] = field(default_factory=list)
    severity: str = Severity.LOW.value
    reach: int = 0
    kol_tier: str = ""

    @property
    def when(self) -> datetime:
        """The time a person would say this was said."""
        return self.published or self.fetched_at

    def to_dict(self) -> dict[str, Any]:
        data = _copy_fields(self)
        for key in _DATETIME_FIELDS:
            data[key] = to_iso(data[key])
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Mention:
        kwargs = _copy_known(cls, data)
        for key in _DATETIME_FIELDS:
            if key in kwargs:
                kwargs[key] = from_iso(kwargs[key])
        if kwargs.get("fetched_at") is None:
            kwargs.pop("fetched_at", None)
        return cls(**kwargs)


@dataclass
class HistoryEntry:
    at: str
    action: str
    by: str
    via: str
    detail: str = ""


@dataclass
class Alert:
    """What a person must look at: a mention (or a group of them) that matched a route."""

    id: str
    mention_id: str
    brand: str
    severity: str
    flags: list[str]
    destinations: list[str]
    created_at: str
    status: str = Status.OPEN.value
    dedup_key: str = ""
    route: str = ""
    assignee: str = ""
    acked_by: str = ""
    acked_at: str = ""
    resolved_by: str = ""
    resolved_at: str = ""
    snoozed_until: str = ""
    similar: list[str] = field(default_factory=list)
    count: int = 1
    history: list[dict[str, str]] = field(default_factory=list)
    # destination name -> platform message reference (e.g. Slack channel + ts)
    messages: dict[str, dict[str, str]] = field(default_factory=dict)
    # A copy of the mention fields a message needs, so rendering never needs the bulk store.
    summary: dict[str, Any] = field(default_factory=dict)
    fingerprint: int = 0  # SimHash of the text, for grouping near-duplicates
    kind: str = "mention"  # "mention", or "storm": a burst of alerts on one route in one message
    storm_of: str = ""  # a mention alert folded into a storm: that storm's id
    members: list[str] = field(default_factory=list)  # a storm's alerts
    # Made from a source's first successful poll: a backlog, posted on its own and never
    # counted as part of a burst.
    backlog: bool = False
    # Response SLA: the clock starts here (creation, or the end of a snooze).
    sla_from: str = ""
    escalations: int = 0  # SLA steps taken: the first re-announces, later ones escalate

    def record(self, at: datetime, action: str, by: str, via: str, detail: str = "") -> None:
        entry = HistoryEntry(at=to_iso(at) or "", action=action, by=by, via=via, detail=detail)
        self.history.append(asdict(entry))

    def to_dict(self) -> dict[str, Any]:
        return _copy_fields(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Alert:
        return cls(**_copy_known(cls, data))


@dataclass(frozen=True)
class SlaView:
    """The fields of an alert the SLA check decides on (Repository.sla_candidates): read
    from the store without parsing the alert."""

    id: str
    status: str
    route: str
    created_at: str
    sla_from: str = ""
    snoozed_until: str = ""
    escalations: int = 0


def mention_summary(m: Mention) -> dict[str, Any]:
    return {
        "title": m.title,
        "text": m.text,
        "url": m.url,
        "author": m.author,
        "source": m.source,
        "when": to_iso(m.when),
        "lang": m.lang,
        "sentiment": round(m.sentiment, 3),
        "aspects": list(m.aspects),
        "reach": m.reach,
        "kol_tier": m.kol_tier,
        "flags": list(m.flags),
        "brands": list(m.brands),
        "metrics": dict(m.metrics),
    }


class OutboxStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    DEAD = "dead"
    # Left the queue unsent, on purpose: its destination can never show it (a console whose
    # output closed). Not a dead letter: there is nothing for a person to look at or resend.
    DROPPED = "dropped"


@dataclass
class OutboxItem:
    """One message to deliver, stored before any network call is made.

    `action` is "post" (a new message), "update" (edit the message already posted for the
    alert at that destination) or "reply" (a thread reply under it). `message` says what to
    render: {"kind": "alert", "alert_id": ...} renders the alert as it is at send time, so
    a late send never shows a stale status.
    """

    id: str
    destination: str
    action: str
    message: dict[str, Any]
    created_at: str
    alert_id: str = ""
    status: str = OutboxStatus.PENDING.value
    attempts: int = 0
    next_attempt_at: str = ""
    held_until: str = ""  # quiet hours: waits without holding up the items behind it
    last_error: str = ""
    sent_at: str = ""
    ref: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return _copy_fields(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> OutboxItem:
        return cls(**_copy_known(cls, data))
