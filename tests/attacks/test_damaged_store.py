"""A data folder or store file damaged or misplaced: one clear error, exit 2, no traceback,
and no answer that passes a missing store off as an empty one."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import yaml

from core.domain.clock import FakeClock
from storage.sqlite_repo import DB_NAME, SQLiteRepository
from tests.cli_fixture import Cli
from tests.conftest import BASE_CONFIG


def _config(tmp_path: Path, data_dir: Path) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(
        yaml.safe_dump(dict(BASE_CONFIG, data_dir=str(data_dir)), allow_unicode=True),
        encoding="utf-8",
    )
    return path


@pytest.mark.parametrize(
    "command",
    [
        ["--once"],
        ["mentions", "acme"],  # answered "No mentions of acme in the last 7d."
        ["export", "--since", "7d", "--format", "csv"],  # wrote a header and exit 0
        ["import", "rows.jsonl"],
    ],
)
def test_a_data_dir_that_is_a_file_is_said_to_be_one(
    tmp_path: Path, cli: Cli, command: list[str]
) -> None:
    data_dir = tmp_path / "data"
    data_dir.write_text("not a folder")
    (tmp_path / "rows.jsonl").write_text('{"text": "Acme"}\n')
    run = cli("--config", str(_config(tmp_path, data_dir)), *command)
    assert run.returncode == 2
    assert f"data_dir {data_dir} is a file, not a folder" in run.stderr  # was "File exists"
    assert "Traceback" not in run.stderr and run.stdout == ""
    assert data_dir.read_text() == "not a folder"


def _damage(path: Path, how: str) -> None:
    if how == "truncated":
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif how == "random bytes":
        path.write_bytes(bytes((i * 7919 + 13) % 256 for i in range(64 * 1024)))
    elif how == "newer schema":
        db = sqlite3.connect(path)
        (version,) = db.execute("PRAGMA user_version").fetchone()
        db.execute(f"PRAGMA user_version = {version + 5}")
        db.commit()
        db.close()


@pytest.mark.parametrize("how", ["truncated", "random bytes", "newer schema"])
@pytest.mark.parametrize("command", [["--once"], ["mentions", "acme"], ["import", "rows.jsonl"]])
def test_a_damaged_store_file_is_one_clear_error(
    tmp_path: Path, cli: Cli, clock: FakeClock, how: str, command: list[str]
) -> None:
    data_dir = tmp_path / "data"
    repo = SQLiteRepository(data_dir, clock=clock)
    repo.close()
    store = data_dir / DB_NAME
    _damage(store, how)
    before = store.read_bytes()
    (tmp_path / "rows.jsonl").write_text('{"text": "Acme"}\n')
    run = cli("--config", str(_config(tmp_path, data_dir)), *command)
    assert run.returncode == 2, run.stderr
    errors = [line for line in run.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and str(store) in errors[0]
    assert "Traceback" not in run.stderr
    assert store.read_bytes() == before  # nothing written over it


@pytest.mark.parametrize("target", ["loop", "missing/folder"])
@pytest.mark.parametrize("command", [["--once"], ["mentions", "acme"]])
def test_a_data_dir_link_to_nothing_is_said_to_be_one(
    tmp_path: Path, cli: Cli, target: str, command: list[str]
) -> None:
    data_dir = tmp_path / "loop"
    data_dir.symlink_to(tmp_path / target)  # "loop": a link to itself
    run = cli("--config", str(_config(tmp_path, data_dir)), *command)
    # Was "File exists" (--once), or "No mentions of acme" as if the store were empty.
    assert run.returncode == 2 and run.stdout == ""
    assert f"data_dir {data_dir} is a symbolic link to nothing" in run.stderr
