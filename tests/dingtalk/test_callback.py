"""HTTP callback mode: signed headers checked, forgeries refused, repeated msgIds dropped."""

from __future__ import annotations

import io
import json

import httpx
import pytest

from core.domain.clock import FakeClock
from listeners.dingtalk import callback
from tests.dingtalk.helpers import add_alert, build_app
from tests.standin.dingtalk import RobotServer, spec_sign

APP_SECRET = "app-secret-for-callbacks"


@pytest.fixture
def served(tmp_path, clock):
    with RobotServer("SECcb", now_ms=lambda: int(clock.now().timestamp() * 1000)) as robot:
        app = build_app(tmp_path, clock, robot, stdout=io.StringIO())
        endpoint = callback.CallbackEndpoint(
            app, APP_SECRET, lambda: int(clock.now().timestamp() * 1000), deliver=lambda job: job()
        )
        server = callback.serve(endpoint, "127.0.0.1", 0, "/dingtalk/callback")
        url = f"http://127.0.0.1:{server.server_address[1]}/dingtalk/callback"
        try:
            yield app, url, robot
        finally:
            server.stop()
            app.close()


def body(text: str, msg_id: str = "cb-1") -> bytes:
    return json.dumps(
        {
            "msgtype": "text",
            "text": {"content": text},
            "msgId": msg_id,
            "senderNick": "王五",
            "senderStaffId": "staff-7",
            "conversationType": "2",
            "sessionWebhook": "https://oapi.dingtalk.com/robot/sendBySession?session=x",
        },
        ensure_ascii=False,
    ).encode()


def headers(clock: FakeClock, secret: str = APP_SECRET, offset_ms: int = 0) -> dict[str, str]:
    ts = str(int(clock.now().timestamp() * 1000) + offset_ms)
    return {"timestamp": ts, "sign": spec_sign(secret, ts), "Content-Type": "application/json"}


def test_signed_callback_runs_the_command_and_replies_in_the_response(served, clock):
    app, url, robot = served
    add_alert(app, "A1")
    response = httpx.post(url, content=body("@Buzzwatch 确认 A1"), headers=headers(clock))
    assert response.status_code == 200
    reply = response.json()
    assert reply["msgtype"] == "markdown" and reply["markdown"]["text"] == "A1 acked by 王五."
    assert app.repo.get_alert("A1").acked_by == "王五"
    assert any(
        "acked by 王五" in m["markdown"]["text"] for m in robot.accepted
    )  # delivered at once


@pytest.mark.parametrize(
    "forge",
    [
        lambda c: headers(c, secret="not-the-secret"),
        lambda c: headers(c, offset_ms=-3_600_001),  # replayed after more than an hour
        lambda c: headers(c, offset_ms=3_600_001),
        lambda c: {**headers(c), "sign": ""},
        lambda c: {k: v for k, v in headers(c).items() if k != "timestamp"},
    ],
)
def test_forged_or_stale_callbacks_are_refused(served, clock, forge):
    app, url, _ = served
    add_alert(app, "A1")
    response = httpx.post(url, content=body("ack A1"), headers=forge(clock))
    assert response.status_code == 401
    assert app.repo.get_alert("A1").status == "open"


def test_repeated_msg_id_is_dropped(served, clock):
    app, url, _ = served
    add_alert(app, "A1")
    first = httpx.post(url, content=body("resolve A1", "same"), headers=headers(clock))
    again = httpx.post(url, content=body("resolve A1", "same"), headers=headers(clock))
    assert first.json()["markdown"]["text"] == "A1 resolved by 王五."
    assert again.status_code == 200 and again.json() == {}
    assert [h["action"] for h in app.repo.get_alert("A1").history].count("resolved") == 1


def test_garbage_and_oversized_bodies(served, clock):
    _, url, _ = served
    assert httpx.post(url, content=b"[1,2]", headers=headers(clock)).status_code == 400
    big = b"x" * (callback.MAX_BODY_BYTES + 1)
    assert httpx.post(url, content=big, headers=headers(clock)).status_code == 413
    assert httpx.post(url + "x", content=body("help"), headers=headers(clock)).status_code == 404


def test_a_captured_signature_cannot_carry_another_message(served, clock):
    app, url, _ = served
    add_alert(app, "A1")
    captured = headers(clock)
    assert httpx.post(url, content=body("help", "m-1"), headers=captured).status_code == 200
    forged = httpx.post(url, content=body("resolve A1", "m-2"), headers=captured)
    assert forged.status_code == 401
    assert app.repo.get_alert("A1").status == "open"


def test_a_respelt_copy_of_a_used_signature_is_refused_too(served, clock):
    app, url, _ = served
    add_alert(app, "A1")
    captured = headers(clock)
    assert httpx.post(url, content=body("help", "m-1"), headers=captured).status_code == 200
    respelt = {**captured, "timestamp": "0" + captured["timestamp"]}  # the same number
    assert httpx.post(url, content=body("resolve A1", "m-9"), headers=respelt).status_code == 401
    assert app.repo.get_alert("A1").status == "open"


