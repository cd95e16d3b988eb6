"""HTTP-mode requests: a replay within Slack's 5-minute window changes nothing, a malformed
timestamp is a 401, a refusal logs its reason and never the body, and the app starts
without Bolt's warning about an unused token."""

from __future__ import annotations

import json
import logging
import time

from slack_sdk.signature import SignatureVerifier

from listeners.slack import blocks as bk
from listeners.slack.app import HttpListener, build_app
from listeners.slack.verify import SeenRequests
from tests.slack.rig import SECRET, answers, button, click, post_signed, slash, wait_for
from tests.standin.slack import TOKEN


def signed(rig, body: str, ts: str | None = None) -> dict[str, list[str]]:
    ts = ts or rig.now()
    sig = SignatureVerifier(SECRET).generate_signature(timestamp=ts, body=body)
    return {
        "content-type": ["application/x-www-form-urlencoded"],
        "x-slack-signature": [sig],
        "x-slack-request-timestamp": [ts],
    }


def test_a_replayed_command_is_answered_but_not_acted_on(rig, slack_api):
    from slack_bolt import BoltRequest

    rig.push(1)
    body = slash(slack_api, "/buzz", "snooze A1 1h")
    headers = signed(rig, body)
    assert rig.app.dispatch(BoltRequest(body=body, headers=headers)).status == 200
    wait_for(lambda: rig.alert().status == "snoozed")
    first_until = rig.alert().snoozed_until
    answers(slack_api, 1)
    # Four minutes later (still inside the window) someone sends the same request again.
    rig.clock.advance(240)
    resp = rig.app.dispatch(BoltRequest(body=body, headers=headers))
    assert resp.status == 200 and resp.body == ""
    time.sleep(0.3)
    assert rig.alert().snoozed_until == first_until
    assert [h["action"] for h in rig.alert().history].count("snoozed") == 1
    assert len(slack_api.responses()) == 1
    # Past the window the same request is stale: refused, not remembered for ever.
    rig.clock.advance(120)
    assert rig.app.dispatch(BoltRequest(body=body, headers=headers)).status == 401


def test_a_replayed_button_click_and_a_slack_retry(rig, slack_api):
    from slack_bolt import BoltRequest

    rig.push(2)
    body = click(slack_api, button(bk.RESOLVE, "A1"))
    headers = signed(rig, body)
    assert rig.app.dispatch(BoltRequest(body=body, headers=headers)).status == 200
    wait_for(lambda: rig.alert("A1").status == "resolved")
    rig.settle()
    updates = len(slack_api.calls("chat.update"))
    retry = {**headers, "x-slack-retry-num": ["1"], "x-slack-retry-reason": ["http_timeout"]}
    resp = rig.app.dispatch(BoltRequest(body=body, headers=retry))
    assert resp.status == 200 and resp.headers.get("x-slack-no-retry") == ["1"]
    time.sleep(0.3)
    rig.settle()
    assert [h["action"] for h in rig.alert("A1").history].count("resolved") == 1
    assert len(slack_api.calls("chat.update")) == updates
    # A different request (its own signature) still works.
    body2 = click(slack_api, button(bk.RESOLVE, "A2"))
    assert rig.app.dispatch(BoltRequest(body=body2, headers=signed(rig, body2))).status == 200
    wait_for(lambda: rig.alert("A2").status == "resolved")


def test_an_event_retried_by_slack_with_a_new_signature_is_not_taken_twice(rig):
    from slack_bolt import BoltRequest

    event = json.dumps(
        {"type": "event_callback", "event_id": "Ev1", "team_id": "T1", "event": {"type": "x"}}
    )

    def send(extra: dict) -> int:
        headers = signed(rig, event) | {"content-type": ["application/json"]} | extra
        return rig.app.dispatch(BoltRequest(body=event, headers=headers))

    first = send({})
    assert first.status != 401 and "x-slack-no-retry" not in first.headers
    rig.clock.advance(5)  # Slack's retry: same event, a new timestamp and signature
    again = send({"x-slack-retry-num": ["1"]})
    assert again.status == 200 and again.headers.get("x-slack-no-retry") == ["1"]


def test_remembered_requests_are_bounded_and_expire():
    seen = SeenRequests(limit=3)
    assert [seen.add([f"s{i}"], expires=100.0 + i, now=0.0) for i in range(3)] == ["new"] * 3
    assert seen.add(["s0"], expires=200.0, now=1.0) == "seen"
    # Full: refused (fail closed) rather than forgetting a request that could be replayed.
    assert seen.add(["s3"], expires=103.0, now=1.0) == "full"
    assert seen.add(["s3"], expires=104.0, now=101.5) == "new"  # s0 and s1 have expired
    assert len(seen) == 2
    assert seen.add(["s0"], expires=300.0, now=101.5) == "new"


