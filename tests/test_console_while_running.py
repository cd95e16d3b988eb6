"""Acting on alerts while `python bot.py` runs: lines typed into its terminal are chat
commands, and read-only `command`s work next to it (the running bot holds data_dir/.lock).
The running bot is a real process (its stdin, a terminal, SIGINT); the commands next to it
run in-process (tests/cli_fixture.py)."""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import signal
import subprocess
import sys
import threading
import time
import types
from collections.abc import Callable
from pathlib import Path

import pytest

from core.commands.context import Reply
from core.commands.service import is_read_only
from tests.cli_fixture import Cli, CliRun
from tests.conftest import ROOT, clean_env, digest_time_just_missed

SKIP = shutil.ignore_patterns(
    ".git", "data", "out", "__pycache__", ".pytest_cache", ".ruff_cache", "tests", "bench"
)
WAIT = 90.0  # generous: only a limit for a hung bot, never a measurement


@pytest.fixture(scope="module")
def checkout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dest = tmp_path_factory.mktemp("clone") / "buzzwatch"
    shutil.copytree(ROOT, dest, ignore=SKIP)
    # The bundled config's digest time, moved to an hour ago: every bot started here runs
    # the missed daily digest at start-up, at whatever hour the tests run (with 09:00
    # Shanghai, only between 01:00 and 07:00 UTC did it, and the dry-run test failed then).
    config = dest / "examples" / "config.yaml"
    bundled = 'digest: {time: "09:00"'
    text = config.read_text(encoding="utf-8")
    assert bundled in text
    missed = digest_time_just_missed("Asia/Shanghai")
    config.write_text(text.replace(bundled, f'digest: {{time: "{missed}"'), encoding="utf-8")
    return dest


def command_line(cli: Cli, checkout: Path) -> Callable[..., CliRun]:
    """`python bot.py ...` run next to the bot in `checkout`, with its config: in-process."""
    config = str(checkout / "examples" / "config.yaml")
    return lambda *args: cli(*args, cwd=checkout, env={"BUZZWATCH_CONFIG": config})


