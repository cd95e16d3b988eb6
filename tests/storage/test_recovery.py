"""Recovery of the embedded store: leftovers of a kill, state files of the wrong shape, a
state lost with its backup, a lost seen log."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from storage.tinydb_repo import TinyDBRepository


def test_temp_files_left_by_a_kill_are_removed_at_start(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = tmp_path / "data"
    repo = TinyDBRepository(data)
    repo.set_state("k", 1)
    repo.close()
    orphans = [data / ".state.json.4242.139872.tmp", data / ".state.json.bak.tmp"]
    for p in orphans:
        p.write_bytes(b'{"half a wri')
    unrelated = data / "notes.tmp"
    unrelated.write_text("not ours")
    reader = TinyDBRepository(data, read_only=True)  # no lock: leaves them alone
    reader.close()
    assert all(p.exists() for p in orphans)
    with caplog.at_level(logging.WARNING):
        repo = TinyDBRepository(data)
    assert not any(p.exists() for p in orphans)
    assert unrelated.exists()
    assert "2 temp file(s) left by an interrupted write" in caplog.text
    assert repo.get_state("k") == 1
    repo.close()