def test_malformed_timestamp_is_401_and_refusals_log_only_the_reason(
    rig,
    slack_api,
    caplog,
):
    rig.push(1)
    server = HttpListener(rig.app, "127.0.0.1", 0, "/slack/events").start()
    url = f"http://127.0.0.1:{server.port}/slack/events"
    marker = "PRIVATE-BODY-TEXT-4711"
    body = slash(slack_api, "/ack", f"A1 {marker}")

    def post(ts: str, secret: str = SECRET, sig: str | None = None) -> int:
        return post_signed(url, body, ts, secret, sig)

    try:
        with caplog.at_level(logging.DEBUG):
            assert post("abc") == 401
            assert post("1e9") == 401
            assert post("-" + rig.now()) == 401
            assert post(rig.now() + "0" * 30) == 401
            assert post(rig.now(), secret="forged") == 401
            assert post(str(int(rig.now()) - 301)) == 401
            assert post(rig.now(), sig="") == 401
        time.sleep(0.2)
        assert rig.alert().status == "open" and slack_api.responses() == []
        assert marker not in caplog.text
        assert "Traceback" not in caplog.text and "Error" not in caplog.text
        refusals = [r.getMessage() for r in caplog.records if "refused (401)" in r.getMessage()]
        assert len(refusals) == 7
        assert any("timestamp" in r for r in refusals)
        assert any("signature does not match" in r for r in refusals)
    finally:
        server.stop()


def test_bolt_starts_without_the_unused_token_warning(slack_api, monkeypatch, caplog):
    monkeypatch.setenv("SLACK_BOT_TOKEN", TOKEN)
    with caplog.at_level(logging.INFO):
        app = build_app(TOKEN, SECRET, api_url=slack_api.api_url)
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
    # Bolt's own client got our settings: the stand-in answered auth.test.
    assert app.client.base_url == slack_api.api_url
    assert [c.method for c in slack_api.calls()] == ["auth.test"]


def test_http_mode_on_a_taken_port_is_a_clear_error(rig):
    import socket

    import pytest

    from core.config import ConfigError

    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        with pytest.raises(ConfigError, match=rf"^slack.port: cannot listen on 127.0.0.1:{port}: "):
            HttpListener(rig.app, "127.0.0.1", port, "/slack/events")


def _bolt_on_store(rig):
    """The Bolt app as start_slack builds it: used requests remembered in the repository."""
    from listeners.slack.app import register, services_for

    app = build_app(
        TOKEN,
        SECRET,
        api_url=rig.api.api_url,
        now=lambda: rig.clock.now().timestamp(),
        remember=rig.bw.repo.remember_once,
    )
    register(app, services_for(rig.bw, app.client, rig.bw.config.slack))
    return app


def test_a_replay_after_a_restart_is_answered_but_not_acted_on(
    tmp_path, slack_api, clock, monkeypatch
):
    from slack_bolt import BoltRequest

    from tests.slack.test_app import Rig

    first = Rig(tmp_path, slack_api, clock, monkeypatch)
    first.push(1)
    body = slash(slack_api, "/buzz", "snooze A1 1h")
    headers = signed(first, body)
    assert _bolt_on_store(first).dispatch(BoltRequest(body=body, headers=headers)).status == 200
    wait_for(lambda: first.alert().status == "snoozed")
    snoozed_until = first.alert().snoozed_until
    answers(slack_api, 1)
    first.close()
    again = Rig(tmp_path, slack_api, clock, monkeypatch)  # restarted, same data folder
    try:
        clock.advance(240)  # still inside Slack's 5-minute window
        resp = _bolt_on_store(again).dispatch(BoltRequest(body=body, headers=headers))
        assert resp.status == 200 and resp.body == ""
        time.sleep(0.3)
        assert again.alert().snoozed_until == snoozed_until
        assert [h["action"] for h in again.alert().history].count("snoozed") == 1
        assert len(slack_api.responses()) == 1
    finally:
        again.close()


def test_a_request_the_store_cannot_remember_is_not_taken(rig, slack_api, monkeypatch):
    from slack_bolt import BoltRequest

    rig.push(1)
    app = _bolt_on_store(rig)
    body = slash(slack_api, "/ack", "A1")
    broken = True

    def remember(kind, key, until):
        if broken:
            raise OSError("disk full")
        return True

    app_verify = next(m for m in app._middleware_list if hasattr(m, "remember"))
    monkeypatch.setattr(app_verify, "remember", remember)
    assert app.dispatch(BoltRequest(body=body, headers=signed(rig, body))).status == 503
    time.sleep(0.3)
    assert rig.alert().status == "open"
    broken = False  # Slack's retry, once the store works again, is taken
    assert app.dispatch(BoltRequest(body=body, headers=signed(rig, body))).status == 200
    wait_for(lambda: rig.alert().status == "acked")


def test_http_mode_listens_on_this_machine_by_default_and_says_so(
    rig,
    monkeypatch,
    caplog,
):
    from listeners.slack.app import reach, start_slack
    from tests.slack.rig import free_port

    assert rig.bw.config.slack.host == "127.0.0.1"  # as every other listener
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SECRET)
    rig.bw.config.slack.port = free_port()
    with caplog.at_level(logging.INFO):
        stop = start_slack(rig.bw)
    assert stop is not None
    stop()
    assert "http://127.0.0.1:" in caplog.text and "this machine only" in caplog.text
    assert "this machine only" in reach("::1") and "this machine only" in reach("localhost")
    assert "other machines" in reach("0.0.0.0") and "other machines" in reach("10.0.0.5")
