"""The SQLite store's file deleted or replaced under a running process: in WAL mode SQLite
went on writing to the unlinked file without an error, and all stored from then on was
lost at the stop. Now each write fails, saying so."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from storage.atomic_json import StorageError
from storage.sqlite_repo import SQLiteRepository
from tests.storage.repository_contract import mention


def store(folder: Path, *numbers: int) -> SQLiteRepository:
    repo = SQLiteRepository(folder)
    for i in numbers:
        repo.save_cycle([mention(i)], [f"m{i}"], [], [])
    return repo


@pytest.mark.parametrize("how", ["deleted", "replaced"])
def test_a_write_after_the_store_file_went_fails_saying_so(tmp_path: Path, how: str) -> None:
    repo = store(tmp_path / "data", 1)
    try:
        if how == "deleted":
            for f in (tmp_path / "data").glob(f"{repo.path.name}*"):
                f.unlink()
        else:  # a backup moved over it
            store(tmp_path / "backup", 7).close()
            os.replace(tmp_path / "backup" / repo.path.name, repo.path)
        for i in (2, 3):  # every write from then on, not only the first
            with pytest.raises(StorageError, match="was deleted or replaced while this process"):
                repo.save_cycle([mention(i)], [f"m{i}"], [], [])
        with pytest.raises(StorageError, match="deleted or replaced"):
            repo.set_state("x", 1)
    finally:
        repo.close()


def test_writes_go_on_while_the_store_file_stays(tmp_path: Path) -> None:
    repo = store(tmp_path, 1, 2)
    repo.close()
    repo = SQLiteRepository(tmp_path)  # (reopened: the file it opens now)
    try:
        repo.save_cycle([mention(3)], ["m3"], [], [])
        assert repo.count_mentions() == 3
    finally:
        repo.close()
