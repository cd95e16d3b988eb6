"""SlackNotifier against the local Web API stand-in: payloads, refs, and Slack's errors."""

from __future__ import annotations

import logging
import socket
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import pytest

from core.config import ConfigError
from core.domain.clock import SystemClock
from core.domain.notifier import Outgoing
from listeners.context import NotifierContext
from listeners.slack.notifier import SlackNotifier, build_slack, make_client
from tests.conftest import make_config
from tests.slack.helpers import make_alert
from tests.standin.slack import CHANNEL, TOKEN, Failure


@pytest.fixture
def notifier(slack_api) -> SlackNotifier:
    return SlackNotifier("slack", CHANNEL, make_client(TOKEN, slack_api.api_url))


def post(notifier: SlackNotifier, **kw):
    out = Outgoing(action="post", message={"kind": "alert"}, alert=make_alert(), **kw)
    return out, notifier.send(out, notifier.render(out))


def test_post_update_reply_reach_slack_as_rendered(slack_api, notifier):
    out, d = post(notifier)
    assert d.ok and d.ref == {"channel": CHANNEL, "ts": "1700000000.000001"}
    [call] = slack_api.calls("chat.postMessage")
    assert call.body == notifier.render(out)
    assert call.body["unfurl_links"] is False and call.body["link_names"] is False

    alert = make_alert()
    alert.status, alert.acked_by, alert.acked_at = "acked", "ann", "2026-11-28T08:01:00+00:00"
    upd = Outgoing(action="update", message={"kind": "alert"}, alert=alert, ref=d.ref)
    d2 = notifier.send(upd, notifier.render(upd))
    assert d2.ok and d2.ref == d.ref
    [call] = slack_api.calls("chat.update")
    assert call.body["ts"] == d.ref["ts"] and "acked by ann" in str(call.body["blocks"])

    note = Outgoing(action="reply", message={"kind": "note", "text": "A1 acked by ann."}, ref=d.ref)
    assert notifier.send(note, notifier.render(note)).ok
    reply = slack_api.calls("chat.postMessage")[-1]
    assert reply.body["thread_ts"] == d.ref["ts"] and reply.body["text"] == "A1 acked by ann."


@pytest.fixture
def sdk_sleeps(monkeypatch) -> list[float]:
    """The waits slack_sdk's retry handlers ask for, recorded instead of slept."""
    import slack_sdk.http_retry.builtin_handlers as builtin
    import slack_sdk.http_retry.handler as handler

    sleeps: list[float] = []
    clock = SimpleNamespace(sleep=sleeps.append)
    monkeypatch.setattr(builtin, "time", clock)
    monkeypatch.setattr(handler, "time", clock)
    return sleeps


def test_429_long_retry_after_goes_back_to_the_outbox_without_sleeping(
    slack_api, notifier, sdk_sleeps
):
    slack_api.fail("chat.postMessage", Failure(429, retry_after=30))
    _, d = post(notifier)
    assert sdk_sleeps == []
    assert not d.ok and d.retryable and d.retry_after == 30
    assert len(slack_api.calls("chat.postMessage")) == 1


def test_429_short_retry_after_is_waited_out_by_the_sdk(slack_api, notifier):
    slack_api.fail("chat.postMessage", Failure(429, retry_after=1))
    _, d = post(notifier)
    assert d.ok
    assert len(slack_api.calls("chat.postMessage")) == 2


def test_5xx_retried_once_then_retryable(slack_api, notifier, sdk_sleeps):
    slack_api.fail("chat.postMessage", Failure(500), Failure(503))
    _, d = post(notifier)
    assert sdk_sleeps == [0.5]  # one short wait before the one retry
    assert not d.ok and d.retryable and "HTTP 503" in d.error
    assert len(slack_api.calls("chat.postMessage")) == 2
    slack_api.fail("chat.postMessage", Failure(500))
    _, d = post(notifier)
    assert d.ok  # the SDK's one retry got through


@pytest.mark.parametrize(
    ("setup", "code", "hint"),
    [
        (lambda s: s.state.channels.clear(), "channel_not_found", "destinations.slack"),
        (lambda s: s.state.not_in.add(CHANNEL), "not_in_channel", "/invite"),
        (lambda s: setattr(s.state, "token", "xoxb-other"), "invalid_auth", "SLACK_BOT_TOKEN"),
        (
            lambda s: s.fail("chat.postMessage", Failure(200, "invalid_blocks")),
            "invalid_blocks",
            "bug",
        ),
        (lambda s: s.fail("chat.postMessage", Failure(200, "msg_too_long")), "msg_too_long", "bug"),
    ],
)
def test_permanent_errors_are_not_retried(slack_api, notifier, caplog, setup, code, hint):
    setup(slack_api)
    with caplog.at_level(logging.ERROR, "buzzwatch.slack"):
        _, d = post(notifier)
    assert not d.ok and not d.retryable
    assert code in d.error and hint in d.error
    assert code in caplog.text
    assert len(slack_api.calls("chat.postMessage")) == 1


def test_transient_ok_false_is_retryable(slack_api, notifier):
    slack_api.fail("chat.postMessage", Failure(200, "internal_error"))
    _, d = post(notifier)
    assert not d.ok and d.retryable


def test_unreachable_slack_is_retryable():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again before the send: nothing listens
    notifier = SlackNotifier("slack", CHANNEL, make_client(TOKEN, f"http://127.0.0.1:{port}/api/"))
    _, d = post(notifier)
    assert not d.ok and d.retryable and "chat.postMessage" in d.error


def test_text_with_image_uploads_it_and_survives_a_failed_upload(
    slack_api, notifier, tmp_path, caplog
):
    png = tmp_path / "chart.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + b"0" * 100)
    msg = {"kind": "text", "title": "Daily digest", "text": "3 alerts", "image": str(png)}
    out = Outgoing(action="post", message=msg)
    payload = notifier.render(out)
    assert "image" not in str(payload)  # the body is the message; the file goes separately
    assert notifier.send(out, payload).ok
    [done] = slack_api.calls("files.completeUploadExternal")
    assert done.body["channel_id"] == CHANNEL
    assert slack_api.calls("upload")[0].body["bytes"] > 100

    slack_api.fail("files.getUploadURLExternal", Failure(200, "missing_scope"))
    with caplog.at_level(logging.WARNING, "buzzwatch.slack"):
        assert notifier.send(out, payload).ok
    assert "missing_scope" in caplog.text and "chart.png" in caplog.text
    missing = Outgoing(action="post", message={**msg, "image": str(tmp_path / "nope.png")})
    assert notifier.send(missing, payload).ok


def test_builder_needs_a_token_except_in_a_dry_run(tmp_path: Path, monkeypatch):
    cfg = make_config(
        tmp_path, destinations={"slack": {"type": "slack", "channel": CHANNEL}}, routes=[]
    )
    dest = cfg.destinations["slack"]
    context = NotifierContext(config=cfg, clock=SystemClock())
    with pytest.raises(ConfigError, match="SLACK_BOT_TOKEN is not set"):
        build_slack("slack", dest, context)
    assert build_slack("slack", dest, replace(context, dry_run=True)).client is None
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xapp-wrong-kind")
    with pytest.raises(ConfigError, match="bot token"):
        build_slack("slack", dest, context)
    monkeypatch.setenv("SLACK_BOT_TOKEN", TOKEN)
    n = build_slack("slack", dest, replace(context, slack_api_url="http://127.0.0.1:9/api/"))
    assert n.client.base_url == "http://127.0.0.1:9/api/" and n.rate_limit == (1, 1.0)
