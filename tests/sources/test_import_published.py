"""`bot.py import` stores each row by its published time: a backfilled mention sits where a
mention polled when it was said sits (TinyDB: that day's file; SQLite: its `at`, the column
the `mentions` queries read), so 30-day queries find it and 7-day ones do not."""

from __future__ import annotations

import io
import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from app.cli import main
from core.domain.clock import FakeClock
from core.domain.models import Mention
from storage.factory import open_repository
from tests.conftest import BASE_CONFIG


def _config(tmp_path: Path, backend: str) -> Path:
    data = dict(BASE_CONFIG, data_dir=str(tmp_path / "data"), storage={"backend": backend})
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def _where(backend: str, data_dir: Path, mention_id: str) -> str:
    """Where the store keeps a mention: its day file, or its `at` day."""
    if backend == "tinydb":
        files = [
            p.name for p in (data_dir / "mentions").glob("*.jsonl") if mention_id in p.read_text()
        ]
        assert len(files) == 1, files
        return files[0]
    db = sqlite3.connect(data_dir / "buzzwatch.sqlite3")
    try:
        (at,) = db.execute("SELECT at FROM mentions WHERE id = ?", (mention_id,)).fetchone()
    finally:
        db.close()
    return str(at)[:10]


@pytest.mark.parametrize("backend", ["tinydb", "sqlite"])
def test_an_imported_old_mention_is_stored_by_its_published_time(
    tmp_path: Path, backend: str
) -> None:
    config = _config(tmp_path, backend)
    data_dir = tmp_path / "data"
    said = (datetime.now(UTC) - timedelta(days=20)).replace(microsecond=0)
    # A mention polled 20 days ago, by the bot that ran then.
    then = open_repository(backend, data_dir, clock=FakeClock(said + timedelta(minutes=5)))
    polled = Mention(
        id="polled-20d",
        source="weibo",
        url="",
        title="",
        text="Acme polled then",
        published=said,
        fetched_at=said + timedelta(minutes=5),
        brands=["Acme"],
    )
    then.save_cycle([polled], [polled.id], [], [])
    then.close()

    src = tmp_path / "backfill.jsonl"
    row = {"id": "b1", "text": "Acme backfilled complaint", "published": said.isoformat()}
    src.write_text(json.dumps(row) + "\n", encoding="utf-8")
    out = io.StringIO()
    assert main(["--config", str(config), "-q", "import", str(src), "--no-progress"], out) == 0
    assert "1 accepted (1 stored; 0 alert(s))" in out.getvalue()

    found = io.StringIO()
    main(["--config", str(config), "-q", "mentions", "backfilled", "since:30d"], found)
    assert "1 mention(s) of backfilled" in found.getvalue()
    recent = io.StringIO()
    main(["--config", str(config), "-q", "mentions", "backfilled", "since:7d"], recent)
    assert "backfilled complaint" not in recent.getvalue()
    assert "1 mention(s)" not in recent.getvalue()

    repo = open_repository(backend, data_dir, read_only=True)
    try:
        (imported,) = [d for d in repo.iter_mentions(None) if d["text"] == row["text"]]
        assert imported["published"] == said.isoformat()
        week = {d["text"] for d in repo.iter_mentions(datetime.now(UTC) - timedelta(days=7))}
        assert row["text"] not in week
    finally:
        repo.close()
    assert _where(backend, data_dir, imported["id"]) == _where(backend, data_dir, polled.id)
    if backend == "tinydb":
        assert _where(backend, data_dir, imported["id"]) == f"{said.date().isoformat()}.jsonl"