def wait_for(read: Callable[[], str], text: str, proc: subprocess.Popen) -> str:
    """Poll until `text` shows up in what `read` returns; fail if the bot exits first."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        seen = read()
        if text in seen:
            return seen
        if proc.poll() is not None:
            pytest.fail(f"the bot exited ({proc.returncode}) before {text!r}:\n{read()}")
        time.sleep(0.1)
    pytest.fail(f"no {text!r} after {WAIT}s:\n{read()}")


def start_bot(checkout: Path, tmp_path: Path, *args: str) -> tuple[subprocess.Popen, Path, Path]:
    out, err = tmp_path / "stdout.txt", tmp_path / "stderr.txt"
    proc = subprocess.Popen(
        [sys.executable, "bot.py", *args],
        cwd=checkout,
        env=clean_env(),
        stdin=subprocess.PIPE,
        stdout=out.open("w"),
        stderr=err.open("w"),
    )
    return proc, out, err


# After Ctrl-C the bot exits 0 or 130 (interrupted), either way without a traceback.
STOPPED = (0, 130)


def stop_bot(proc: subprocess.Popen) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
    try:
        return proc.wait(timeout=WAIT)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        pytest.fail("the bot did not stop on SIGINT")


def test_lines_on_stdin_are_commands_and_read_only_commands_work_alongside(
    checkout: Path, tmp_path: Path, cli: Cli
) -> None:
    shutil.rmtree(checkout / "data", ignore_errors=True)
    bot = command_line(cli, checkout)
    proc, out, err = start_bot(checkout, tmp_path)
    stdout = lambda: out.read_text(encoding="utf-8")  # noqa: E731
    try:
        assert proc.stdin is not None
        wait_for(stdout, "→ ack A1 |", proc)  # the first alert is out
        proc.stdin.write(b"status\n")
        proc.stdin.flush()
        wait_for(stdout, "alert(s) not resolved", proc)
        proc.stdin.write(b"ack A1\n")
        proc.stdin.flush()
        wait_for(stdout, "A1 acked by console.", proc)
        proc.stdin.close()  # end of input ends the reader, not the bot

        # Read-only commands open the data folder without its lock.
        status = bot("command", "status")
        assert status.returncode == 0, status.stderr
        assert "acked: A1" in status.stdout
        for query in (["command", "sources"], ["command", "help"], ["command", "stats"]):
            run = bot(*query)
            assert run.returncode == 0, (query, run.stderr)
        listed = bot("command", "silence")
        assert listed.returncode == 0 and "No silences." in listed.stdout

        # Changing commands still may not: the error says where to type them.
        ack = bot("command", "ack", "A2")
        assert ack.returncode == 2
        assert "another Buzzwatch process" in ack.stderr
        assert "type it into the running bot's terminal, or use the chat" in ack.stderr
        silence = bot("command", "silence source sample_news 1h")
        assert silence.returncode == 2 and "running bot's terminal" in silence.stderr
        console = bot("console")
        assert console.returncode == 2
        assert "type commands into the running bot's terminal, or use the chat" in console.stderr
        assert "Traceback" not in ack.stderr + console.stderr

        assert proc.poll() is None, "the bot ended with its input"
    finally:
        code = stop_bot(proc)
    assert code in STOPPED and "Traceback" not in err.read_text(encoding="utf-8")
    after = bot("command", "status")
    assert after.returncode == 0 and "acked: A1" in after.stdout
    assert "open: A1" not in after.stdout


def test_a_dry_run_bot_says_a_change_is_not_stored(checkout: Path, tmp_path: Path) -> None:
    shutil.rmtree(checkout / "data", ignore_errors=True)
    proc, out, err = start_bot(checkout, tmp_path, "--dry-run")
    stdout = lambda: out.read_text(encoding="utf-8")  # noqa: E731
    try:
        assert proc.stdin is not None
        wait_for(stdout, "[A1]", proc)
        proc.stdin.write(b"ack A1\nstatus\n")
        proc.stdin.close()
        seen = wait_for(stdout, "alert(s) not resolved", proc)
        ack_reply = seen.split("A1 acked by console.", 1)
        assert len(ack_reply) == 2 and "dry run: not stored" in ack_reply[1]
        assert "dry run" not in seen.split("alert(s) not resolved", 1)[1]  # status only reads
    finally:
        code = stop_bot(proc)
    assert code in STOPPED and "Traceback" not in err.read_text(encoding="utf-8")
    assert not (checkout / "data").exists()


def test_command_dry_run_says_it_stored_nothing(cli: Cli) -> None:
    bot = cli
    assert bot("--once").returncode == 0
    dry = bot("command", "ack", "A1", "--dry-run")
    assert dry.returncode == 0 and "A1 acked" in dry.stdout and "not stored" in dry.stdout
    status = bot("command", "status")
    assert "open: A1" in status.stdout and "acked" not in status.stdout


# --- a terminal: read in the foreground, never in the background -----------------------------

# Makes the pty on stdin the controlling terminal of a new session, then runs the bot in its
# foreground ("fg"), or in a process group of its own, in the background ("bg").
LAUNCHER = """
import fcntl, os, subprocess, sys, termios
os.setsid()
fcntl.ioctl(0, termios.TIOCSCTTY, 0)
if sys.argv[1] == "fg":
    os.execv(sys.executable, [sys.executable, "bot.py"])
bot = subprocess.Popen([sys.executable, "bot.py"], process_group=0)
print(f"bot pid {bot.pid};", flush=True)
sys.exit(bot.wait())
"""


class Terminal:
    def __init__(self, checkout: Path, mode: str) -> None:
        import pty

        self.master, slave = pty.openpty()
        self.proc = subprocess.Popen(
            [sys.executable, "-c", LAUNCHER, mode],
            cwd=checkout,
            env=clean_env(),
            stdin=slave,
            stdout=slave,
            stderr=slave,
        )
        os.close(slave)
        self.seen = ""

    def read(self) -> str:
        while select.select([self.master], [], [], 0)[0]:
            try:
                chunk = os.read(self.master, 65536)
            except OSError:  # every end of the terminal closed
                break
            if not chunk:
                break
            self.seen += chunk.decode("utf-8", "replace")
        return self.seen

    def wait(self) -> int:
        """The launcher's exit code, reading the terminal meanwhile (a full one blocks)."""
        deadline = time.monotonic() + WAIT
        while self.proc.poll() is None and time.monotonic() < deadline:
            self.read()
            time.sleep(0.1)
        self.read()
        return self.proc.wait(timeout=1)

    def type(self, text: str) -> None:
        os.write(self.master, text.encode())

    def close(self, pids: list[int]) -> None:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.proc.wait(timeout=WAIT)
        os.close(self.master)