def test_non_ascii_digits_in_headers_are_refused_not_crashed_on(served, clock):
    _, url, _ = served
    sent = headers(clock)
    sent["timestamp"] = "¹".encode("latin-1")  # '¹'.isdigit() is True, int('¹') fails
    answer = httpx.post(url, content=body("help", "cb-sup"), headers=sent)
    # The headers are the signature: one that is not a number of milliseconds is refused
    # as a bad signature (401), as a wrong one is. 400 is for a body that is not a robot
    # message, which is read only after the signature passed.
    assert answer.status_code == 401
    assert answer.json() == {"error": "bad signature"}
    good = httpx.post(url, content=body("help", "cb-after"), headers=headers(clock))
    assert good.status_code == 200  # the endpoint goes on answering


def _handle(endpoint: callback.CallbackEndpoint, sent: dict[str, str], payload: bytes):
    return endpoint.handle({k.lower(): v for k, v in sent.items()}, payload)


def _endpoint(app, clock: FakeClock) -> callback.CallbackEndpoint:
    return callback.CallbackEndpoint(
        app, APP_SECRET, lambda: int(clock.now().timestamp() * 1000), deliver=lambda job: job()
    )


def test_a_captured_signature_or_msg_id_is_refused_after_a_restart(tmp_path, clock):
    captured = headers(clock)
    with RobotServer("SECcb", now_ms=lambda: int(clock.now().timestamp() * 1000)) as robot:
        app = build_app(tmp_path, clock, robot)
        add_alert(app, "A1")
        assert _handle(_endpoint(app, clock), captured, body("help", "m-1"))[0] == 200
        app.close()
        app = build_app(tmp_path, clock, robot)  # the bot restarted on the same data folder
        try:
            clock.advance(59 * 60)  # the pair still verifies for one more minute
            endpoint = _endpoint(app, clock)
            assert _handle(endpoint, captured, body("resolve A1", "m-2"))[0] == 401
            assert _handle(endpoint, captured, body("resolve A1", "m-1")) == (200, {})
            assert app.repo.get_alert("A1").status == "open"
            fresh = _handle(endpoint, headers(clock), body("resolve A1", "m-3"))
            assert fresh[0] == 200 and app.repo.get_alert("A1").status == "resolved"
        finally:
            app.close()


def test_a_signature_used_by_one_process_is_refused_by_another(
    tmp_path, clock, postgres_schema, monkeypatch
):
    from app.buzzwatch import Buzzwatch
    from tests.conftest import make_config

    monkeypatch.setenv("BUZZWATCH_DATABASE_URL", postgres_schema)
    apps = [
        Buzzwatch(
            make_config(tmp_path / name, storage={"backend": "postgres"}),
            clock=clock,
            stdout=io.StringIO(),
        )
        for name in ("one", "two")
    ]
    try:
        add_alert(apps[0], "A1")
        captured = headers(clock)
        assert _handle(_endpoint(apps[0], clock), captured, body("help", "m-1"))[0] == 200
        other = _endpoint(apps[1], clock)
        assert _handle(other, captured, body("resolve A1", "m-2"))[0] == 401
        assert _handle(other, headers(clock, offset_ms=1), body("help", "m-1")) == (200, {})
        assert apps[1].repo.get_alert("A1").status == "open"
    finally:
        for app in apps:
            app.close()


def test_a_callback_that_cannot_be_remembered_is_not_run(served, clock, monkeypatch):
    app, url, _ = served
    add_alert(app, "A1")

    def broken(*args):
        raise OSError("disk full")

    monkeypatch.setattr(app.repo, "remember_once", broken)
    answer = httpx.post(url, content=body("resolve A1", "m-5"), headers=headers(clock))
    assert answer.status_code == 503
    assert app.repo.get_alert("A1").status == "open"


def test_only_listed_people_may_change_alerts_from_dingtalk(tmp_path, clock):
    from core.commands.context import Actor
    from core.config import ConfigError
    from tests.conftest import make_config

    def sent_by(staff_id: str, text: str, msg_id: str) -> bytes:
        return json.dumps({**json.loads(body(text, msg_id)), "senderStaffId": staff_id}).encode()

    rules = {"default": {"users": ["staff-1"]}, "brands": {"Acme": {"users": ["staff-boss"]}}}
    with RobotServer("SECcb", now_ms=lambda: int(clock.now().timestamp() * 1000)) as robot:
        app = build_app(tmp_path, clock, robot, callback={"enabled": False}, permissions=rules)
        try:
            add_alert(app, "A1")
            add_alert(app, "A2")
            endpoint = _endpoint(app, clock)
            status, reply = _handle(endpoint, headers(clock), sent_by("staff-7", "ack A1", "p1"))
            assert status == 200 and "not on the list" in reply["markdown"]["text"]
            link = Actor(id="dingtalk-link", name="DingTalk link", platform="dingtalk")
            assert not app.commands.run("resolve A1", link).changed  # a link names no one
            assert app.repo.get_alert("A1").status == "open"
            clock.advance(1)
            _handle(endpoint, headers(clock), sent_by("staff-boss", "ack A1", "p2"))
            assert app.repo.get_alert("A1").status == "acked"
            # Slack and the console are not bound by DingTalk's list.
            assert app.commands.run("ack A2", Actor("U1", "ann", "slack")).changed
        finally:
            app.close()
    with pytest.raises(ConfigError, match=r"dingtalk.permissions.brands: unknown brand 'Nope'"):
        make_config(tmp_path, dingtalk={"permissions": {"brands": {"Nope": {"users": ["x"]}}}})
