"""The repository contract for what is stored: mentions and search, alerts, the outbox and
state, for every backend (tests/storage/repository_contract.py)."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest

from core.alerting.lifecycle import outbox_items
from core.domain.models import Alert, OutboxItem, OutboxStatus, Status
from core.domain.query import MentionQuery
from core.domain.repository import Repository
from core.reports.query import search_records
from storage.common import outbox_seq
from tests.storage.repository_contract import (
    CORPUS,
    NEG,
    NOW,
    POS,
    QUERIES,
    Opener,
    ack,
    alerts_for,
    mention,
    reopen,
    store_alerts,
)


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


def test_mentions_round_trip_and_since_is_by_the_day_they_were_said(
    repo: Repository, open_repo: Opener
) -> None:
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


def test_a_backfilled_mention_is_stored_by_when_it_was_said(
    repo: Repository, open_repo: Opener
) -> None:
    """Imported today, said 20 days ago: found with the mentions polled 20 days ago (30-day
    reads and queries), not with today's (7-day ones)."""
    said = NOW - timedelta(days=20)
    backfilled = mention(1, "Acme backfill refund", when=said)
    backfilled.fetched_at = NOW  # imported now
    polled = mention(2, "Acme polled refund", when=said)  # fetched 5 minutes after it was said
    repo.save_cycle([backfilled, polled], ["m1", "m2"], [], [])
    repo = reopen(repo, open_repo)
    for days, want in ((30, {"m1", "m2"}), (7, set())):
        since = NOW - timedelta(days=days)
        assert {d["id"] for d in repo.iter_mentions(since)} == want
        page, total = repo.search_mentions(
            MentionQuery(words=["refund"], since=timedelta(days=days)), NOW, NEG, POS
        )
        assert total == len(want) and {d["id"] for d in page} == want
    assert {d["id"] for d in repo.iter_mentions(said.replace(hour=0))} == {"m1", "m2"}
    assert [d["id"] for d in repo.iter_mentions(said + timedelta(days=1))] == []


def test_a_mention_stored_twice_is_kept_once_last_version(repo: Repository) -> None:
    repo.save_cycle([mention(1, "first version")], ["m1"], [], [])
    repo.save_cycle([mention(1, "second version")], ["m1"], [], [])
    docs = list(repo.iter_mentions(None))
    assert [d["text"] for d in docs] == ["second version"]
    page, total = repo.search_mentions(MentionQuery(words=["version"]), NOW, NEG, POS)
    assert total == 1 and page[0]["text"] == "second version"


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
    # each queued at its own position, named by it, after the ones before
    assert len({o.id for o in items}) == 2
    assert outbox_seq(items[0]) < outbox_seq(items[1])
    repo.add_outbox([OutboxItem("", "team", "post", {"kind": "digest"}, NOW.isoformat())])
    assert outbox_seq(repo.pending_outbox()[-1]) > outbox_seq(items[1])


def test_a_change_waits_for_the_storage_lock_and_is_not_overwritten(repo: Repository) -> None:
    """Grouping reads alerts under locked(), changes them and writes them back: an ack
    typed meanwhile waits for it, then changes the alert as grouping left it."""
    [alert] = store_alerts(repo, 1)
    started = threading.Event()
    acked: list[object] = []

    def ack_it() -> None:
        started.set()
        acked.append(repo.change_alert(alert.id, ack))

    worker = threading.Thread(target=ack_it)
    with repo.locked():
        grouped = repo.get_alert(alert.id)
        worker.start()
        started.wait()
        worker.join(0.3)  # (it waits for the lock: it has not changed the alert)
        grouped.similar.append("m9")  # grouping joins a mention to the alert
        repo.save_cycle([], [], [grouped], [])
    worker.join(30)
    stored = repo.get_alert(alert.id)
    assert acked == ["acked"]
    assert stored.status == Status.ACKED and stored.similar[-1] == "m9"


