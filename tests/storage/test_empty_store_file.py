"""A store file that holds nothing Buzzwatch wrote (0 bytes, or not SQLite at all) is
refused by every kind of run, saying what it is and what to do, and is never written over."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import yaml

from core.domain.clock import FakeClock
from storage.atomic_json import StorageError
from storage.factory import open_repository
from storage.sqlite_repo import DB_NAME
from tests.cli_fixture import Cli
from tests.conftest import BASE_CONFIG

NOT_SQLITE = b"this was a spreadsheet, not a Buzzwatch store " * 4


@pytest.mark.parametrize("read_only", [False, True])
def test_a_zero_byte_store_file_is_refused_not_started_over(
    tmp_path: Path, clock: FakeClock, read_only: bool
) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    store = folder / DB_NAME
    store.write_bytes(b"")
    with pytest.raises(StorageError) as refused:
        open_repository("sqlite", folder, clock=clock, read_only=read_only)
    said = str(refused.value)
    assert "is empty (0 bytes)" in said and "restore it again from a backup" in said
    assert "start the bot once" not in said  # the advice that sent people the wrong way
    assert store.read_bytes() == b""  # not made into a new, empty store
    assert sorted(p.name for p in folder.iterdir() if p.name != ".lock") == [DB_NAME]


@pytest.mark.parametrize("read_only", [False, True])
def test_a_file_that_is_not_sqlite_says_what_to_do(
    tmp_path: Path, clock: FakeClock, read_only: bool
) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / DB_NAME).write_bytes(NOT_SQLITE)
    with pytest.raises(StorageError, match="restore it from a backup, or move it aside"):
        open_repository("sqlite", folder, clock=clock, read_only=read_only)
    assert (folder / DB_NAME).read_bytes() == NOT_SQLITE


def test_no_file_yet_still_starts_a_new_store(tmp_path: Path, clock: FakeClock) -> None:
    repo = open_repository("sqlite", tmp_path / "data", clock=clock)
    repo.close()
    assert (tmp_path / "data" / DB_NAME).stat().st_size > 0
    assert sqlite3.connect(tmp_path / "data" / DB_NAME).execute("PRAGMA user_version").fetchone()


@pytest.mark.parametrize(
    "argv", [["--once"], ["mentions", "acme"], ["command", "status"], ["--dry-run", "--once"]]
)
def test_every_command_says_it_in_one_line(tmp_path: Path, cli: Cli, argv: list[str]) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / DB_NAME).write_bytes(b"")
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(dict(BASE_CONFIG, data_dir=str(data)), allow_unicode=True))
    run = cli("--config", str(config), "-q", *argv)
    assert run.returncode == 2
    assert run.stderr.startswith("error: ") and "Traceback" not in run.stderr
    assert "is empty (0 bytes)" in run.stderr
    assert (data / DB_NAME).read_bytes() == b""
