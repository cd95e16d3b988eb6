"""The repository contract: every backend passes the same tests.

A new backend (PostgreSQL, issue 16) is one more entry in BACKENDS: a function that opens
a repository on a data folder, with a clock, writable or read-only. Tests that need files
(crash safety, read-only leaving the disk alone) use the data folder; a server backend's
factory can key a throwaway schema by it: postgres runs each test in a fresh schema of a
throwaway server (tests/postgres_server.py), its address in BUZZWATCH_DATABASE_URL.
"""

from __future__ import annotations

import hashlib
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from core.alerting.lifecycle import new_alert, outbox_items
from core.domain.clock import FakeClock
from core.domain.models import Alert, Mention, OutboxItem, OutboxStatus, Status
from core.domain.query import MentionQuery
from core.domain.repository import Repository
from core.reports.query import search_records
from storage.atomic_json import StorageError
from storage.factory import open_repository

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
NEG, POS = -0.3, 0.3

Opener = Callable[..., Repository]
BACKENDS: dict[str, Callable[[Path, FakeClock, bool], Repository]] = {
    "tinydb": lambda d, c, ro: open_repository("tinydb", d, clock=c, read_only=ro),
    "sqlite": lambda d, c, ro: open_repository("sqlite", d, clock=c, read_only=ro),
    "postgres": lambda d, c, ro: open_repository("postgres", d, clock=c, read_only=ro),
}


@pytest.fixture(params=list(BACKENDS))
def backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "postgres":
        monkeypatch.setenv("BUZZWATCH_DATABASE_URL", request.getfixturevalue("postgres_schema"))
    return request.param


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOW)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def open_repo(backend: str, data_dir: Path, clock: FakeClock) -> Iterator[Opener]:
    opened: list[Repository] = []

    def opener(read_only: bool = False) -> Repository:
        repo = BACKENDS[backend](data_dir, clock, read_only)
        opened.append(repo)
        return repo

    yield opener
    for repo in opened:
        repo.close()


@pytest.fixture
def repo(open_repo: Opener) -> Repository:
    return open_repo()


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


# --- mentions ---------------------------------------------------------------------------------


def test_unseen_until_a_cycle_is_saved_and_after_a_restart(
    repo: Repository, open_repo: Opener
) -> None:
    assert repo.unseen(["a", "b", "a", "c"]) == ["a", "b", "c"]
    repo.save_cycle([mention(1)], ["a", "m1"], [], [])
    assert repo.unseen(["a", "b", "m1", "c"]) == ["b", "c"]
    repo = reopen(repo, open_repo)
    assert repo.unseen(["c", "a", "b"]) == ["c", "b"]
    many = [f"x{i}" for i in range(1500)]  # more than one SQL statement's worth
    repo.save_cycle([], many[::2], [], [])
    assert repo.unseen(many) == many[1::2]


def test_mentions_round_trip_and_since_is_by_fetch_day(repo: Repository, open_repo: Opener) -> None:
    old = mention(1, when=NOW - timedelta(days=10))
    new = mention(2, '艾克米 汉堡 "quoted" <b>', metrics={"likes": 3}, flags=["negative"])
    repo.save_cycle([old, new], ["m1", "m2"], [], [])
    repo = reopen(repo, open_repo)
    stored = {d["id"]: d for d in repo.iter_mentions(None)}
    assert set(stored) == {"m1", "m2"}
    for m in (old, new):
        assert {k: v for k, v in stored[m.id].items() if not k.startswith("_")} == m.to_dict()
    day_of_new = new.fetched_at.replace(hour=23, minute=59)  # same day, later: still in
    assert [d["id"] for d in repo.iter_mentions(day_of_new)] == ["m2"]
    assert repo.count_mentions() == 2


def test_a_mention_stored_twice_is_kept_once_last_version(repo: Repository) -> None:
    repo.save_cycle([mention(1, "first version")], ["m1"], [], [])
    repo.save_cycle([mention(1, "second version")], ["m1"], [], [])
    docs = list(repo.iter_mentions(None))
    assert [d["text"] for d in docs] == ["second version"]
    page, total = repo.search_mentions(MentionQuery(words=["version"]), NOW, NEG, POS)
    assert total == 1 and page[0]["text"] == "second version"


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
]


