"""Start-up and `--once` when storage is broken: clear errors, exit codes, no tracebacks."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import yaml

from app.cli import main
from storage.tinydb_repo import TinyDBRepository
from tests.conftest import BASE_CONFIG


@pytest.fixture
def config(tmp_path: Path) -> Path:
    # state.json and its backup are TinyDB's; SQLite writes each change as one transaction
    data = dict(BASE_CONFIG, data_dir=str(tmp_path / "data"), storage={"backend": "tinydb"})
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def test_lost_state_and_backup_need_start_empty(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    repo = TinyDBRepository(data)
    repo.next_alert_ids(3)
    repo.set_state("x", 1)
    repo.set_state("x", 2)
    repo.close()
    (data / "state.json").write_text("{torn")
    (data / "state.json.bak").write_text("")
    assert main(["--config", str(config), "-q", "--once"], io.StringIO()) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "--start-empty" in err and "Traceback" not in err
    assert main(["--config", str(config), "-q", "--once", "--start-empty"], io.StringIO()) == 0
    repo = TinyDBRepository(data)
    assert repo.next_alert_ids(1)[0] not in ("A1", "A2", "A3")
    repo.close()