@pytest.mark.skipif(not hasattr(os, "tcgetpgrp"), reason="POSIX terminals")
def test_a_bot_in_the_foreground_of_a_terminal_takes_commands(checkout: Path) -> None:
    shutil.rmtree(checkout / "data", ignore_errors=True)
    term = Terminal(checkout, "fg")
    try:
        wait_for(term.read, "type `help`", term.proc)
        term.type("status\n")
        wait_for(term.read, "alert(s) not resolved", term.proc)
        term.proc.send_signal(signal.SIGINT)
        assert term.wait() in STOPPED and "Traceback" not in term.read()
    finally:
        term.close([term.proc.pid] if term.proc.poll() is None else [])


@pytest.mark.skipif(not hasattr(os, "tcgetpgrp"), reason="POSIX terminals")
def test_a_bot_in_the_background_of_a_terminal_does_not_read_it(checkout: Path) -> None:
    """Reading the terminal from the background would stop the whole bot (SIGTTIN): then
    it could not even stop on SIGINT."""
    shutil.rmtree(checkout / "data", ignore_errors=True)
    term = Terminal(checkout, "bg")
    bot_pid = None
    try:
        seen = wait_for(term.read, "bot pid ", term.proc)
        bot_pid = int(seen.split("bot pid ", 1)[1].split(";", 1)[0])
        wait_for(term.read, "running:", term.proc)
        term.type("status\n")  # typed for whatever runs in the foreground
        wait_for(term.read, "in the background", term.proc)
        os.kill(bot_pid, signal.SIGINT)  # stopped by SIGTTIN, it could not act on this
        assert term.wait() in STOPPED and "Traceback" not in term.read()
        assert "alert(s) not resolved" not in term.read()
        assert "type `help`" not in term.read()
    finally:
        term.close([p for p in (bot_pid, term.proc.pid) if p] if term.proc.poll() is None else [])


def test_which_commands_are_read_only() -> None:
    for text in ("status", "/status", "状态", "sources", "stats acme", "digest", "help", ""):
        assert is_read_only(text), text
    for text in ("mentions 退款 since:24h", "查询 退款", "silence", "frobnicate", "x" * 600):
        assert is_read_only(text), text
    for text in ("ack A1", "确认 A1", "assign A1 bob", "resolve A1", "snooze A1 1h"):
        assert not is_read_only(text), text
    for text in ("silence source sample_news 1h", "unsilence 1", "静默 brand Acme 1h"):
        assert not is_read_only(text), text


def test_commands_go_on_running_after_stdout_is_closed(caplog: pytest.LogCaptureFixture) -> None:
    """Whoever read the bot's stdout left (`bot.py | tee` killed): the first reply hits a
    broken pipe. The reader used to die of it with a traceback and ignore every later line;
    now it says once that the output is closed and runs the commands silently."""
    from app import stdin_commands

    ran: list[str] = []
    kicks: list[int] = []
    app = types.SimpleNamespace(
        dry_run=False,
        run_command=lambda text: (ran.append(text), Reply("done", changed=True))[1],
        deliverer=types.SimpleNamespace(kick=lambda: kicks.append(1)),
    )
    commands_in, typed = os.pipe()
    gone_out, write_end = os.pipe()
    os.close(gone_out)
    out = os.fdopen(write_end, "w")
    reader = threading.Thread(
        target=stdin_commands.read_stdin_commands, args=(app, commands_in, out, threading.Event())
    )

    def type_lines() -> None:  # more than a pipe holds: written as it is read
        with os.fdopen(typed, "wb") as keyboard, contextlib.suppress(OSError):
            keyboard.write(
                b"ack A1\nresolve A1\nquit\n" + b"x" * (3 * stdin_commands.MAX_STDIN_LINE)
            )
            keyboard.write(b"\nassign A2 bob")

    keyboard = threading.Thread(target=type_lines, daemon=True)
    try:
        reader.start()
        keyboard.start()
        reader.join(timeout=WAIT)
        assert not reader.is_alive()
    finally:
        os.close(commands_in)  # a keyboard still writing gets a broken pipe
        keyboard.join(timeout=WAIT)
        with contextlib.suppress(OSError):
            out.close()
    assert ran == ["ack A1", "resolve A1", "assign A2 bob"]
    assert len(kicks) == 3
    closed = [r for r in caplog.records if "output is closed" in r.getMessage()]
    assert len(closed) == 1 and closed[0].levelname == "WARNING"