@pytest.mark.parametrize("query", QUERIES, ids=lambda q: repr(q)[11:70])
def test_search_answers_what_the_reference_matcher_answers(
    repo: Repository, query: MentionQuery
) -> None:
    mentions = []
    for i, (text, extra) in enumerate(CORPUS):
        extra = dict(extra)
        mentions.append(mention(i, text, **extra))
    repo.save_cycle(mentions, [m.id for m in mentions], [], [])
    docs = [m.to_dict() for m in mentions]
    want_page, want_total = search_records(docs, query, NOW, NEG, POS)
    page, total = repo.search_mentions(query, NOW, NEG, POS)
    assert total == want_total
    assert [d["id"] for d in page] == [d["id"] for d in want_page]


# --- alerts -----------------------------------------------------------------------------------


def test_alert_ids_are_unique_and_never_reused(repo: Repository, open_repo: Opener) -> None:
    first = repo.next_alert_ids(3)
    assert first == ["A1", "A2", "A3"]
    repo = reopen(repo, open_repo)
    assert repo.next_alert_ids(2) == ["A4", "A5"]
    alerts = alerts_for(repo, 2)
    for a in alerts:
        a.status, a.resolved_at = Status.RESOLVED.value, (NOW - timedelta(days=30)).isoformat()
    repo.save_cycle([], [], alerts, [])
    assert repo.archive_alerts(NOW) == 2
    repo = reopen(repo, open_repo)
    assert repo.next_alert_ids(1) == ["A8"]


def test_get_and_change_an_alert_with_its_outbox_in_one_write(
    repo: Repository, open_repo: Opener
) -> None:
    [alert] = store_alerts(repo, 1)
    assert repo.get_alert(alert.id) == alert
    assert repo.get_alert("a1") == alert  # ids are read as people type them
    for missing in ("A99", "nonsense", "", "A１"):
        assert repo.get_alert(missing) is None
        assert repo.change_alert(missing, ack) is None

    result = repo.change_alert(alert.id, ack, lambda a, r: outbox_items(a, "update", NOW, note=r))
    assert result == "acked"
    repo = reopen(repo, open_repo)
    assert repo.get_alert(alert.id).status == Status.ACKED
    items = repo.pending_outbox()
    assert [(o.action, o.alert_id) for o in items] == [("update", "A1"), ("reply", "A1")]
    assert items[1].message["text"] == "acked"


def test_a_returned_alert_is_a_copy(repo: Repository) -> None:
    [alert] = store_alerts(repo, 1)
    for read in (
        lambda: repo.get_alert(alert.id),
        lambda: repo.find_alerts(lambda a: True)[0],
        lambda: repo.active_alerts()[0],
    ):
        got = read()
        got.status = Status.RESOLVED.value
        got.history.append({"action": "x"})
        got.messages["team"] = {"ts": "1"}
        got.similar.append("m9")
        assert repo.get_alert(alert.id) == alert


def test_a_change_that_raises_saves_nothing(repo: Repository) -> None:
    [alert] = store_alerts(repo, 1)

    def half_then_fail(a: Alert) -> None:
        a.status = Status.RESOLVED.value
        raise ValueError("refused")

    with pytest.raises(ValueError):
        repo.change_alert(alert.id, half_then_fail, lambda a, r: outbox_items(a, "update", NOW))
    assert repo.get_alert(alert.id).status == Status.OPEN
    assert repo.pending_outbox() == []


