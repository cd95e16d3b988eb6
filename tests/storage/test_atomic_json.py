from __future__ import annotations

import errno
import json
import logging
from pathlib import Path

import pytest
from tinydb import TinyDB

from storage.atomic_json import AtomicJSONStorage, StartEmptyRefused, StorageError


def open_db(path: Path) -> tuple[TinyDB, AtomicJSONStorage]:
    holder: dict[str, AtomicJSONStorage] = {}

    def make(p: Path) -> AtomicJSONStorage:
        holder["s"] = AtomicJSONStorage(p)
        return holder["s"]

    db = TinyDB(path, storage=make)
    return db, holder["s"]


def test_writes_survive_reopen_and_keep_a_backup(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    db, _ = open_db(path)
    db.table("t").insert({"n": 1})
    db.table("t").insert({"n": 2})
    db2, _ = open_db(path)
    assert [d["n"] for d in db2.table("t").all()] == [1, 2]
    backup = json.loads((tmp_path / "state.json.bak").read_text())
    assert [d["n"] for d in backup["t"].values()] == [1]
    assert not list(tmp_path.glob(".*.tmp"))


def test_transaction_is_one_write_and_rolls_back_on_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "state.json"
    db, storage = open_db(path)
    db.table("t").insert({"n": 0})
    writes = []
    original = storage._flush
    monkeypatch.setattr(storage, "_flush", lambda: (writes.append(1), original()))
    with storage.transaction():
        for n in range(1, 50):
            db.table("t").insert({"n": n})
    assert len(writes) == 1
    with pytest.raises(RuntimeError), storage.transaction():
        db.table("t").update({"n": -1})
        raise RuntimeError("boom")
    # The in-place update was forgotten: the state is what is on disk.
    assert sorted(d["n"] for d in db.table("t").all()) == list(range(50))


@pytest.mark.parametrize(
    "damage", [b"", b"   ", b'{"t": {"1": {"n"', b"[1, 2]", b"\xff\xfe garbage"]
)
def test_corrupt_file_is_quarantined_and_recovered_from_backup(
    tmp_path: Path, damage: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "state.json"
    db, _ = open_db(path)
    db.table("t").insert({"n": 1})
    db.table("t").insert({"n": 2})  # the backup now holds n=1
    path.write_bytes(damage)
    with caplog.at_level(logging.ERROR):
        db2, _ = open_db(path)
        rows = [d["n"] for d in db2.table("t").all()]
    assert rows == [1]
    assert "corrupt" in caplog.text and "recovering" in caplog.text
    assert (tmp_path / "state.json.corrupt-0").read_bytes() == damage
    assert json.loads(path.read_text())["t"]  # the recovered copy is live again


def test_corrupt_without_backup_refuses_to_start_empty_unless_told(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "state.json"
    path.write_text("{not json")
    for _ in range(2):  # nothing is moved when refusing: the next start refuses too
        with pytest.raises(StartEmptyRefused, match=r"no backup state.json.bak.*--start-empty"):
            open_db(path)[0].table("t").all()
        assert path.read_text() == "{not json"
    holder: dict[str, AtomicJSONStorage] = {}

    def make(p: Path) -> AtomicJSONStorage:
        holder["s"] = AtomicJSONStorage(p, allow_empty=True)
        return holder["s"]

    with caplog.at_level(logging.CRITICAL):
        assert TinyDB(path, storage=make).table("t").all() == []
    assert "EMPTY" in caplog.text and holder["s"].recovered
    assert (tmp_path / "state.json.corrupt-0").read_text() == "{not json"


def test_full_disk_keeps_the_old_file_and_raises_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "state.json"
    db, _ = open_db(path)
    db.table("t").insert({"n": 1})
    before = path.read_bytes()

    def no_space(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("storage.atomic_json.os.fsync", no_space)
    with pytest.raises(StorageError, match="No space left on device"):
        db.table("t").insert({"n": 2})
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert not list(tmp_path.glob(".*.tmp"))
    # Memory agrees with disk again: the failed insert is not visible.
    assert [d["n"] for d in db.table("t").all()] == [1]


def test_one_process_per_data_folder(tmp_path: Path) -> None:
    from storage.tinydb_repo import TinyDBRepository

    first = TinyDBRepository(tmp_path / "data")
    with pytest.raises(StorageError, match=r"another Buzzwatch process \(pid \d+\) is using"):
        TinyDBRepository(tmp_path / "data")
    reader = TinyDBRepository(tmp_path / "data", read_only=True)  # queries work alongside
    reader.close()
    first.close()
    TinyDBRepository(tmp_path / "data").close()  # released on close
