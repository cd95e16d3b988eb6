"""Delivery under faults, against a chat stand-in on 127.0.0.1: outages, 429s, crashes
between store and send and between send and record, rate limits, concurrent acks."""

from __future__ import annotations

import random
import threading
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from core.alerting.lifecycle import AlertService
from core.alerting.routing import Router
from core.commands.context import Actor
from core.commands.service import CommandService
from core.delivery.worker import Deliverer
from core.domain.clock import FakeClock
from core.domain.models import Mention
from core.intake.pipeline import Pipeline
from listeners.webhook import WebhookNotifier
from rules.analyze import Analyzer
from storage.tinydb_repo import TinyDBRepository
from tests.conftest import make_config
from tests.standin.chat import ChatServer

START = datetime(2026, 11, 28, 2, 0, tzinfo=UTC)


class Node:
    """One Buzzwatch process: storage, pipeline and delivery over a data folder."""

    def __init__(
        self,
        tmp_path: Path,
        chat: ChatServer,
        clock: FakeClock,
        rate: tuple[int, float] | None = None,
    ) -> None:
        self.clock = clock
        self.config = make_config(
            tmp_path,
            destinations={"chat": {"type": "webhook", "url": chat.url}},
            routes=[{"name": "all", "match": {"brand": "Acme"}, "to": ["chat"], "burst": None}],
            grouping={"enabled": False},
        )
        self.repo = TinyDBRepository(self.config.data_dir, clock=clock)
        self.pipeline = Pipeline(
            self.config, self.repo, Analyzer(self.config), Router(self.config.routes), clock
        )
        self.notifier = WebhookNotifier(chat.url, None, rate)
        self.deliverer = Deliverer(
            self.repo, {"chat": self.notifier}, clock, rng=random.Random(7), sleep=clock.advance
        )
        self.commands = CommandService(
            self.config, self.repo, AlertService(self.repo, clock), clock
        )

    def push(self, n: int, start: int = 0) -> None:
        self.pipeline.process(
            "feed",
            [
                Mention(
                    id=f"m{i}",
                    source="feed",
                    url=f"https://example.com/{i}",
                    title=f"Acme complaint number {i}",
                    text=f"story {i} about Acme",
                    fetched_at=self.clock.now(),
                )
                for i in range(start, start + n)
            ],
        )

    def run(self, minutes: float) -> None:
        end = self.clock.now() + timedelta(minutes=minutes)
        while self.clock.now() < end:
            self.deliverer.deliver_due()
            self.clock.advance(5)

    def close(self) -> None:
        self.notifier.client.close()
        self.repo.close()


def posted_alert_ids(chat: ChatServer) -> list[str]:
    ids: list[str] = []
    for body in chat.received:
        if body["action"] == "post":
            ids += [body["alert"]["id"]] if body["kind"] == "alert" else body["alert_ids"]
    return ids


def test_ten_minute_outage_then_every_alert_exactly_once_in_order(
    tmp_path: Path, chat: ChatServer
) -> None:
    clock = FakeClock(START)
    recover = START + timedelta(minutes=10)
    chat.respond = lambda body: (500, {}) if clock.now() < recover else (200, {})
    node = Node(tmp_path, chat, clock)
    node.push(20)
    node.run(10)
    assert chat.received == [] and chat.attempts >= 3
    assert len(node.repo.pending_outbox()) == 20  # nothing lost while the service was down
    node.run(15)
    assert posted_alert_ids(chat) == [f"A{i}" for i in range(1, 21)]  # once each, in order
    assert node.repo.pending_outbox() == [] and node.repo.dead_letters() == []
    node.close()


def test_429_retry_after_is_honoured(tmp_path: Path, chat: ChatServer) -> None:
    clock = FakeClock(START)
    answers = iter([(429, {"Retry-After": "90"})])
    chat.respond = lambda body: next(answers, (200, {}))
    node = Node(tmp_path, chat, clock)
    node.push(3)
    node.run(1)
    assert chat.received == []
    node.run(1)
    assert posted_alert_ids(chat) == ["A1", "A2", "A3"]
    node.close()


def test_permanent_error_goes_to_dead_letters_without_looping(
    tmp_path: Path, chat: ChatServer
) -> None:
    clock = FakeClock(START)
    chat.respond = lambda body: (404, {})
    node = Node(tmp_path, chat, clock)
    node.push(2)
    node.run(5)
    assert chat.attempts == 2
    dead = node.repo.dead_letters()
    assert len(dead) == 2 and "HTTP 404" in dead[0].last_error
    assert "2 dead letter(s)" in node.commands.run("status", Actor("u", "ann", "console")).text
    node.close()


def test_crash_between_store_and_send_loses_nothing(tmp_path: Path, chat: ChatServer) -> None:
    clock = FakeClock(START)
    node = Node(tmp_path, chat, clock)
    node.push(5)
    node.close()  # the process dies before any send
    restarted = Node(tmp_path, chat, clock)
    restarted.run(1)
    assert posted_alert_ids(chat) == ["A1", "A2", "A3", "A4", "A5"]
    restarted.close()