def test_find_and_active_alerts(repo: Repository) -> None:
    alerts = store_alerts(repo, 4)
    old = (NOW - timedelta(days=3)).isoformat()
    states = [
        (Status.OPEN, NOW.isoformat()),
        (Status.ACKED, old),
        (Status.RESOLVED, old),
        (Status.RESOLVED, NOW.isoformat()),
    ]
    for a, (status, created) in zip(alerts, states, strict=True):
        a.status, a.created_at = status.value, created
    repo.save_cycle([], [], alerts, [])
    everything = repo.find_alerts(lambda a: True)
    assert sorted(a.id for a in everything) == ["A1", "A2", "A3", "A4"]
    assert [a.id for a in repo.find_alerts(lambda a: a.status == Status.ACKED)] == ["A2"]
    assert [a.id for a in repo.active_alerts()] == ["A1", "A2"]
    since = (NOW - timedelta(hours=1)).isoformat()
    assert [a.id for a in repo.active_alerts(created_since=since)] == ["A1", "A2", "A4"]


def test_grouping_candidates_are_recent_or_open_and_related(repo: Repository) -> None:
    hour = timedelta(hours=1)
    near_fp, far_fp = 0b1111, (1 << 64) - 2  # 3 and 64 bits from the mention's 0b1
    shapes = [  # (status, created hours ago, kind, dedup key, fingerprint)
        (Status.RESOLVED, 1, "mention", "k1", near_fp),  # recent and near: in
        (Status.OPEN, 100, "mention", "k2", far_fp),  # old, open, a key asked for: in
        (Status.OPEN, 100, "mention", "k3", near_fp),  # old, open, unrelated: out
        (Status.RESOLVED, 100, "mention", "k2", near_fp),  # old and resolved: out
        (Status.ACKED, 100, "storm", "", 0),  # an open storm: in
        (Status.OPEN, 30, "mention", "k4", far_fp),  # open, within the burst reach: in
        (Status.RESOLVED, 30, "mention", "k4", near_fp),  # resolved, before the window: out
        (Status.RESOLVED, 2, "mention", "k5", far_fp),  # recent but far: out with `near`
        (Status.RESOLVED, 2, "mention", "k2", far_fp),  # recent, far, a key asked for: in
        (Status.RESOLVED, 0, "mention", "k6", far_fp),  # far, within the burst reach: in
        (Status.RESOLVED, 2, "mention", "k7", 0),  # no fingerprint: out with `near`
    ]
    alerts = store_alerts(repo, len(shapes))
    for a, (status, age, kind, key, fp) in zip(alerts, shapes, strict=True):
        a.status, a.kind, a.dedup_key, a.fingerprint = status.value, kind, key, fp
        a.created_at = (NOW - age * hour).isoformat()
    repo.save_cycle([], [], alerts, [])
    window, reach = (NOW - 3 * hour).isoformat(), (NOW - 48 * hour).isoformat()
    recent_window = (NOW - 10 * timedelta(minutes=1)).isoformat()

    def ids(**kw: Any) -> list[str]:
        return [a.id for a in repo.grouping_candidates(["k2", "k9"], window, **kw)]

    every_recent = ["A1", "A2", "A5", "A6", "A8", "A9", "A10", "A11"]
    assert ids(active_since=reach) == every_recent
    assert ids(active_since=recent_window, near=([1], 8)) == ["A1", "A2", "A5", "A9", "A10"]
    assert ids(active_since=recent_window, near=([], 8)) == ["A2", "A5", "A9", "A10"]


def test_archive_moves_only_resolved_alerts_with_nothing_to_send(
    repo: Repository, open_repo: Opener
) -> None:
    alerts = store_alerts(repo, 4)
    long_ago = (NOW - timedelta(days=20)).isoformat()
    for a in alerts[:3]:
        a.status, a.resolved_at = Status.RESOLVED.value, long_ago
    alerts[2].resolved_at = NOW.isoformat()  # resolved too recently
    repo.save_cycle([], [], alerts, outbox_items(alerts[1], "update", NOW))  # A2 still sends
    assert repo.archive_alerts(NOW - timedelta(days=14)) == 1
    assert repo.archive_alerts(NOW - timedelta(days=14)) == 0
    repo = reopen(repo, open_repo)
    assert sorted(a.id for a in repo.find_alerts(lambda a: True)) == ["A2", "A3", "A4"]
    assert repo.get_alert("A1") == alerts[0]  # still found by id
    assert [a.id for a in repo.active_alerts()] == ["A4"]


