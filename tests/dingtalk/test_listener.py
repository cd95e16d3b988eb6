"""The `dingtalk:` section starts what it names, and nothing without its secrets."""

from __future__ import annotations

import io
import logging
from datetime import UTC, datetime

from core.domain.clock import FakeClock
from listeners.dingtalk import start_dingtalk
from tests.dingtalk.helpers import build_app
from tests.standin.dingtalk import RobotServer


def test_stream_without_keys_starts_nothing_and_says_why(tmp_path, caplog):
    clock = FakeClock(datetime.now(UTC))
    with RobotServer() as robot:
        app = build_app(tmp_path, clock, robot, stdout=io.StringIO(), stream={"enabled": True})
        try:
            with caplog.at_level(logging.ERROR):
                assert start_dingtalk(app) is None
            assert "DINGTALK_APP_KEY" in caplog.text
        finally:
            app.close()


def test_no_section_no_listener(tmp_path):
    with RobotServer() as robot:
        app = build_app(tmp_path, FakeClock(datetime.now(UTC)), robot, stdout=io.StringIO())
        try:
            assert start_dingtalk(app) is None
        finally:
            app.close()


def test_ack_pages_and_callback_start_and_stop(tmp_path):
    with RobotServer() as robot:
        app = build_app(
            tmp_path,
            FakeClock(datetime.now(UTC)),
            robot,
            stdout=io.StringIO(),
            public_base_url="https://buzz.example.com",
            ack_secret_env="DT_ACK",
            ack_port=0,
            callback={"enabled": True, "port": 0, "app_secret_env": "DT_SECRET"},
        )
        try:
            stop = start_dingtalk(app)
            assert stop is not None
            stop()
        finally:
            app.close()
