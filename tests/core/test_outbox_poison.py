"""A message that cannot be rendered is given up at once (nothing was sent, and it would
render the same way next time); a message that could not be sent is retried. One poison
message must never hold up the alerts queued behind it."""

from __future__ import annotations

import logging
import random
from pathlib import Path
from typing import Any

import pytest

from core.delivery.worker import Deliverer
from core.domain.clock import FakeClock
from core.domain.notifier import Delivery, Outgoing
from listeners.webhook import WebhookNotifier
from tests.core.test_delivery_faults import START, Node, posted_alert_ids
from tests.standin.chat import ChatServer


class PoisonWebhook(WebhookNotifier):
    """Cannot render the alerts named in `poison` (as with a year-0001 date); may fail to
    send the first `send_failures` messages (as with a dropped connection)."""

    def __init__(self, url: str, poison: set[str], rate=None, send_failures: int = 0) -> None:
        super().__init__(url, None, rate)
        self.poison = poison
        self.send_failures = send_failures

    def render(self, out: Outgoing) -> dict[str, Any]:
        for a in [out.alert, *out.alerts]:
            if a is not None and a.id in self.poison:
                raise OverflowError("date value out of range")
        return super().render(out)

    def send(self, out: Outgoing, payload: dict[str, Any]) -> Delivery:
        if self.send_failures:
            self.send_failures -= 1
            raise ConnectionResetError("connection reset by peer")
        return super().send(out, payload)


def with_notifier(node: Node, notifier: WebhookNotifier) -> Node:
    node.notifier.client.close()
    node.notifier = notifier
    node.deliverer = Deliverer(
        node.repo, {"chat": notifier}, node.clock, rng=random.Random(7), sleep=node.clock.advance
    )
    return node


def test_an_alert_that_cannot_be_rendered_is_a_dead_letter_and_the_next_goes_at_once(
    tmp_path: Path, chat: ChatServer, caplog: pytest.LogCaptureFixture
) -> None:
    node = with_notifier(Node(tmp_path, chat, FakeClock(START)), PoisonWebhook(chat.url, {"A2"}))
    node.push(3)
    with caplog.at_level(logging.ERROR, logger="buzzwatch.outbox"):
        report = node.deliverer.deliver_due()  # one pass
    assert posted_alert_ids(chat) == ["A1", "A3"]
    assert (report.sent, report.dead, report.retrying) == (2, 1, 0)
    assert node.repo.pending_outbox() == []
    [dead] = node.repo.dead_letters()
    assert dead.alert_id == "A2" and dead.attempts == 1
    assert "alert A2 could not be rendered" in dead.last_error
    assert "OverflowError: date value out of range" in dead.last_error
    assert any("alert A2" in r.getMessage() for r in caplog.records)
    node.close()


def test_a_failed_send_is_still_retried(tmp_path: Path, chat: ChatServer) -> None:
    notifier = PoisonWebhook(chat.url, set(), send_failures=1)
    node = with_notifier(Node(tmp_path, chat, FakeClock(START)), notifier)
    node.push(2)
    report = node.deliverer.deliver_due()
    assert (report.sent, report.dead, report.retrying) == (0, 0, 1)
    [first, _] = node.repo.pending_outbox()
    assert "ConnectionResetError" in first.last_error and first.next_attempt_at
    node.run(5)
    assert posted_alert_ids(chat) == ["A1", "A2"]
    assert node.repo.dead_letters() == []
    node.close()


def test_a_poison_alert_inside_a_batch_leaves_it_and_the_others_go(
    tmp_path: Path, chat: ChatServer, caplog: pytest.LogCaptureFixture
) -> None:
    notifier = PoisonWebhook(chat.url, {"A12"}, rate=(5, 60.0))
    node = with_notifier(Node(tmp_path, chat, FakeClock(START), rate=(5, 60.0)), notifier)
    node.push(40)
    with caplog.at_level(logging.ERROR, logger="buzzwatch.outbox"):
        node.run(5)
    assert any(
        "A12" in r.getMessage() and "leaves the batch" in r.getMessage() for r in caplog.records
    )
    ids = posted_alert_ids(chat)
    assert any(b["kind"] == "batch" for b in chat.received)
    expected = [f"A{i}" for i in range(1, 41) if i != 12]
    assert sorted(ids, key=lambda a: int(a[1:])) == expected  # each once, none lost
    assert node.repo.pending_outbox() == []
    [dead] = node.repo.dead_letters()
    assert dead.alert_id == "A12"
    assert "alert A12 could not be rendered" in dead.last_error
    assert "OverflowError" in dead.last_error
    node.close()
