"""The `dingtalk:` section starts what it names, and nothing without its secrets."""

from __future__ import annotations

import io
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

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


def test_ack_pages_and_callback_start_and_stop(tmp_path, monkeypatch):
    """Both servers listen (each answers its own way) and `stop` closes both ports."""
    from listeners.dingtalk import ackpages, callback

    started: dict[str, Any] = {}

    def recording(name: str, serve: Callable[..., Any]) -> Callable[..., Any]:
        def serve_and_record(*args: Any) -> Any:
            started[name] = serve(*args)
            return started[name]

        return serve_and_record

    monkeypatch.setattr(callback, "serve", recording("callback", callback.serve))
    monkeypatch.setattr(ackpages, "serve", recording("ack pages", ackpages.serve))
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
            assert set(started) == {"callback", "ack pages"}
            base = {k: f"http://127.0.0.1:{s.server_address[1]}" for k, s in started.items()}
            path = app.config.dingtalk.callback.path
            # The callback takes only signed posts; the ack pages know no such link.
            assert httpx.post(base["callback"] + path, content=b"{}").status_code == 401
            assert httpx.get(base["ack pages"] + "/nothing-here").status_code == 404
            stop()
            for url in base.values():
                with pytest.raises(httpx.ConnectError):
                    httpx.get(url + "/", timeout=5)
        finally:
            app.close()