# --- outbox -----------------------------------------------------------------------------------


def test_outbox_order_sent_dead_and_retry(repo: Repository, open_repo: Opener) -> None:
    alerts = store_alerts(repo, 3, with_outbox=True)
    pending = repo.pending_outbox()
    assert [o.alert_id for o in pending] == [a.id for a in alerts]
    assert len({o.id for o in pending}) == 3
    first, second, third = pending
    first.status, first.sent_at, first.ref = OutboxStatus.SENT.value, NOW.isoformat(), {"ts": "1"}
    repo.save_outbox(first, [(first.alert_id, "team", {"ts": "1"})])
    second.attempts, second.next_attempt_at = 1, NOW.isoformat()
    repo.save_outbox(second)
    third.status, third.last_error = OutboxStatus.DEAD.value, "404"
    repo.save_outbox(third)
    repo = reopen(repo, open_repo)
    assert repo.pending_outbox() == [second]
    assert repo.dead_letters() == [third]
    assert repo.get_alert(alerts[0].id).messages == {"team": {"ts": "1"}}


def test_add_outbox_with_state_and_replace_keeps_the_place(repo: Repository) -> None:
    items = [
        OutboxItem("", "team", "post", {"kind": "text", "n": n}, NOW.isoformat()) for n in range(4)
    ]
    repo.add_outbox(items, {"digest": {"sent_for": "2026-11-30"}})
    assert repo.get_state("digest") == {"sent_for": "2026-11-30"}
    stored = repo.pending_outbox()
    assert [o.message["n"] for o in stored] == [0, 1, 2, 3]
    batch = OutboxItem("", "team", "post", {"kind": "batch"}, NOW.isoformat())
    repo.replace_outbox(stored[1:3], batch)
    after = repo.pending_outbox()
    assert [o.message.get("n", "batch") for o in after] == [0, "batch", 3]
    more = [OutboxItem("", "team", "post", {"kind": "text"}, NOW.isoformat())]
    repo.add_outbox(more)
    assert more[0].id not in {o.id for o in after}  # outbox ids are not reused either


def test_a_lone_process_holds_every_destination_and_source(repo: Repository) -> None:
    """The lease methods (shared with other processes on postgres): a process alone on the
    store delivers the whole outbox, in order, and polls every source."""
    items = [OutboxItem("", dest, "post", {"kind": "text"}, NOW.isoformat()) for dest in "abab"]
    repo.add_outbox(items)
    claimed = repo.claim_outbox(timedelta(minutes=1))
    assert [o.id for o in claimed] == [o.id for o in repo.pending_outbox()]
    assert [o.destination for o in claimed] == list("abab")
    assert repo.claim_source("feed", timedelta(minutes=5))
    assert repo.claim_source("feed", timedelta(minutes=5))  # its own lease, renewed


# --- state ------------------------------------------------------------------------------------


def test_state_keys_are_independent_and_kept(repo: Repository, open_repo: Opener) -> None:
    assert repo.get_state("source:a") is None
    assert repo.get_state("source:a", {"x": 1}) == {"x": 1}
    repo.set_state("source:a", {"etag": "1", "items": [1, 2]})
    repo.set_state("source:b", {"etag": "2"})
    repo.set_state("source:a", {"etag": "3"})
    repo.set_state("silences", [])
    repo = reopen(repo, open_repo)
    assert repo.get_state("source:a") == {"etag": "3"}
    assert repo.get_state("source:b") == {"etag": "2"}
    assert repo.get_state("silences") == []
    state = repo.all_state()
    assert state["source:a"] == {"etag": "3"} and "source:b" in state


# --- requests that act at most once (signed chat callbacks) -----------------------------------


