"""`python bot.py migrate --to postgres` and back: everything of the SQLite store is in
PostgreSQL after (and back in a new SQLite store), counts printed, ids never reused, a
second run changes nothing."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path

import pytest
import yaml

import app.cli as cli
from core.alerting.lifecycle import outbox_items
from core.domain.clock import FakeClock
from core.domain.models import OutboxStatus, Status
from core.domain.repository import Repository
from storage.postgres_repo import PostgresRepository
from storage.sqlite_repo import SQLiteRepository
from tests.conftest import BASE_CONFIG
from tests.storage.repository_contract import NOW, alerts_for, mention


def fill(repo: Repository) -> None:
    ms = [mention(i, f"艾克米 refund {i}") for i in range(12)]
    alerts = alerts_for(repo, 3)
    alerts[0].status, alerts[0].resolved_at = (
        Status.RESOLVED.value,
        (NOW - timedelta(days=30)).isoformat(),
    )
    outbox = [o for a in alerts[1:] for o in outbox_items(a, "post", NOW)]
    repo.save_cycle(ms, [m.id for m in ms] + ["other"], alerts, outbox)
    repo.archive_alerts(NOW - timedelta(days=14))
    dead = repo.pending_outbox()[0]
    dead.status = OutboxStatus.DEAD.value
    repo.save_outbox(dead)
    repo.next_alert_ids(2)  # handed out, never stored: not to be reused either
    repo.set_state("source:feed", {"etag": "x"})


def content(repo: Repository) -> dict[str, object]:
    return {
        "mentions": sorted(d["id"] for d in repo.iter_mentions(None)),
        "unseen": repo.unseen(["m1", "other", "new"]),
        "alerts": {a: repo.get_alert(a) for a in ("A1", "A2", "A3")},
        "active": [a.id for a in repo.find_alerts(lambda a: True)],
        "outbox": repo.pending_outbox(),
        "dead": repo.dead_letters(),
        "state": repo.get_state("source:feed"),
    }


def run(path: Path, *args: str) -> str:
    out = io.StringIO()
    assert cli.main(["migrate", "--config", str(path), "--no-progress", *args], out=out) == 0
    return out.getvalue()


def test_migrate_to_postgres_and_back(
    tmp_path: Path, postgres_schema: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BUZZWATCH_DATABASE_URL", postgres_schema)
    clock = FakeClock(NOW)
    lite = SQLiteRepository(tmp_path / "data", clock=clock)
    fill(lite)
    want = content(lite)
    lite.close()
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(dict(BASE_CONFIG, data_dir=str(tmp_path / "data"))), "utf-8")

    text = run(path, "--to", "postgres")
    assert "12 mention(s) and 13 seen id(s)" in text
    assert "3 alert(s) (1 archived), 1 outbox item(s), 1 dead letter(s), 1 state key(s)" in text
    assert "backend: postgres" in text
    assert "earlier run" in run(path, "--to", "postgres")  # again: nothing twice
    pg = PostgresRepository(postgres_schema, clock=clock)
    assert content(pg) == want
    assert pg.next_alert_ids(1) == ["A6"]
    pg.close()

    path.write_text(yaml.safe_dump(dict(BASE_CONFIG, data_dir=str(tmp_path / "back"))), "utf-8")
    assert "12 mention(s) and 13 seen id(s)" in run(path, "--to", "sqlite")
    back = SQLiteRepository(tmp_path / "back", clock=clock)
    assert content(back) == want
    assert back.next_alert_ids(1) == ["A7"]  # after every id PostgreSQL handed out
    back.close()
