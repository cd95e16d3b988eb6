"""`python bot.py migrate` (TinyDB -> SQLite) cut off, or meeting a damaged folder: no
part-built store is left where the bot would start on it, a second run finishes the job
with nothing missing or doubled, and alert ids issued from the folder are never reused."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import yaml

import app.cli as cli
import storage.migrate as migrate
from storage.atomic_json import StorageError
from storage.factory import open_repository
from storage.migrate import migrate_tinydb_folder
from storage.sqlite_repo import DB_NAME, SQLiteRepository
from storage.tinydb_repo import TinyDBRepository
from tests.conftest import BASE_CONFIG
from tests.storage.repository_contract import alerts_for, mention
from tests.storage.test_migrate import fill_tinydb_folder


class Killed(BaseException):
    """The process killed at this point (nothing after it runs)."""


@pytest.mark.parametrize("at", ["_flush", "_small_tables"])
def test_a_run_cut_off_leaves_no_store_and_the_next_run_finishes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, at: str
) -> None:
    data_dir = tmp_path / "data"
    want = fill_tinydb_folder(data_dir)
    monkeypatch.setattr(migrate, "BATCH", 10)  # several batches of mentions
    real = getattr(migrate, at)
    calls = []

    def cut_off(*args: object) -> object:
        calls.append(1)
        if len(calls) == 3 or at == "_small_tables":
            raise Killed
        return real(*args)

    monkeypatch.setattr(migrate, at, cut_off)
    with pytest.raises(Killed):
        migrate_tinydb_folder(data_dir, "2026-12-01T00:00:00+00:00")
    monkeypatch.setattr(migrate, at, real)
    assert not (data_dir / DB_NAME).exists()
    with pytest.raises(StorageError, match="holds a TinyDB store"):
        open_repository("sqlite", data_dir)  # the bot does not start on a part of it

    report = migrate_tinydb_folder(data_dir, "2026-12-01T00:00:00+00:00")
    assert report.already == "" and report.alerts == len(want["alerts"])  # type: ignore[arg-type]
    assert not (data_dir / migrate.MIGRATING).exists()
    repo = open_repository("sqlite", data_dir)
    try:
        assert repo.count_mentions() == len(want["mentions"])  # type: ignore[arg-type]
        assert sorted(d["id"] for d in repo.iter_mentions(None)) == sorted(want["mentions"])  # type: ignore[arg-type]
        assert repo.pending_outbox() == want["outbox"]
        assert repo.next_alert_ids(1) == [f"A{len(want['alerts']) + 1}"]  # type: ignore[arg-type]
    finally:
        repo.close()


def tinydb_folder(data_dir: Path, issue_after: int = 0) -> None:
    repo = TinyDBRepository(data_dir)
    ms = [mention(i) for i in range(5)]
    repo.save_cycle(ms, [m.id for m in ms], alerts_for(repo, 2), [])  # A1, A2
    repo.next_alert_ids(issue_after)
    repo.close()


def test_alert_ids_issued_after_the_state_backup_are_not_reused(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    tinydb_folder(data_dir, issue_after=1)  # A3 issued: in state.json, not in its backup
    state = data_dir / "state.json"
    state.write_bytes(state.read_bytes()[:-20])  # torn: recovered from the backup
    migrate_tinydb_folder(data_dir, "2026-12-01T00:00:00+00:00")
    repo = SQLiteRepository(data_dir)
    try:
        assert repo.next_alert_ids(1) == ["A4"]
    finally:
        repo.close()


def run(data_dir: Path, *args: str) -> tuple[int, str]:
    path = data_dir.parent / "config.yaml"
    path.write_text(yaml.safe_dump(dict(BASE_CONFIG, data_dir=str(data_dir))), "utf-8")
    out = io.StringIO()
    code = cli.main(["migrate", "--config", str(path), "--no-progress", *args], out=out)
    return code, out.getvalue()


def test_an_unreadable_state_leaves_nothing_and_start_empty_moves_the_mentions(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data_dir = tmp_path / "data"
    tinydb_folder(data_dir, issue_after=1)
    for f in data_dir.glob("state.json*"):
        f.write_bytes(b"\0" * 64)
    assert run(data_dir)[0] == 2
    assert "--start-empty" in capsys.readouterr().err
    assert not (data_dir / DB_NAME).exists()  # (an empty store there would start A1 again)
    with pytest.raises(StorageError, match="holds a TinyDB store"):
        open_repository("sqlite", data_dir)

    code, out = run(data_dir, "--start-empty")  # as the error says
    assert code == 0 and "5 mention(s)" in out and "0 alert(s)" in out
    repo = SQLiteRepository(data_dir)
    try:
        assert repo.count_mentions() == 5 and repo.find_alerts(lambda a: True) == []
        assert repo.next_alert_ids(1) == ["A4"]  # ids carry on above every one issued
    finally:
        repo.close()
