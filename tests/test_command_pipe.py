"""`python bot.py command help | head -1`: a one-shot command into a pipe its reader has
left ends quietly (#13 item 18), like `--once | head`."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.test_once_and_shutdown import closed_pipe, start_bot, write_config


@pytest.mark.parametrize("command", ["help", "stats", "status"])
def test_a_command_into_a_closed_pipe_ends_without_a_traceback(
    tmp_path: Path, command: str
) -> None:
    config = write_config(tmp_path)
    out = closed_pipe()
    try:
        proc = start_bot(config, "-q", "command", command, stdout=out)
    finally:
        os.close(out)
    _, err = proc.communicate(timeout=60)
    assert "Traceback" not in err and "Exception ignored" not in err, err
    assert proc.returncode == 0, err
