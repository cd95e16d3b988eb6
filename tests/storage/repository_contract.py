"""The repository contract: every backend passes the same tests (tests/storage/contract/).

This module holds the backends and the data the tests use; the fixtures that run each test
once per backend are in tests/storage/contract/conftest.py. A new backend (PostgreSQL,
issue 16) is one more entry in BACKENDS: a function that opens a repository on a data
folder, with a clock, writable or read-only. Tests that need files (crash safety, read-only
leaving the disk alone) use the data folder; a server backend's factory can key a throwaway
schema by it: postgres runs each test in a fresh schema of a throwaway server
(tests/postgres_server.py), its address in BUZZWATCH_DATABASE_URL.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from core.alerting.lifecycle import new_alert, outbox_items
from core.domain.clock import FakeClock
from core.domain.models import Alert, Mention, Status
from core.domain.query import MentionQuery
from core.domain.repository import Repository
from storage.factory import open_repository

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
NEG, POS = -0.3, 0.3

Opener = Callable[..., Repository]
BACKENDS: dict[str, Callable[[Path, FakeClock, bool], Repository]] = {
    "tinydb": lambda d, c, ro: open_repository("tinydb", d, clock=c, read_only=ro),
    "sqlite": lambda d, c, ro: open_repository("sqlite", d, clock=c, read_only=ro),
    "postgres": lambda d, c, ro: open_repository("postgres", d, clock=c, read_only=ro),
}


def reopen(repo: Repository, open_repo: Opener, read_only: bool = False) -> Repository:
    repo.close()
    return open_repo(read_only)


def mention(i: int, text: str = "", **kw: Any) -> Mention:
    when = kw.pop("when", NOW - timedelta(hours=i))
    fields: dict[str, Any] = {
        "id": f"m{i}",
        "source": "weibo",
        "url": f"https://example.com/{i}",
        "title": "",
        "text": text or f"Acme post {i}",
        "author": f"user{i}",
        "published": when,
        "fetched_at": when + timedelta(minutes=5),
        "brands": ["Acme"],
    }
    fields.update(kw)
    return Mention(**fields)


def alerts_for(repo: Repository, count: int, now: datetime = NOW) -> list[Alert]:
    ids = repo.next_alert_ids(count)
    return [new_alert(a, mention(i), "r", ["team"], now) for i, a in enumerate(ids)]


def store_alerts(repo: Repository, count: int, with_outbox: bool = False) -> list[Alert]:
    alerts = alerts_for(repo, count)
    outbox = [o for a in alerts for o in outbox_items(a, "post", NOW)] if with_outbox else []
    repo.save_cycle([], [], alerts, outbox)
    return alerts


def ack(alert: Alert) -> str:
    alert.status = Status.ACKED.value
    return "acked"


CORPUS = [
    ("汉堡太贵了，申请退款", {}),
    ("招牌汉堡味道不错", {"sentiment": 0.8, "flags": ["positive"]}),
    ("服务员态度很差 退款没人理", {"sentiment": -0.9, "flags": ["negative", "kol"]}),
    ("Refunded after the burger was cold", {"sentiment": -0.5, "flags": ["negative"]}),
    ("Great experience, would go again 10/10", {"sentiment": 0.9}),
    ("x marks the spot; EXPERIENCE matters", {"source": "Reddit"}),
    ("mixed 中英 text: burger汉堡 and C++ fans", {"brands": ["Beta"]}),
    ("Ｆｕｌｌ－ｗｉｄｔｈ ＡＣＭＥ refund", {"source": "news"}),
    ('She said "refund" twice; o\'brien agreed', {}),
    ("贵", {"sentiment": -0.2}),
    ("an old refund story", {"when": NOW - timedelta(days=40)}),
    ("t-mobile and e-mail and 退款", {"brands": ["Acme", "Beta"]}),
]


QUERIES = [
    MentionQuery(),
    MentionQuery(words=["汉堡"]),
    MentionQuery(words=["贵"]),
    MentionQuery(words=["退款"]),
    MentionQuery(words=["汉堡太贵"]),
    MentionQuery(words=["refund"]),
    MentionQuery(words=["x"]),
    MentionQuery(words=["xp"]),
    MentionQuery(words=["perience"]),
    MentionQuery(words=["experience"]),
    MentionQuery(words=["EXPERIENCE", "great"]),
    MentionQuery(words=["burger", "汉堡"]),
    MentionQuery(words=["c++"]),
    MentionQuery(words=["10/10"]),
    MentionQuery(words=["mobile"]),
    MentionQuery(words=["t-mobile"]),
    MentionQuery(words=['"refund"']),
    MentionQuery(words=["o'brien"]),
    MentionQuery(words=["ACME"]),
    MentionQuery(words=["acme"], source="NEWS"),
    MentionQuery(words=["mail"]),
    MentionQuery(sentiment="negative"),
    MentionQuery(sentiment="positive"),
    MentionQuery(sentiment="neutral"),
    MentionQuery(flags=["negative"]),
    MentionQuery(flags=["negative", "kol"]),
    MentionQuery(brand="beta"),
    MentionQuery(source="reddit"),
    MentionQuery(since=timedelta(days=60), words=["refund"]),
    MentionQuery(since=timedelta(hours=5)),
    MentionQuery(limit=3, offset=2),
    MentionQuery(words=["nothing-like-this"]),
    # words with filters (hits tested in an index), filters alone, pages past the end
    MentionQuery(words=["退款"], sentiment="negative"),
    MentionQuery(words=["refund"], flags=["negative"]),
    MentionQuery(words=["acme"], source="news"),
    MentionQuery(words=["汉堡"], brand="acme", sentiment="positive"),
    MentionQuery(sentiment="positive", flags=["negative"]),
    MentionQuery(flags=["negative"], limit=2, offset=1),
    MentionQuery(words=["refund"], offset=50),
    MentionQuery(sentiment="negative", offset=3),
]


def snapshot(folder: Path) -> dict[str, str]:
    if not folder.exists():
        return {}
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != ".lock"
    }


WRITER = Path(__file__).with_name("crash_writer.py")
