"""The inbound endpoint under a burst of connections, and on a port that is taken."""

from __future__ import annotations

import errno
import io
import json
import socket
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from app.buzzwatch import Buzzwatch
from core.config import ConfigError
from listeners.push_endpoint import InboundServer, start_inbound
from tests.conftest import ROOT, clean_env, make_config
from tests.sources.inbound import TOKEN
from tests.test_once_and_shutdown import write_config

BURST = 300


def request(body: dict, token: str = TOKEN) -> bytes:
    data = json.dumps(body).encode()
    head = (
        "POST /mentions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer {token}\r\nContent-Length: {len(data)}\r\n\r\n"
    )
    return head.encode() + data


def exchange(sock: socket.socket, payload: bytes) -> str:
    """Send on an already-connecting socket; the answer's status line, or the error."""
    try:
        sock.settimeout(10)
        sock.sendall(payload)
        answer = b""
        while b"\r\n" not in answer:
            chunk = sock.recv(4096)
            if not chunk:
                break
            answer += chunk
        return answer.split(b"\r\n", 1)[0].decode() or "closed without an answer"
    except OSError as err:
        return type(err).__name__
    finally:
        sock.close()


def test_a_burst_of_connections_is_all_answered(tmp_path: Path, clock) -> None:
    config = make_config(tmp_path, inbound={"port": 0, "source": "crm"})
    app = Buzzwatch(config, clock=clock, stdout=io.StringIO())
    server = InboundServer(app, config.inbound, TOKEN)  # listening, not yet accepting
    host, port = server.address
    socks = []
    try:
        # Every client has connected (or tried to) before the server takes the first one:
        # the listen backlog alone decides who gets through.
        for _ in range(BURST):
            s = socket.socket()
            s.setblocking(False)
            assert s.connect_ex((host, port)) in (0, errno.EINPROGRESS)
            socks.append(s)
        server.start()
        payloads = [request({"mentions": []})] * (BURST - 3) + [
            request({"mentions": [{"id": f"b{i}", "title": f"Acme burst {i}"}]}) for i in range(3)
        ]
        with ThreadPoolExecutor(max_workers=50) as pool:
            statuses = list(pool.map(exchange, socks, payloads))
    finally:
        for s in socks:
            s.close()
        server.stop()
    assert [s for s in statuses if s.split(" ")[1:2] not in (["400"], ["200"])] == []
    assert statuses.count("HTTP/1.0 200 OK") == 3
    assert sorted(m["title"] for m in app.repo.iter_mentions(None)) == [
        f"Acme burst {i}" for i in range(3)
    ]
    app.close()


def taken_port() -> socket.socket:
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    return holder


def test_a_port_in_use_is_a_clear_error(tmp_path: Path, clock, monkeypatch) -> None:
    monkeypatch.setenv("BUZZWATCH_INBOUND_TOKEN", TOKEN)
    with taken_port() as holder:
        port = holder.getsockname()[1]
        config = make_config(tmp_path, inbound={"port": port})
        app = Buzzwatch(config, clock=clock, stdout=io.StringIO())
        try:
            with pytest.raises(ConfigError) as err:
                start_inbound(app)
        finally:
            app.close()
    assert str(err.value).startswith(f"inbound.port: cannot listen on 127.0.0.1:{port}: ")
    assert "in use" in str(err.value)


def test_the_bot_does_not_start_on_a_taken_port(tmp_path: Path) -> None:
    with taken_port() as holder:
        port = holder.getsockname()[1]
        config = write_config(tmp_path, inbound={"port": port})
        proc = subprocess.run(
            [sys.executable, str(ROOT / "bot.py"), "--config", str(config), "-q"],
            cwd=tmp_path,
            env={**clean_env(), "BUZZWATCH_INBOUND_TOKEN": TOKEN},
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert proc.returncode == 2, proc.stderr
    assert f"error: inbound.port: cannot listen on 127.0.0.1:{port}: the port is in use" in (
        proc.stderr
    )
    assert "Traceback" not in proc.stderr