class Crash(BaseException):
    """Stands for the process dying (a BaseException, so nothing catches it)."""


def test_crash_between_send_and_record_resends_only_that_one(
    tmp_path: Path, chat: ChatServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = FakeClock(START)
    node = Node(tmp_path, chat, clock)
    node.push(5)
    real_save = node.repo.save_outbox
    calls = {"n": 0}

    def dies_on_third(item, refs=None):
        calls["n"] += 1
        if calls["n"] == 3:
            raise Crash  # A3 reached the chat, but its success was never recorded
        real_save(item, refs)

    monkeypatch.setattr(node.repo, "save_outbox", dies_on_third)
    with pytest.raises(Crash):
        node.deliverer.deliver_due()
    node.close()
    restarted = Node(tmp_path, chat, clock)
    restarted.run(1)
    assert posted_alert_ids(chat) == [
        "A1",
        "A2",
        "A3",
        "A3",
        "A4",
        "A5",
    ]  # one duplicate, where the outcome was unknown
    assert restarted.repo.get_alert("A3").messages["chat"]
    restarted.close()


def test_rate_limit_is_kept_and_a_backlog_merges_into_batches(
    tmp_path: Path, chat: ChatServer
) -> None:
    clock = FakeClock(START)
    arrivals: list[datetime] = []

    def accept(body: dict[str, Any]):
        arrivals.append(clock.now())
        return 200, {}

    chat.respond = accept
    node = Node(tmp_path, chat, clock, rate=(5, 60.0))
    node.push(40)
    node.run(5)
    ids = posted_alert_ids(chat)
    assert sorted(ids, key=lambda a: int(a[1:])) == [
        f"A{i}" for i in range(1, 41)
    ]  # none lost, none twice
    assert len(chat.received) < 40  # merged
    assert any(b["kind"] == "batch" for b in chat.received)
    for i, t in enumerate(arrivals):  # never more than 5 in any 60 s
        assert sum(1 for u in arrivals[i:] if u - t < timedelta(seconds=60)) <= 5
    # An ack on an alert that went out in a batch posts a note, never a fresh copy.
    batched = next(b for b in chat.received if b["kind"] == "batch")["alert_ids"][0]
    before = len(chat.received)
    assert node.commands.run(f"ack {batched}", Actor("u", "ann", "slack")).ok
    node.run(3)
    kinds = [(b["action"], b["kind"]) for b in chat.received[before:]]
    assert kinds == [("reply", "note")]
    node.close()


def test_drain_waits_out_the_rate_limit(tmp_path: Path, chat: ChatServer) -> None:
    clock = FakeClock(START)
    node = Node(tmp_path, chat, clock, rate=(1, 1.0))
    node.push(5)
    report = node.deliverer.drain(max_wait=60)
    assert report.sent == 5 and posted_alert_ids(chat) == ["A1", "A2", "A3", "A4", "A5"]
    assert clock.now() - START >= timedelta(seconds=4)
    node.close()


def test_two_people_ack_at_once_from_two_platforms(tmp_path: Path, chat: ChatServer) -> None:
    clock = FakeClock(START)
    node = Node(tmp_path, chat, clock)
    node.push(1)
    node.run(1)
    barrier = threading.Barrier(2)
    replies: dict[str, Any] = {}

    def act(actor: Actor) -> None:
        barrier.wait()
        replies[actor.platform] = node.commands.run("ack A1", actor)

    threads = [
        threading.Thread(target=act, args=(a,))
        for a in (Actor("U1", "ann", "slack"), Actor("d1", "张三", "dingtalk"))
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [p for p, r in replies.items() if r.ok]
    assert len(winners) == 1
    loser = next(r for p, r in replies.items() if not r.ok)
    winner_name = "ann" if winners[0] == "slack" else "张三"
    assert f"already acked by {winner_name}" in loser.text
    alert = node.repo.get_alert("A1")
    assert (
        alert.acked_by == winner_name and [h["action"] for h in alert.history].count("acked") == 1
    )
    node.run(1)
    assert [(b["action"], b["kind"]) for b in chat.received[1:]] == [
        ("update", "alert"),
        ("reply", "note"),
    ]
    node.close()


def test_a_burst_of_429s_is_waited_out_in_order(tmp_path: Path, chat: ChatServer) -> None:
    clock = FakeClock(START)
    attempts: list[datetime] = []
    answers = iter([(429, {"Retry-After": "20"})] * 5)

    def respond(body: dict[str, Any]):
        attempts.append(clock.now())
        return next(answers, (200, {}))

    chat.respond = respond
    node = Node(tmp_path, chat, clock)
    node.push(10)
    node.run(10)
    assert posted_alert_ids(chat) == [f"A{i}" for i in range(1, 11)]
    # Never back sooner than Retry-After said.
    assert all(b - a >= timedelta(seconds=20) for a, b in pairwise(attempts[:6]))
    node.close()


def test_alerts_inside_a_queued_batch_count_as_queued() -> None:
    from core.delivery.hold import queued_posts
    from core.domain.models import OutboxItem

    pending = [
        OutboxItem("o1", "chat", "post", {"kind": "batch", "alert_ids": ["A2", "A3"]}, "t"),
        OutboxItem("o2", "chat", "post", {"kind": "alert", "alert_id": "A4"}, "t", "A4"),
        OutboxItem("o3", "chat", "update", {"kind": "alert", "alert_id": "A5"}, "t", "A5"),
    ]
    assert queued_posts(pending) == {("A2", "chat"), ("A3", "chat"), ("A4", "chat")}


def test_a_misconfigured_destination_pauses_and_loses_nothing(
    tmp_path: Path, chat: ChatServer
) -> None:
    clock = FakeClock(START)
    fixed_at = START + timedelta(minutes=35)  # someone fixes the token after half an hour
    chat.respond = lambda body: (401, {}) if clock.now() < fixed_at else (200, {})
    node = Node(tmp_path, chat, clock)
    node.push(5)
    node.run(30)
    assert chat.received == [] and node.repo.dead_letters() == []
    assert chat.attempts <= 4  # one try every ten minutes, not one per message
    node.run(15)
    assert posted_alert_ids(chat) == ["A1", "A2", "A3", "A4", "A5"]
    node.close()


@pytest.mark.parametrize("seed", range(5))
def test_after_a_long_outage_a_destination_is_retried_within_a_minute_of_recovering(
    tmp_path: Path, chat: ChatServer, seed: int
) -> None:
    clock = FakeClock(START)
    recover = START + timedelta(minutes=45)
    arrivals: list[datetime] = []

    def respond(body: dict[str, Any]):
        if clock.now() < recover:
            return 503, {}
        arrivals.append(clock.now())
        return 200, {}

    chat.respond = respond
    node = Node(tmp_path, chat, clock)
    node.deliverer.rng = random.Random(seed)
    node.push(3)
    node.run(60)
    assert posted_alert_ids(chat) == ["A1", "A2", "A3"]
    # The worker passes every 5 s here: the backoff cap (not the pass) sets the bound.
    assert arrivals[0] - recover <= timedelta(seconds=60 + 5)
    node.close()


def test_backoff_is_capped_at_a_minute_but_retry_after_is_still_honoured() -> None:
    from core.delivery.retry import backoff

    rng = random.Random(3)
    assert max(backoff(n, None, rng) for n in range(1, 40) for _ in range(20)) <= 60
    assert backoff(30, 300.0, rng) == 300.0


def test_a_long_outage_keeps_retrying_within_a_minute_after_a_thousand_tries(
    tmp_path: Path, chat: ChatServer
) -> None:
    # With retries at most a minute apart, a destination down for ten hours of its 24 has
    # been tried over a thousand times; the next wait must still be computed (2.0 * 2**1024
    # does not fit in a float).
    clock = FakeClock(START)
    node = Node(tmp_path, chat, clock)
    node.push(1)
    [item] = node.repo.pending_outbox()
    item.attempts = 1100
    node.repo.save_outbox(item)
    chat.respond = lambda body: (503, {})
    report = node.deliverer.deliver_due()
    assert report.retrying == 1
    [item] = node.repo.pending_outbox()
    assert item.attempts == 1101
    wait = datetime.fromisoformat(item.next_attempt_at) - clock.now()
    assert timedelta(0) < wait <= timedelta(seconds=60)
    node.close()


def test_dead_letters_go_again_once_the_cause_is_fixed(tmp_path: Path, chat: ChatServer) -> None:
    """A channel that refused every message (404) is fixed: `deadletters retry` queues the
    dead letters again and each is delivered once, in the order they were queued, ahead of
    what came after them; `deadletters clear` deletes what is left."""
    clock = FakeClock(START)
    refusing = [True]
    chat.respond = lambda body: (404, {}) if refusing[0] else (200, {})
    node = Node(tmp_path, chat, clock)
    ann = Actor("u", "ann", "console")
    node.push(3)
    node.run(5)
    assert len(node.repo.dead_letters()) == 3 and chat.received == []
    listed = node.commands.run("deadletters", ann).text
    assert listed.startswith("3 dead letter(s)") and "HTTP 404" in listed
    assert "deadletters: all of them" in node.commands.run("status", ann).text
    refusing[0] = False
    assert node.commands.run("deadletters retry", ann).text == "Queued 3 dead letter(s) again."
    assert node.repo.dead_letters() == []
    assert all(o.attempts == 0 for o in node.repo.pending_outbox())
    node.run(3)
    assert posted_alert_ids(chat) == ["A1", "A2", "A3"]
    assert node.repo.pending_outbox() == [] and node.repo.dead_letters() == []
    assert node.commands.run("deadletters retry", ann).text == "No dead letters."
    refusing[0] = True
    node.push(1, start=10)
    node.run(3)
    assert node.commands.run("deadletters clear", ann).text == "Deleted 1 dead letter(s)."
    assert node.commands.run("deadletters", ann).text == "No dead letters."
    node.close()