def test_remember_once_is_once_until_it_expires_also_after_a_restart(
    repo: Repository, open_repo: Opener, clock: FakeClock
) -> None:
    until = NOW + timedelta(hours=1)
    odd = ["x" * 10_000, "a\x00b\ud800", "签名=="]  # attacker-sized, binary, non-ASCII
    assert repo.remember_once("sign", "k1", until) is True
    assert repo.remember_once("sign", "k1", until) is False
    assert repo.remember_once("msg", "k1", until) is True  # kinds are apart
    assert [repo.remember_once("msg", k, until) for k in odd] == [True] * 3
    assert repo.remember_once("msg", "x" * 9_999 + "y", until) is True  # not a prefix match
    repo = reopen(repo, open_repo)
    assert [repo.remember_once("msg", k, until) for k in ["k1", *odd]] == [False] * 4
    assert repo.remember_once("sign", "k1", until) is False
    clock.advance(timedelta(hours=1) - timedelta(microseconds=1))
    assert repo.remember_once("sign", "k1", until) is False  # still within its time
    clock.advance(timedelta(microseconds=1))
    assert repo.remember_once("sign", "k1", until + timedelta(hours=1)) is True  # expired
    assert repo.remember_once("sign", "k1", until + timedelta(hours=1)) is False


def test_remember_once_between_threads_is_once(repo: Repository) -> None:
    answers: list[bool] = []
    start = threading.Barrier(8)

    def claim() -> None:
        start.wait()
        answers.extend(
            repo.remember_once("sign", f"k{i}", NOW + timedelta(hours=1)) for i in range(5)
        )

    threads = [threading.Thread(target=claim) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(answers).count(True) == 5 and len(answers) == 40


def test_read_only_remembers_in_memory_only(
    repo: Repository, open_repo: Opener, data_dir: Path
) -> None:
    until = NOW + timedelta(hours=1)
    assert repo.remember_once("sign", "used", until) is True
    repo.close()
    before = snapshot(data_dir)
    dry = open_repo(read_only=True)
    assert dry.remember_once("sign", "used", until) is False  # the store's keys count
    assert dry.remember_once("sign", "dry", until) is True
    assert dry.remember_once("sign", "dry", until) is False
    dry.close()
    assert snapshot(data_dir) == before
    assert open_repo().remember_once("sign", "dry", until) is True


# --- read-only (dry run, queries next to a running bot) ---------------------------------------


def snapshot(folder: Path) -> dict[str, str]:
    if not folder.exists():
        return {}
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != ".lock"
    }


def test_read_only_sees_its_own_changes_and_writes_nothing(
    repo: Repository, open_repo: Opener, data_dir: Path
) -> None:
    [alert] = store_alerts(repo, 1, with_outbox=True)
    repo.save_cycle([mention(1, "stored refund")], ["m1"], [], [])
    repo.set_state("k", 1)
    repo.close()
    before = snapshot(data_dir)

    dry = open_repo(read_only=True)
    assert dry.get_alert(alert.id) == alert
    dry.change_alert(alert.id, ack)
    [new] = alerts_for(dry, 1)
    dry.save_cycle([mention(2, "dry refund")], ["m2"], [new], outbox_items(new, "post", NOW))
    dry.set_state("k", 2)
    for item in dry.pending_outbox()[:1]:
        item.status = OutboxStatus.SENT.value
        dry.save_outbox(item)
    assert dry.get_alert(alert.id).status == Status.ACKED
    assert dry.get_state("k") == 2
    assert dry.unseen(["m2", "m3"]) == ["m3"]
    assert {d["id"] for d in dry.iter_mentions(None)} == {"m1", "m2"}
    page, total = dry.search_mentions(MentionQuery(words=["refund"]), NOW, NEG, POS)
    assert total == 2 and [d["id"] for d in page] == ["m1", "m2"]
    assert len(dry.pending_outbox()) == 1
    dry.close()

    assert snapshot(data_dir) == before
    repo = open_repo()
    assert repo.get_alert(alert.id).status == Status.OPEN
    assert repo.get_state("k") == 1 and repo.get_alert(new.id) is None
    assert repo.unseen(["m2"]) == ["m2"]


