"""`--dry-run` is a mode of the whole process: no command given it creates, changes or removes
a file under data_dir, byte for byte: not the state, the mention and seen logs, the archive,
the lock, nor the daily digest's chart (a dry-run bot started after the digest time still
runs the missed digest, and prints it). The one-shot commands run in-process
(tests/cli_fixture.py); the bot that keeps running is a real process, stopped by SIGTERM."""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path

import pytest

from tests.botproc import read_until
from tests.cli_fixture import Cli
from tests.conftest import digest_time_just_missed
from tests.test_once_and_shutdown import feed_file, start_bot, write_config

WAIT = 90.0  # a bound for a hung bot, never a measurement (and for its shutdown)


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` (hidden ones too), by relative path, with its bytes."""
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def changes(before: dict[str, bytes], folder: Path) -> list[str]:
    """The files created, changed or removed since `before`."""
    after = snapshot(folder)
    return sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))


@pytest.fixture(params=["sqlite", "tinydb"])
def setup(tmp_path: Path, request: pytest.FixtureRequest, cli: Cli) -> tuple[Path, Path]:
    items = [
        {"link": f"https://weibo.com/1/{i}", "guid": f"g{i}", "title": t, "description": t}
        for i, t in enumerate(["艾克米的汉堡吃完拉肚子，怀疑食物中毒", "Acme refund please, awful"])
    ]
    feed = feed_file(tmp_path, items)
    config = write_config(
        tmp_path,
        sources=[{"name": "w", "type": "rss", "path": feed, "every": "60s"}],
        digest={"time": digest_time_just_missed()},
        storage={"backend": request.param},
    )
    first = cli("--config", str(config), "--once")  # a real run: A1 and A2, stored
    assert first.returncode == 0, first.stderr
    resolved = cli("--config", str(config), "command", "resolve", "A2")
    assert resolved.returncode == 0, resolved.stderr
    # New posts the dry runs will see (and would store, were they not dry runs).
    more = [
        {"link": "https://weibo.com/1/n", "guid": "n", "title": "Acme 太贵", "description": "x"}
    ]
    Path(feed).write_bytes(Path(feed).read_bytes().replace(b"</channel>", _items(more)))
    imported = tmp_path / "import.jsonl"
    line = {"id": "imp-1", "text": "Acme 食物中毒 again", "url": "https://example.com/i1"}
    imported.write_text(json.dumps(line) + "\n", encoding="utf-8")
    return config, tmp_path / "data"


def _items(items: list[dict[str, str]]) -> bytes:
    from tests.standin.feeds import rss

    body = rss(items)
    start, end = body.index(b"<item>"), body.rindex(b"</item>") + len(b"</item>")
    return body[start:end] + b"</channel>"


ONE_SHOT = [
    ("--once",),
    ("command", "ack", "A1"),
    ("command", "assign", "A1", "bob"),
    ("command", "snooze", "A1", "1h"),
    ("command", "resolve", "A1"),
    ("command", "silence", "brand", "Acme", "1h"),
    ("command", "status"),
    ("digest",),
    ("import", "import.jsonl", "--alert", "--no-progress"),
    ("mentions", "Acme"),
    ("export",),
    ("check-config",),
]


def test_no_dry_run_command_touches_data_dir(setup: tuple[Path, Path], cli: Cli) -> None:
    config, data = setup
    before = snapshot(data)
    assert "buzzwatch.sqlite3" in before or (
        "state.json" in before and any(k.startswith("mentions/") for k in before)
    )
    for args in ONE_SHOT:
        done = cli("--config", str(config), *args, "--dry-run")
        assert done.returncode == 0, (args, done.stderr)
        assert "Traceback" not in done.stderr, (args, done.stderr)
        assert changes(before, data) == [], args
    console = cli(
        "--config",
        str(config),
        "console",
        "--dry-run",
        stdin="ack A1\nsilence source w 1h\nresolve A1\n",
    )
    assert console.returncode == 0 and "A1 acked" in console.stdout, console.stderr
    assert changes(before, data) == []


def test_a_dry_run_bot_after_the_digest_time_writes_nothing(setup: tuple[Path, Path]) -> None:
    config, data = setup
    before = snapshot(data)
    proc = start_bot(config, "--dry-run", stdin=subprocess.PIPE)
    try:
        # The new post's alert and the missed daily digest are printed (dry-run JSON lines).
        wanted = ("daily digest", "Acme 太贵")
        seen, ok = read_until(proc, lambda out: all(w in out for w in wanted))
        assert ok, seen
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=WAIT)
    assert proc.returncode == 0 and "Traceback" not in err, err
    assert changes(before, data) == []
