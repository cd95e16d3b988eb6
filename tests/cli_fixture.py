"""The command line run in-process: `main(argv, out)` as `python bot.py ...` would run it, without
starting a Python for each call (errbot's `testbot`, bolt's `app.dispatch` do the same).

Each call gets what a fresh process had: its own working folder, stdin, stdout and stderr,
the environment without the developer's BUZZWATCH_/SLACK_/DINGTALK_ variables (conftest), and
logging not yet configured, so `setup_logging` writes the log to this call's stderr at the
level the options ask for. Keep real processes for what only a process has: signals, a
terminal, a closed pipe, the stdin of a bot that keeps running.
"""

from __future__ import annotations

import contextlib
import io
import logging
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from app.cli import main

# The loggers setup_logging changes; put back after each call.
TOUCHED_LOGGERS = ("", "httpx", "httpcore", "apscheduler.executors", "apscheduler.scheduler")


@dataclass
class CliRun:
    """What a `python bot.py ...` process left: like subprocess.CompletedProcess."""

    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str


@contextlib.contextmanager
def fresh_logging() -> Iterator[None]:
    """The root logger as a new process has it (no handlers), for the length of one call."""
    root = logging.getLogger()
    handlers = root.handlers[:]
    levels = {name: logging.getLogger(name).level for name in TOUCHED_LOGGERS}
    root.handlers = []
    try:
        yield
    finally:
        for handler in root.handlers:
            handler.close()
        root.handlers = handlers
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


class Cli:
    """`cli("--once", "-q")`: run the command line in `cwd` (default: the test's tmp_path)."""

    def __init__(self, cwd: Path) -> None:
        self.cwd = cwd

    def __call__(
        self,
        *args: str,
        stdin: str = "",
        cwd: Path | None = None,
        env: dict[str, str] | None = None,
    ) -> CliRun:
        out, err = io.StringIO(), io.StringIO()
        with pytest.MonkeyPatch.context() as mp, fresh_logging():
            mp.chdir(cwd or self.cwd)
            for name, value in (env or {}).items():
                mp.setenv(name, value)
            mp.setattr(sys, "stdin", io.StringIO(stdin))
            mp.setattr(sys, "stdout", out)
            mp.setattr(sys, "stderr", err)
            try:
                code = main(list(args), out)
            except SystemExit as exit_:  # argparse: a usage error, --help
                code = exit_.code if isinstance(exit_.code, int) else 1
        return CliRun(args, code, out.getvalue(), err.getvalue())