def test_read_only_on_an_empty_folder_creates_nothing(open_repo: Opener, data_dir: Path) -> None:
    dry = open_repo(read_only=True)
    assert dry.iter_mentions(None) == [] or list(dry.iter_mentions(None)) == []
    assert dry.search_mentions(MentionQuery(), NOW, NEG, POS) == ([], 0)
    store_alerts(dry, 1)
    assert dry.get_alert("A1") is not None
    dry.close()
    assert snapshot(data_dir) == {}


def test_read_only_works_next_to_a_writer(repo: Repository, open_repo: Opener) -> None:
    repo.save_cycle([mention(1)], ["m1"], store_alerts(repo, 1), [])
    reader = open_repo(read_only=True)
    assert [d["id"] for d in reader.iter_mentions(None)] == ["m1"]
    assert reader.get_alert("A1") is not None


def test_one_writer_per_data_folder(backend: str, repo: Repository, open_repo: Opener) -> None:
    if backend == "postgres":  # a server is shared by design: a second writer works alongside
        other = open_repo()
        store_alerts(repo, 1)
        assert other.get_alert("A1") is not None and other.next_alert_ids(1) == ["A2"]
        return
    with pytest.raises(StorageError, match="another Buzzwatch process"):
        open_repo()


# --- threads and crashes ----------------------------------------------------------------------


def test_concurrent_writers_lose_nothing(repo: Repository) -> None:
    [shared] = store_alerts(repo, 1)
    errors: list[BaseException] = []

    def worker(w: int) -> None:
        try:
            for c in range(10):
                ms = [mention(1000 * w + 10 * c + i) for i in range(3)]
                alerts = alerts_for(repo, 2)
                repo.save_cycle(ms, [m.id for m in ms], alerts, [])
                repo.change_alert(alerts[0].id, ack)

                def bump(a: Alert) -> None:
                    a.count += 1

                repo.change_alert(shared.id, bump)
                repo.set_state(f"source:w{w}", {"cycle": c})
        except BaseException as err:  # reported below, in the test's thread
            errors.append(err)

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    alerts = repo.find_alerts(lambda a: True)
    assert len(alerts) == 1 + 4 * 10 * 2
    assert len({a.id for a in alerts}) == len(alerts)
    assert sum(a.status == Status.ACKED for a in alerts) == 40
    assert repo.get_alert(shared.id).count == 1 + 40
    assert repo.count_mentions() == 4 * 10 * 3
    assert all(repo.get_state(f"source:w{w}") == {"cycle": 9} for w in range(4))


WRITER = Path(__file__).with_name("crash_writer.py")


def test_kill_minus_nine_keeps_everything_reported(
    backend: str, data_dir: Path, open_repo: Opener
) -> None:
    rng = random.Random(20261130)
    for _ in range(5):
        proc = subprocess.Popen(
            [sys.executable, str(WRITER), str(data_dir), backend],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first.strip().isdigit(), first
        time.sleep(rng.uniform(0.0, 0.3))
        proc.send_signal(signal.SIGKILL)
        out, _ = proc.communicate()
        reported = int([first.strip(), *out.split()][-1])
        repo = open_repo()
        alerts = repo.find_alerts(lambda a: True)
        assert int(repo.get_state("cycles", 0)) >= reported
        assert len(alerts) >= 2 * reported
        assert repo.count_mentions() >= 20 * reported
        assert {o.alert_id for o in repo.pending_outbox()} <= {a.id for a in alerts}
        assert sum(a.status == "acked" for a in alerts) >= reported
        repo.close()


def test_a_derived_file_is_written_under_data_dir_unless_read_only(
    repo: Repository, open_repo: Opener, data_dir: Path
) -> None:
    saved = repo.save_file("digests/2026-11-29.png", b"png bytes")
    assert saved is not None and saved.read_bytes() == b"png bytes"
    assert saved.resolve().is_relative_to(data_dir.resolve())
    with pytest.raises(ValueError):
        repo.save_file("../outside.png", b"x")
    reader = reopen(repo, open_repo, read_only=True)
    assert reader.save_file("digests/2026-11-30.png", b"x") is None
    assert not (data_dir / "digests" / "2026-11-30.png").exists()
