"""A sender stalled past its destination lease in the middle of a delivery pass (SIGSTOP, a
frozen VM, slow webhooks): another process sharing the PostgreSQL store takes the
destination over and sends what was queued; the stalled one, resumed, must not send those
again. A long pass alone on its store still sends everything, once."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from core.delivery.worker import CLAIM_LEASE, Deliverer
from core.domain.clock import FakeClock
from core.domain.models import OutboxItem
from core.domain.notifier import Delivery, Outgoing
from storage.postgres_repo import PostgresRepository
from storage.sqlite_repo import SQLiteRepository
from tests.storage.repository_contract import NOW


class Chat:
    rate_limit = None
    edits_in_place = True

    def __init__(self, who: str, sent: list[tuple[str, int]], then: Callable[[], None]) -> None:
        self.who, self.sent, self.then = who, sent, then

    def render(self, out: Outgoing) -> dict[str, Any]:
        return {"n": out.message["n"]}

    def send(self, out: Outgoing, payload: dict[str, Any]) -> Delivery:
        self.sent.append((self.who, payload["n"]))
        self.then()
        return Delivery(ok=True)


def queue(repo: Any, count: int) -> None:
    repo.add_outbox(
        [
            OutboxItem("", "team", "post", {"kind": "text", "n": n}, NOW.isoformat())
            for n in range(count)
        ]
    )


def test_a_sender_stalled_past_its_lease_sends_nothing_the_other_sent(
    postgres_schema: str,
) -> None:
    clock = FakeClock(NOW)
    a, b = (PostgresRepository(postgres_schema, clock=clock) for _ in range(2))
    try:
        queue(a, 4)
        sent: list[tuple[str, int]] = []
        other = Deliverer(b, {"team": Chat("b", sent, lambda: None)}, clock)
        stalls = [1]

        def stall() -> None:  # a's first send: a stopped for longer than its lease
            if stalls:
                stalls.pop()
                clock.advance(CLAIM_LEASE + timedelta(seconds=1))
                other.deliver_due()

        Deliverer(a, {"team": Chat("a", sent, stall)}, clock).deliver_due()
        # 0: a's send in flight when it stopped goes twice (at least once, as README says);
        # nothing else does
        assert sorted(sent) == [("a", 0), ("b", 0), ("b", 1), ("b", 2), ("b", 3)]
        assert a.pending_outbox() == []
    finally:
        a.close()
        b.close()


def test_a_long_pass_alone_sends_everything_once(tmp_path: Path) -> None:
    clock = FakeClock(NOW)
    repo = SQLiteRepository(tmp_path, clock=clock)
    try:
        queue(repo, 6)
        sent: list[tuple[str, int]] = []
        slow = Chat("a", sent, lambda: clock.advance(timedelta(seconds=25)))  # a slow webhook
        report = Deliverer(repo, {"team": slow}, clock).deliver_due()
        assert [n for _, n in sent] == list(range(6)) and report.sent == 6
        assert repo.pending_outbox() == []
    finally:
        repo.close()


def test_a_long_pass_keeps_its_destination_from_another_process(postgres_schema: str) -> None:
    clock = FakeClock(NOW)
    a, b = (PostgresRepository(postgres_schema, clock=clock) for _ in range(2))
    try:
        queue(a, 6)
        sent: list[tuple[str, int]] = []
        took: list[int] = []

        def slow() -> None:  # every send takes 25 s; b looks meanwhile
            clock.advance(timedelta(seconds=25))
            took.append(len(b.claim_outbox(CLAIM_LEASE)))

        Deliverer(a, {"team": Chat("a", sent, slow)}, clock).deliver_due()
        assert [n for _, n in sent] == list(range(6))
        assert took == [0] * 6  # a's lease, renewed as it went, was never b's to take
    finally:
        a.close()
        b.close()
