"""`bot.py import` stopped half-way (Ctrl-C, SIGTERM) and run again: no traceback, an exit
code that says it did not finish, a report of where it stopped, and after the second run
every row stored exactly once."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from core.intake.pipeline import Pipeline
from sources.importer import BATCH
from tests.cli_fixture import Cli
from tests.conftest import BASE_CONFIG

ROWS = 4 * BATCH


def _setup(tmp_path: Path) -> tuple[Path, Path]:
    data = dict(BASE_CONFIG, data_dir=str(tmp_path / "data"), analysis={"engine": "fast"})
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    rows = tmp_path / "rows.jsonl"
    with rows.open("w", encoding="utf-8") as f:
        for i in range(ROWS):
            f.write(json.dumps({"id": f"r{i}", "text": f"Acme burger number {i}"}) + "\n")
    return config, rows


def _stored(tmp_path: Path) -> tuple[int, int, int]:
    db = sqlite3.connect(tmp_path / "data" / "buzzwatch.sqlite3")
    try:
        total, distinct = db.execute("SELECT count(*), count(DISTINCT id) FROM mentions").fetchone()
        (seen,) = db.execute("SELECT count(*) FROM seen").fetchone()
    finally:
        db.close()
    return total, distinct, seen


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_an_import_stopped_half_way_says_so_and_a_second_run_finishes_it(
    tmp_path: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch, signum: int, code: int
) -> None:
    config, rows = _setup(tmp_path)
    process = Pipeline.process
    calls = []

    def stopped_during_the_first_batch(self: Pipeline, *args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            os.kill(os.getpid(), signum)  # arrives while this batch is being stored
            time.sleep(0.3)  # (the stop is set by a watcher thread)
        return process(self, *args, **kwargs)

    def unhandled(signum: int, _frame: Any) -> None:  # as the default would, short of
        raise RuntimeError(f"signal {signum} not handled")  # ending the test run itself

    previous = signal.signal(signum, unhandled)
    monkeypatch.setattr(Pipeline, "process", stopped_during_the_first_batch)
    try:
        first = cli("--config", str(config), "import", str(rows), "--no-progress")
    finally:
        signal.signal(signum, previous)
    # Was: KeyboardInterrupt's traceback (Ctrl-C), or killed by SIGTERM with no report.
    assert first.returncode == code, first.stderr
    assert "Traceback" not in first.stderr
    assert "stopped after line" in first.stdout and "run the same import again" in first.stdout
    total, distinct, seen = _stored(tmp_path)
    assert BATCH <= total == distinct == seen < ROWS  # the batch in flight, whole; no more

    monkeypatch.setattr(Pipeline, "process", process)
    second = cli("--config", str(config), "import", str(rows), "--no-progress")
    assert second.returncode == 0, second.stderr
    assert f"{total} seen before" in second.stdout and "stopped" not in second.stdout
    assert _stored(tmp_path) == (ROWS, ROWS, ROWS)


def test_an_import_on_a_full_disk_says_how_far_it_got_and_a_second_run_finishes_it(
    tmp_path: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    config, rows = _setup(tmp_path)
    process = Pipeline.process
    calls = []

    def full_at_the_second_batch(self: Pipeline, *args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 2:
            raise sqlite3.OperationalError("database or disk is full")
        return process(self, *args, **kwargs)

    monkeypatch.setattr(Pipeline, "process", full_at_the_second_batch)
    first = cli("--config", str(config), "import", str(rows), "--no-progress")
    assert first.returncode == 3 and "Traceback" not in first.stderr
    assert "database or disk is full" in first.stderr
    # Was the error alone: nothing said what was in, or that running it again is safe.
    assert f"import stopped at line {2 * BATCH}: {BATCH} mention(s) stored" in first.stderr
    assert "run the same import again" in first.stderr
    assert _stored(tmp_path) == (BATCH, BATCH, BATCH)

    monkeypatch.setattr(Pipeline, "process", process)
    second = cli("--config", str(config), "import", str(rows), "--no-progress")
    assert second.returncode == 0, second.stderr
    assert _stored(tmp_path) == (ROWS, ROWS, ROWS)
