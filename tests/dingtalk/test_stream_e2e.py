"""Stream mode end to end: the listener starter, dingtalk-stream's real client, and a
stand-in gateway (connections/open and the websocket) on 127.0.0.1."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import threading

import pytest
import yaml
from dingtalk_stream import AckMessage, ChatbotMessage, DingTalkStreamClient

from listeners.dingtalk import start_dingtalk
from tests.conftest import ROOT, clean_env
from tests.dingtalk.gateway import OPEN_PATH, Gateway
from tests.dingtalk.helpers import add_alert, build_app
from tests.dingtalk.test_stream import chatbot_payload, replies

KEY, SECRET = "ding-app-key", "ding-app-secret"  # as tests/dingtalk/helpers.py hands them out
STREAM = {"enabled": True, "app_key_env": "DT_APP_KEY", "app_secret_env": "DT_APP_SECRET"}
DINGTALK_DEADLINE = 3.0  # seconds; later, DingTalk counts the message as undelivered


@pytest.fixture
def stream(tmp_path, clock, robot, monkeypatch):
    with Gateway(KEY, SECRET) as gateway:
        # The SDK reads DINGTALK_OPENAPI_ENDPOINT once, when it is imported; this is what
        # that variable sets (test_the_gateway_address_comes_from_the_environment runs it).
        monkeypatch.setattr(
            DingTalkStreamClient, "OPEN_CONNECTION_API", gateway.endpoint + OPEN_PATH
        )
        app = build_app(tmp_path, clock, robot, stdout=io.StringIO(), stream=STREAM)
        stop = start_dingtalk(app)
        assert stop is not None
        try:
            gateway.wait_connections(1)
            yield app, gateway
        finally:
            stop()
            app.close()


def acked(gateway: Gateway, sent: tuple[str, float], timeout: float = 5.0):
    frame_id, at = sent
    ack = gateway.ack_of(frame_id, timeout)
    assert ack.data["code"] == AckMessage.STATUS_OK
    assert ack.at - at < DINGTALK_DEADLINE
    return ack


def test_connect_and_an_at_bot_command(stream, robot):
    app, gateway = stream
    [opened] = gateway.opens
    assert (opened["clientId"], opened["clientSecret"]) == (KEY, SECRET)
    assert {"type": "CALLBACK", "topic": ChatbotMessage.TOPIC} in opened["subscriptions"]
    assert gateway.paths[0] == "/connect?ticket=tk-1"
    add_alert(app, "A1")
    acked(gateway, gateway.message(chatbot_payload(robot, "@Buzzwatch ack A1", msg_id="m1")))
    gateway.wait(lambda: replies(robot))
    assert replies(robot) == ["A1 acked by 张三."]
    assert app.repo.get_alert("A1").status == "acked"


def test_the_ack_does_not_wait_for_a_slow_reply(stream, robot):
    app, gateway = stream
    add_alert(app, "A1")
    robot.session_gate = threading.Event()  # the session webhook hangs until released
    try:
        acked(gateway, gateway.message(chatbot_payload(robot, "ack A1", msg_id="slow-1")))
        assert robot.session_messages == []
    finally:
        robot.session_gate.set()
    gateway.wait(lambda: replies(robot))
    assert replies(robot) == ["A1 acked by 张三."]


def test_disconnect_reconnects_with_a_new_ticket(stream, robot):
    app, gateway = stream
    add_alert(app, "A1")
    sys_id = gateway.disconnect()
    assert gateway.ack_of(sys_id).data["code"] == AckMessage.STATUS_OK
    gateway.wait_connections(2)
    assert len(gateway.opens) == 2 and gateway.paths[1] == "/connect?ticket=tk-2"
    ack = acked(gateway, gateway.message(chatbot_payload(robot, "resolve A1", msg_id="m2")))
    assert ack.conn == 1
    gateway.wait(lambda: replies(robot))
    assert replies(robot) == ["A1 resolved by 张三."]


def test_a_repeated_msg_id_is_acked_and_run_once(stream, robot):
    app, gateway = stream
    add_alert(app, "A1")
    payload = chatbot_payload(robot, "ack A1", msg_id="dup-1")
    first = gateway.message(payload)
    again = gateway.message(payload)  # DingTalk redelivers: a new frame, the same msgId
    acked(gateway, first)
    acked(gateway, again)
    gateway.wait(lambda: replies(robot))
    app.deliverer.deliver_due()
    assert replies(robot) == ["A1 acked by 张三."]
    assert [h["action"] for h in app.repo.get_alert("A1").history].count("acked") == 1


def test_the_gateway_address_comes_from_the_environment(tmp_path, robot):
    """`python bot.py` with DINGTALK_OPENAPI_ENDPOINT set, as a private deployment runs it."""
    config = {
        "data_dir": str(tmp_path / "data"),
        "brands": [{"name": "Acme", "keywords": ["Acme"]}],
        "sources": [],
        "destinations": {"console": {"type": "console"}},
        "routes": [{"name": "all", "match": {}, "to": ["console"]}],
        "dingtalk": {"stream": {"enabled": True}},
        # The default daily digest (09:00, 6 h grace) would be caught up at start between
        # 09:00 and 15:00 only: the same start-up at any hour.
        "digest": {"enabled": False},
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    with Gateway(KEY, SECRET) as gateway:
        proc = subprocess.Popen(
            [sys.executable, str(ROOT / "bot.py"), "--config", str(path), "-q"],
            cwd=tmp_path,
            env={
                **clean_env(),
                "DINGTALK_OPENAPI_ENDPOINT": gateway.endpoint,
                "DINGTALK_APP_KEY": KEY,
                "DINGTALK_APP_SECRET": SECRET,
            },
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            gateway.wait_connections(1, timeout=30)
            acked(gateway, gateway.message(chatbot_payload(robot, "帮助", msg_id="h1")))
            gateway.wait(lambda: replies(robot))
            assert "status" in replies(robot)[0]
        finally:
            os.kill(proc.pid, signal.SIGTERM)
            _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "Traceback" not in err
