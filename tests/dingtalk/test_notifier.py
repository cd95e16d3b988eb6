"""DingTalkNotifier against a stand-in robot on 127.0.0.1 that checks what DingTalk checks."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from core.domain.clock import FakeClock
from core.domain.models import Status
from core.domain.notifier import Outgoing
from listeners.dingtalk.notifier import BLOCK_SECONDS, DingTalkNotifier
from tests.dingtalk.helpers import SECRET, make_alert
from tests.standin.dingtalk import RobotServer


def notifier(
    robot: RobotServer, clock: FakeClock, secret: str | None = SECRET, **kw
) -> DingTalkNotifier:
    return DingTalkNotifier("ops-group", robot.webhook, secret, clock, **kw)


def post(n: DingTalkNotifier, alert=None, action: str = "post"):
    out = Outgoing(action, {"kind": "alert"}, alert=alert or make_alert(), ref={"robot": "x"})
    return n.send(out, n.render(out))


def test_signed_markdown_alert_is_accepted(robot: RobotServer, clock: FakeClock) -> None:
    delivery = post(notifier(robot, clock))
    assert delivery.ok, delivery.error
    assert delivery.ref["robot"] == "ops-group"
    assert robot.problems == []
    [body] = robot.accepted
    assert body["msgtype"] == "markdown" and "A1" in body["markdown"]["text"]


def test_actioncard_alert_is_accepted(robot: RobotServer, clock: FakeClock) -> None:
    links = lambda a, act: f"https://bw.example/dingtalk/ack/{act}.{a}"  # noqa: E731
    assert post(notifier(robot, clock, style="actioncard", links=links)).ok
    assert robot.accepted[0]["actionCard"]["btns"][1]["actionURL"].endswith("/ack.A1")


def test_wrong_secret_is_a_configuration_error_not_retried(
    robot: RobotServer, clock: FakeClock
) -> None:
    delivery = post(notifier(robot, clock, secret="SECwrong"))
    assert not delivery.ok and not delivery.retryable
    assert "configuration error" in delivery.error and "ops-group" in delivery.error
    assert "310000" in delivery.error
    assert robot.problems == ["signature mismatch"]
    assert "SECwrong" not in delivery.error and "tok123" not in delivery.error


def test_a_clock_over_an_hour_off_is_refused_by_the_window(
    robot: RobotServer, clock: FakeClock
) -> None:
    skewed = FakeClock(clock.now() - timedelta(minutes=61))
    delivery = post(DingTalkNotifier("ops-group", robot.webhook, SECRET, skewed))
    assert not delivery.ok and not delivery.retryable
    assert robot.problems == ["timestamp outside the one-hour window"]
    fine = FakeClock(clock.now() - timedelta(minutes=59))
    assert post(DingTalkNotifier("ops-group", robot.webhook, SECRET, fine)).ok


def test_unsigned_robot_without_secret(clock: FakeClock) -> None:
    with RobotServer(None, now_ms=lambda: int(clock.now().timestamp() * 1000)) as robot:
        assert post(notifier(robot, clock, secret=None)).ok


def test_too_fast_pauses_the_robot_over_ten_minutes(robot: RobotServer, clock: FakeClock) -> None:
    n = notifier(robot, clock)
    robot.answers = [130101]
    delivery = post(n)
    assert not delivery.ok and delivery.retryable
    assert delivery.retry_after is not None and delivery.retry_after > 600
    # While paused nothing reaches DingTalk (each try would extend its block).
    clock.advance(300)
    again = post(n)
    assert not again.ok and again.retryable and 300 < again.retry_after <= BLOCK_SECONDS - 300 + 1
    assert len(robot.requests) == 1
    clock.advance(BLOCK_SECONDS)
    assert post(n).ok


def test_too_long_is_cut_and_resent_once(robot: RobotServer, clock: FakeClock) -> None:
    robot.answers = [460101]
    alert = make_alert(text="很长的正文" * 200)
    delivery = post(notifier(robot, clock), alert)
    assert delivery.ok
    first, second = robot.requests
    assert first["errcode"] == 460101 and second["errcode"] == 0
    assert second["bytes"] < first["bytes"] and second["bytes"] <= 4000
    assert "truncated" in robot.accepted[0]["markdown"]["text"]


def test_too_long_twice_gives_up(robot: RobotServer, clock: FakeClock) -> None:
    robot.answers = [460101, 460101]
    delivery = post(notifier(robot, clock))
    assert not delivery.ok and not delivery.retryable
    assert len(robot.requests) == 2  # resent once, not in a loop


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_are_retryable(robot: RobotServer, clock: FakeClock, status: int) -> None:
    robot.status = status
    delivery = post(notifier(robot, clock))
    assert not delivery.ok and delivery.retryable


def test_timeout_is_retryable(clock: FakeClock) -> None:
    with RobotServer(
        SECRET, now_ms=lambda: int(clock.now().timestamp() * 1000), delay=1.0
    ) as robot:
        http = httpx.Client(timeout=0.2)
        delivery = post(notifier(robot, clock, http=http))
        assert not delivery.ok and delivery.retryable and "time" in delivery.error


def test_busy_retryable_and_content_refusal_not(robot: RobotServer, clock: FakeClock) -> None:
    n = notifier(robot, clock)
    robot.answers = [-1, 430102]
    busy, refused = post(n), post(n)
    assert busy.retryable and not refused.retryable and "430102" in refused.error


def test_update_sends_a_short_status_message(robot: RobotServer, clock: FakeClock) -> None:
    alert = make_alert()
    alert.status, alert.acked_by, alert.acked_at = (
        Status.ACKED.value,
        "张三",
        "2026-11-28T08:05:00+00:00",
    )
    assert post(notifier(robot, clock), alert, action="update").ok
    text = robot.accepted[0]["markdown"]["text"]
    assert "A1 · acked by 张三" in text and "Sentiment" not in text


def test_own_limiter_never_lets_a_twentieth_message_into_a_minute(
    robot: RobotServer, clock: FakeClock
) -> None:
    """Without the outbox's limiter in front, the notifier alone still keeps under 20/min."""
    n = notifier(robot, clock)
    results = []
    for _ in range(25):
        results.append(post(n))
        clock.advance(1)
    assert sum(d.ok for d in results) == 19
    refused = [d for d in results if not d.ok]
    assert all(d.retryable and 0 < d.retry_after <= 60 for d in refused)
    assert len(robot.requests) == 19 and robot.problems == []


def test_a_robot_that_cannot_be_reached_is_said_with_its_host_and_why(clock: FakeClock) -> None:
    """`network error: ConnectError` said neither where nor why; the token stays unsaid."""
    import socket

    with socket.socket() as sock:  # a port nothing listens on once closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    webhook = f"http://127.0.0.1:{port}/robot/send?access_token=tok-not-to-be-logged"
    delivery = post(DingTalkNotifier("ops-group", webhook, SECRET, clock))
    assert not delivery.ok and delivery.retryable
    assert delivery.error.startswith("network error: ConnectError to 127.0.0.1: "), delivery.error
    assert "refused" in delivery.error.lower()
    assert "tok-not-to-be-logged" not in delivery.error and "SECtest" not in delivery.error
