"""Socket Mode end to end: the listener starter, slack_sdk's real websocket client, and
stand-ins for apps.connections.open and Slack's websocket on 127.0.0.1."""

from __future__ import annotations

import logging
import threading

import pytest

from listeners.slack import blocks as bk
from listeners.slack.app import start_slack
from tests.slack.rig import Rig, answers, button, click_payload, slash_payload, wait_for
from tests.slack.socket_mode import SocketModeServer
from tests.standin.slack import APP_TOKEN

SLACK_DEADLINE = 3.0  # seconds Slack waits for an envelope's ack


@pytest.fixture
def socket_rig(tmp_path, slack_api, clock, monkeypatch):
    monkeypatch.setenv("SLACK_APP_TOKEN", APP_TOKEN)
    rig = Rig(tmp_path, slack_api, clock, monkeypatch, mode="socket")
    with SocketModeServer(slack_api) as ws:
        stop = start_slack(rig.bw)
        assert stop is not None
        try:
            yield rig, ws
        finally:
            stop()
            rig.close()


def acked_in_time(ws: SocketModeServer, envelope: tuple[str, float]):
    envelope_id, sent = envelope
    ack = ws.ack_of(envelope_id, timeout=10)
    assert ack.at - sent < SLACK_DEADLINE, f"acked after {ack.at - sent:.3f} s"
    return ack


def test_hello_a_slash_command_and_a_button(socket_rig, slack_api):
    rig, ws = socket_rig
    rig.push(2)
    ws.wait_connections(1)
    assert [c.method for c in slack_api.calls("apps.connections.open")] == ["apps.connections.open"]
    assert ws.paths[0] == "/link/?ticket=t1"

    acked_in_time(ws, ws.envelope("slash_commands", slash_payload(slack_api, "/ack", "A1")))
    [answer] = answers(slack_api)
    assert "A1 acked by ann" in answer["text"] and answer["response_type"] == "ephemeral"
    wait_for(lambda: rig.alert("A1").status == "acked")

    click = click_payload(slack_api, button(bk.RESOLVE, "A2"))
    acked_in_time(ws, ws.envelope("interactive", click))
    wait_for(lambda: rig.alert("A2").status == "resolved")
    assert rig.alert("A2").history[-1]["by"] == "bob"


def test_disconnect_reconnects_and_an_envelope_in_between_is_acked_in_time(socket_rig, slack_api):
    rig, ws = socket_rig
    rig.push(3)
    ws.wait_connections(1)
    # Slack may still deliver on the old connection until the client has moved. The move
    # waits (in apps.connections.open) until that envelope is out: on a loaded machine the
    # client could otherwise move and close the old connection before the test sends on it.
    moved, url_of = threading.Event(), slack_api.state.socket_url
    slack_api.state.socket_url = lambda: moved.wait(10) and url_of()
    ws.disconnect()
    in_between = ws.envelope("slash_commands", slash_payload(slack_api, "/ack", "A1"), 0)
    moved.set()
    acked_in_time(ws, in_between)
    wait_for(lambda: rig.alert("A1").status == "acked")
    ws.wait_connections(2)
    assert len(slack_api.calls("apps.connections.open")) == 2  # a fresh URL for the new one
    assert ws.paths[1] == "/link/?ticket=t2"
    # The new connection carries the next command and click.
    ack = acked_in_time(ws, ws.envelope("slash_commands", slash_payload(slack_api, "/ack", "A2")))
    assert ack.conn == 1
    wait_for(lambda: rig.alert("A2").status == "acked")
    acked_in_time(ws, ws.envelope("interactive", click_payload(slack_api, button(bk.ACK, "A3"))))
    wait_for(lambda: rig.alert("A3").acked_by == "bob")
    # A second disconnect moves it again.
    ws.disconnect()
    ws.wait_connections(3)
    acked_in_time(ws, ws.envelope("slash_commands", slash_payload(slack_api, "/buzz", "help")))
    wait_for(lambda: any("Buzzwatch commands" in r.body["text"] for r in slack_api.responses()))


def test_a_refused_app_token_turns_commands_off_with_a_reason(
    tmp_path, slack_api, clock, monkeypatch, caplog
):
    monkeypatch.setenv("SLACK_APP_TOKEN", "xapp-wrong")
    rig = Rig(tmp_path, slack_api, clock, monkeypatch, mode="socket")
    try:
        with SocketModeServer(slack_api) as ws, caplog.at_level(logging.ERROR):
            assert start_slack(rig.bw) is None
            assert ws.connections() == 0
        assert "Slack Socket Mode did not connect" in caplog.text
        assert "invalid_auth" in caplog.text
    finally:
        rig.close()