def test_many_changes_waiting_for_the_storage_lock_leave_its_holder_free_to_write(
    repo: Repository,
) -> None:
    """More acks than the PostgreSQL store's pool has connections, typed while grouping
    holds the lock: grouping still gets a connection for its write, then they are made."""
    alerts = store_alerts(repo, 6)
    results: list[object] = []
    workers = [
        threading.Thread(target=lambda a=a: results.append(repo.change_alert(a.id, ack)))
        for a in alerts
    ]
    with repo.locked():
        grouped = repo.get_alert(alerts[0].id)
        for worker in workers:
            worker.start()
        workers[0].join(0.3)  # (they wait)
        grouped.similar.append("m9")
        repo.save_cycle([], [], [grouped], [])
    for worker in workers:
        worker.join(60)
    assert results == ["acked"] * 6
    assert all(repo.get_alert(a.id).status == Status.ACKED for a in alerts)


def test_a_change_made_under_the_storage_lock_by_its_holder(repo: Repository) -> None:
    [alert] = store_alerts(repo, 1)
    with repo.locked(), repo.locked():  # (re-entrant: the SLA check changes alerts so)
        assert repo.change_alert(alert.id, ack) == "acked"
    assert repo.get_alert(alert.id).status == Status.ACKED


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
    assert repo.renew_sources(["feed"], timedelta(seconds=30)) == 1  # still its own
    assert repo.expired_sources(["feed", "other"]) == []  # no one else's to take over


def test_dead_letters_retried_in_their_place_or_dropped(
    repo: Repository, open_repo: Opener
) -> None:
    alerts = store_alerts(repo, 4, with_outbox=True)
    first, second, third, fourth = repo.pending_outbox()
    for item in (first, third):
        item.status, item.attempts, item.last_error = OutboxStatus.DEAD.value, 3, "HTTP 404"
        item.next_attempt_at = NOW.isoformat()
        repo.save_outbox(item)
    assert repo.dead_letters() == [first, third]
    repo = reopen(repo, open_repo)
    assert repo.retry_dead_letters() == 2
    assert repo.dead_letters() == []
    again = repo.pending_outbox()
    # Back in their places, before what was queued after them, with no attempts made.
    assert [o.alert_id for o in again] == [a.id for a in alerts]
    assert [o.id for o in again] == [first.id, second.id, third.id, fourth.id]
    revived = again[0]
    assert (revived.status, revived.attempts, revived.last_error) == ("pending", 0, "")
    assert revived.next_attempt_at == "" and revived.message == first.message
    assert repo.retry_dead_letters() == 0
    fourth.status = OutboxStatus.DEAD.value
    repo.save_outbox(fourth)
    assert repo.drop_dead_letters() == 1
    repo = reopen(repo, open_repo)
    assert repo.dead_letters() == [] and len(repo.pending_outbox()) == 3


def test_a_cycle_that_fails_at_its_end_is_redone_not_skipped_nor_doubled(
    backend: str, repo: Repository, monkeypatch: pytest.MonkeyPatch
) -> None:
    if backend == "tinydb":
        pytest.skip("TinyDB counts a stored mention as seen (its seen log is rebuilt from them)")
    # A cycle larger than one write (the SQL stores write mentions in slices, issue 16)
    # whose last write fails: whatever was stored, nothing is seen, and the redone cycle
    # leaves each mention once, in its last version.
    mentions = [mention(i, f"cycle text {i}") for i in range(130)] + [mention(7, "seven again")]
    ids = [m.id for m in mentions]

    def fail(items: list[OutboxItem]) -> None:
        raise RuntimeError("the disk went away")

    monkeypatch.setattr(repo, "_insert_outbox", fail)
    with pytest.raises(RuntimeError):
        repo.save_cycle(mentions, ids, alerts_for(repo, 1), [])
    assert repo.unseen(ids) == list(dict.fromkeys(ids))
    monkeypatch.undo()
    repo.save_cycle(mentions, ids, alerts_for(repo, 1), [])
    assert repo.unseen(ids) == []
    docs = list(repo.iter_mentions(None))
    assert sorted(d["id"] for d in docs) == sorted(set(ids))
    assert {d["text"] for d in docs if d["id"] == mention(7).id} == {"seven again"}
