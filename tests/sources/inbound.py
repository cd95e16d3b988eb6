"""The push endpoint on a real socket for the inbound tests: the `endpoint` fixture
(tests/sources/conftest.py makes it every tests/sources test's), its token and a POST
that carries it."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.buzzwatch import Buzzwatch
from listeners.push_endpoint import start_inbound
from tests.conftest import make_config

TOKEN = "s3cret-token-for-tests"


@pytest.fixture
def endpoint(
    tmp_path: Path, clock: Any, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Buzzwatch, io.StringIO]]:
    """A bot with the push endpoint on 127.0.0.1 (its URL in `app.inbound_url`) and its
    console output."""
    monkeypatch.setenv("BUZZWATCH_INBOUND_TOKEN", TOKEN)
    config = make_config(tmp_path, inbound={"port": 0, "max_bytes": 4096, "source": "crm"})
    out = io.StringIO()
    app = Buzzwatch(config, clock=clock, stdout=out)
    stop = start_inbound(app)
    assert stop is not None
    host, port = stop.__self__.address  # the InboundServer the starter started
    assert host == "127.0.0.1"
    app.inbound_url = f"http://{host}:{port}/mentions"
    yield app, out
    stop()
    app.close()


def post(
    app: Any, body: bytes | dict, token: str | None = TOKEN, ctype: str = "application/json"
) -> httpx.Response:
    headers = {"Content-Type": ctype}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if isinstance(body, dict) else body
    return httpx.post(app.inbound_url, content=data, headers=headers, timeout=5)
