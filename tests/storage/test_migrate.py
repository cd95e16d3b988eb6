"""`python bot.py migrate`: every mention, alert, outbox item, dead letter, state key and
seen id of a TinyDB folder is in the SQLite store after; the old files are untouched; a
second run changes nothing."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

import app.cli as cli
from core.alerting.lifecycle import new_alert, outbox_items
from core.domain.clock import FakeClock
from core.domain.models import Alert, Mention, OutboxStatus, Status
from storage.atomic_json import StorageError
from storage.factory import open_repository
from storage.migrate import migrate_tinydb_folder
from storage.sqlite_repo import SQLiteRepository
from storage.tinydb_repo import TinyDBRepository
from tests.conftest import BASE_CONFIG

START = datetime(2026, 9, 20, 8, 0, tzinfo=UTC)


def resolve(at: str) -> Callable[[Alert], None]:
    def change(alert: Alert) -> None:
        alert.status, alert.resolved_at = Status.RESOLVED.value, at

    return change


def fill_tinydb_folder(data_dir: Path) -> dict[str, object]:
    """A TinyDB folder as months of running leave it; what it holds, for comparing."""
    clock = FakeClock(START)
    repo = TinyDBRepository(data_dir, clock=clock)
    seen: list[str] = []
    for day in range(0, 70, 3):  # seen files over three months, day files over 70 days
        clock.set(START + timedelta(days=day))
        now = clock.now()
        ms = [
            Mention(
                id=f"d{day}m{i}",
                source="weibo",
                url="",
                title=f"艾克米 story {day}-{i}",
                text="退款 refund",
                fetched_at=now,
                published=now - timedelta(hours=1),
                brands=["Acme"],
            )
            for i in range(4)
        ]
        ids = repo.next_alert_ids(1)
        alerts = [new_alert(ids[0], ms[0], "r", ["team", "boss"], now)]
        repo.save_cycle(ms, [m.id for m in ms] + [f"other{day}"], alerts, [])
        seen += [m.id for m in ms] + [f"other{day}"]
        if day < 30:  # resolved long ago: archived below
            repo.change_alert(ids[0], resolve(now.isoformat()))
    last = repo.find_alerts(lambda a: a.status == Status.OPEN)[-1]
    repo.add_outbox(outbox_items(last, "post", clock.now()), {"digest": {"sent_for": "x"}})
    dead, _pending = repo.pending_outbox()
    dead.status = OutboxStatus.DEAD.value
    repo.save_outbox(dead)
    repo.set_state("source:weibo", {"etag": "e1"})
    archived = repo.archive_alerts(START + timedelta(days=40))
    assert archived > 0
    want = {
        "mentions": {d["id"]: d for d in repo.iter_mentions(None)},
        "alerts": {a.id: a for a in repo.find_alerts(lambda a: True)},
        "archived": archived,
        "outbox": repo.pending_outbox(),
        "dead": repo.dead_letters(),
        "state": repo.all_state(),
        "seen": seen,
    }
    for n in range(1, int(repo.get_state("alert_seq")) + 1):
        alert = repo.get_alert(f"A{n}")
        assert alert is not None
        want["alerts"].setdefault(alert.id, alert)  # type: ignore[union-attr]
    repo.close()
    return want


def snapshot(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != ".lock" and not p.name.startswith("buzzwatch.sqlite3")
    }


def test_migrate_round_trips_everything_and_is_idempotent(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    want = fill_tinydb_folder(data_dir)
    before = snapshot(data_dir)
    with pytest.raises(StorageError, match="migrate"):  # sqlite refuses a TinyDB folder
        open_repository("sqlite", data_dir)

    counted: list[int] = []
    report = migrate_tinydb_folder(data_dir, "2026-12-01T00:00:00+00:00", progress=counted.append)
    assert snapshot(data_dir) == before  # the old files are untouched
    assert report.mentions == len(want["mentions"]) == sum(counted) - len(want["seen"])
    assert report.alerts == len(want["alerts"]) and report.archived == want["archived"]
    assert (report.outbox, report.dead) == (len(want["outbox"]), len(want["dead"]))
    assert report.seen == len(want["seen"])

    def check() -> None:
        repo = SQLiteRepository(data_dir, clock=FakeClock(START + timedelta(days=80)))
        try:
            got = {d["id"]: d for d in repo.iter_mentions(None)}
            assert got == want["mentions"]
            for alert_id, alert in want["alerts"].items():  # type: ignore[attr-defined]
                assert repo.get_alert(alert_id) == alert
            hot = {a.id for a in repo.find_alerts(lambda a: True)}
            assert len(hot) == len(want["alerts"]) - want["archived"]  # type: ignore[arg-type]
            assert repo.pending_outbox() == want["outbox"]
            assert repo.dead_letters() == want["dead"]
            assert repo.unseen(want["seen"]) == []  # type: ignore[arg-type]
            state = repo.all_state()
            for key, value in want["state"].items():  # type: ignore[attr-defined]
                if key != "cycle_seen_ids":
                    assert state[key] == value
            # numbering goes on after the old ids
            assert repo.next_alert_ids(1) == [f"A{len(want['alerts']) + 1}"]  # type: ignore[arg-type]
        finally:
            repo.close()

    check()
    again = migrate_tinydb_folder(data_dir, "2026-12-02T00:00:00+00:00")
    assert again.mentions == report.mentions and again.already == "2026-12-01T00:00:00+00:00"
    repo = SQLiteRepository(data_dir)
    assert repo.count_mentions() == report.mentions
    assert len(repo.pending_outbox()) == len(want["outbox"])  # type: ignore[arg-type]
    repo.close()
    assert snapshot(data_dir) == before


def test_migrate_command_prints_counts(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    want = fill_tinydb_folder(data_dir)
    config = dict(BASE_CONFIG, data_dir=str(data_dir))
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    out = io.StringIO()
    assert cli.main(["migrate", "--config", str(path), "--no-progress"], out=out) == 0
    text = out.getvalue()
    assert f"{len(want['mentions']):,} mention(s)" in text  # type: ignore[arg-type]
    assert "untouched" in text
    # the bot now reads the SQLite store (the default backend)
    active = [a for a in want["alerts"].values() if a.status != Status.RESOLVED]  # type: ignore[attr-defined]
    out = io.StringIO()
    assert cli.main(["command", "status", "--config", str(path)], out=out) == 0
    assert f"{len(active)} alert(s) not resolved" in out.getvalue()


def test_migrate_refuses_a_folder_without_a_tinydb_store(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="no TinyDB store"):
        migrate_tinydb_folder(tmp_path, "x")


def test_a_config_naming_no_backend_keeps_an_old_tinydb_folder_running(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # A folder from before SQLite was the default: the upgraded bot reads it as it is and
    # says how to move; a config that names sqlite is refused rather than start empty.
    data_dir = tmp_path / "data"
    want = fill_tinydb_folder(data_dir)
    active = [a for a in want["alerts"].values() if a.status != Status.RESOLVED]  # type: ignore[attr-defined]
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(dict(BASE_CONFIG, data_dir=str(data_dir))), encoding="utf-8")
    out = io.StringIO()
    assert cli.main(["command", "status", "--config", str(path)], out=out) == 0
    assert f"{len(active)} alert(s) not resolved" in out.getvalue()
    assert "holds a TinyDB store: using it" in caplog.text and "migrate" in caplog.text
    assert not (data_dir / "buzzwatch.sqlite3").exists()

    config = dict(BASE_CONFIG, data_dir=str(data_dir), storage={"backend": "sqlite"})
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    assert cli.main(["command", "status", "--config", str(path)], out=io.StringIO()) != 0
    assert not (data_dir / "buzzwatch.sqlite3").exists()
