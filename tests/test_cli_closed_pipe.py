"""One-shot commands into a pipe whose reader has left (`python bot.py command help | head -1`):
they end quietly, without a BrokenPipeError traceback, and what they changed is kept."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from storage.factory import open_repository
from tests.cli_fixture import Cli
from tests.standin.chat import ChatServer
from tests.test_once_and_shutdown import (
    COMPLAINT,
    closed_pipe,
    feed_file,
    run_bot,
    write_config,
)


def run_into_closed_pipe(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    out = closed_pipe()
    try:
        return run_bot(config, *args, stdout=out)
    finally:
        os.close(out)


@pytest.fixture
def config(tmp_path: Path, cli: Cli) -> Path:
    source = {"name": "w", "type": "rss", "path": feed_file(tmp_path, [COMPLAINT])}
    path = write_config(tmp_path, sources=[source])
    assert cli("--config", str(path), "--once").returncode == 0  # A1 exists (in-process)
    return path


@pytest.mark.parametrize(
    "args",
    [("command", "help"), ("command", "stats"), ("command", "digest"), ("command", "status")],
)
def test_a_read_only_command_into_a_closed_pipe_ends_quietly(
    config: Path, args: tuple[str, ...]
) -> None:
    done = run_into_closed_pipe(config, *args)
    assert "Traceback" not in done.stderr and "Exception ignored" not in done.stderr, done.stderr
    assert "BrokenPipe" not in done.stderr


def test_digest_into_a_closed_pipe_ends_quietly(tmp_path: Path) -> None:
    with ChatServer() as chat:  # no console destination: only the summary line is printed
        config = write_config(
            tmp_path,
            destinations={"chat": {"type": "webhook", "url": chat.url}},
            routes=[{"name": "all", "match": {"brand": "Acme"}, "to": ["chat"]}],
        )
        done = run_into_closed_pipe(config, "digest")
        assert len(chat.received) == 1  # the digest went out
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr and "Exception ignored" not in done.stderr, done.stderr


def test_a_change_into_a_closed_pipe_is_kept_and_ends_quietly(config: Path, tmp_path: Path) -> None:
    done = run_into_closed_pipe(config, "command", "ack", "A1")
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr and "Exception ignored" not in done.stderr, done.stderr
    repo = open_repository("sqlite", tmp_path / "data", read_only=True)
    try:
        alert = repo.get_alert("A1")
    finally:
        repo.close()
    assert alert is not None and alert.acked_by
