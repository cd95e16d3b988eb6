"""`bot.py export` then `bot.py import` into a fresh data folder: the same mentions back."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from app.cli import main
from core.config import StorageConfig
from core.intake.mention_schema import METRIC_KEYS
from core.reports.export import METRIC_COLUMNS
from storage.factory import open_repository
from tests.conftest import BASE_CONFIG

NOW = datetime.now(UTC).replace(microsecond=0)
KEPT = ("id", "source", "url", "title", "text", "author", "metrics")


def _config(tmp_path: Path, name: str) -> Path:
    data = dict(BASE_CONFIG, data_dir=str(tmp_path / name))
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def _run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main(["-q", *argv], out)
    return code, out.getvalue()


def _stored(data_dir: Path) -> dict[str, dict[str, Any]]:
    repo = open_repository(StorageConfig().backend, data_dir, read_only=True)
    try:
        return {doc["id"]: doc for doc in repo.iter_mentions(NOW - timedelta(days=400))}
    finally:
        repo.close()


def _write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
    )
    return path


@pytest.fixture
def original(tmp_path: Path) -> Path:
    """A data folder with mentions from two sources, some awkward for a CSV or a re-clean."""
    config = _config(tmp_path, "first")
    forum = [
        {
            "id": "f1",
            "title": '=HYPERLINK("http://evil.example") Acme',
            "text": "Acme a&lt;b&gt;c &amp;amp; 5 &lt; 6, 退款!",
            "url": "https://forum.example/1",
            "author": "@someone",
            "published": (NOW - timedelta(days=3)).isoformat(),
            "metrics": {"followers": 1200, "likes": 0, "views": 77},
        },
        {
            "id": "f2",
            "title": "'=already quoted",
            "text": "艾克米\n\nsecond paragraph",
            "author": "-dash",
            "published": (NOW - timedelta(days=2, hours=5)).isoformat(),
        },
        {"id": "f3", "text": "Acme with no time at all", "url": "https://forum.example/3"},
    ]
    code, text = _run(
        "--config", str(config), "import", str(_write_jsonl(tmp_path / "forum.jsonl", forum)),
        "--source", "forum", "--no-progress",
    )  # fmt: skip
    assert code == 0 and "3 accepted" in text, text
    news = [{"title": "Acme opens in Tokyo", "url": "https://news.example/a?x=1&y=2",
             "published": (NOW - timedelta(days=1)).isoformat(), "metrics": {"comments": 3}}]  # fmt: skip
    code, text = _run(
        "--config", str(config), "import", str(_write_jsonl(tmp_path / "news.jsonl", news)),
        "--source", "news.wire-2", "--no-progress",
    )  # fmt: skip
    assert code == 0 and "1 accepted" in text, text
    return tmp_path / "first"


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_export_imports_back_as_the_same_mentions(tmp_path: Path, original: Path, fmt: str) -> None:
    exported = tmp_path / f"e.{fmt}"
    code, _ = _run(
        "--config", str(_config(tmp_path, "first")), "export", "--since", "30d",
        "--format", fmt, "-o", str(exported),
    )  # fmt: skip
    assert code == 0
    code, text = _run(
        "--config", str(_config(tmp_path, "second")), "import", str(exported), "--no-progress"
    )
    assert code == 0, text
    assert "4 row(s): 4 accepted (4 stored; 0 alert(s)), 0 rejected" in text

    before, after = _stored(original), _stored(tmp_path / "second")
    assert set(after) == set(before) and len(before) == 4
    for mention_id, doc in before.items():
        again = after[mention_id]
        assert {k: again[k] for k in KEPT} == {k: doc[k] for k in KEPT}
        if doc["published"]:
            assert again["published"] == doc["published"]
        else:  # no published time: the time it was fetched stands in, as everywhere
            assert again["published"] == doc["fetched_at"]
        assert again["brands"] == doc["brands"] and again["flags"] == doc["flags"]
    assert {d["source"] for d in after.values()} == {"forum", "news.wire-2"}
    texts = {d["text"] for d in after.values()}
    assert "Acme a<b>c &amp; 5 < 6, 退款!" in texts  # plain text, not cleaned as HTML again


def test_source_option_overrides_the_files_source(tmp_path: Path, original: Path) -> None:
    exported = tmp_path / "e.csv"
    _run("--config", str(_config(tmp_path, "first")), "export", "--since", "30d",
         "--format", "csv", "-o", str(exported))  # fmt: skip
    code, text = _run("--config", str(_config(tmp_path, "second")), "import", str(exported),
                      "--source", "backfill", "--no-progress")  # fmt: skip
    assert code == 0 and "4 accepted" in text
    assert {d["source"] for d in _stored(tmp_path / "second").values()} == {"backfill"}


def test_export_times_carry_the_configured_offset(tmp_path: Path, original: Path) -> None:
    config = str(_config(tmp_path, "first"))  # Asia/Shanghai
    _run("--config", config, "export", "--since", "30d", "--format", "csv",
         "-o", str(tmp_path / "e.csv"))  # fmt: skip
    _run("--config", config, "export", "--since", "30d", "--format", "jsonl",
         "-o", str(tmp_path / "e.jsonl"))  # fmt: skip
    with (tmp_path / "e.csv").open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert rows and all(r["when"].endswith("+08:00") for r in rows)
    stored = _stored(original)
    for row in rows:
        doc = stored[row["id"]]
        said = datetime.fromisoformat(doc["published"] or doc["fetched_at"])
        assert datetime.fromisoformat(row["when"]) == said  # the same instant
    for line in (tmp_path / "e.jsonl").read_text(encoding="utf-8").splitlines():
        doc = json.loads(line)
        assert doc["fetched_at"].endswith("+08:00")
        assert doc["published"] is None or doc["published"].endswith("+08:00")


def test_csv_metric_columns_are_the_importers_metric_keys() -> None:
    assert set(METRIC_COLUMNS) == METRIC_KEYS


def test_repeated_id_first_row_wins_and_is_reported(tmp_path: Path) -> None:
    first = {"id": "r1", "text": "Acme refund please", "author": "ann", "published":
             (NOW - timedelta(days=1)).isoformat(), "metrics": {"followers": 50}}  # fmt: skip
    rows = [first, {"id": "r2", "text": "Acme other"}, {"id": "r1", "text": "Acme refund please"}]
    src = _write_jsonl(tmp_path / "dup.jsonl", rows)
    code, text = _run("--config", str(_config(tmp_path, "d")), "import", str(src),
                      "--source", "forum", "--no-progress")  # fmt: skip
    assert code == 0
    assert "3 row(s): 2 accepted (2 stored; 0 alert(s)), 1 duplicate(s) skipped, 0 rejected" in text
    assert "line 3: duplicate of line 1 (same id r1)" in text
    kept = [d for d in _stored(tmp_path / "d").values() if d["text"] == "Acme refund please"]
    assert len(kept) == 1
    assert kept[0]["author"] == "ann" and kept[0]["metrics"] == {"followers": 50}
    assert kept[0]["published"] is not None


def test_a_bad_source_name_in_the_file_rejects_that_row(tmp_path: Path) -> None:
    rows = [{"text": "Acme one", "source": "bad name!"}, {"text": "Acme two", "source": "ok"}]
    src = _write_jsonl(tmp_path / "s.jsonl", rows)
    code, text = _run("--config", str(_config(tmp_path, "s")), "import", str(src), "--no-progress")
    assert code == 0 and "1 accepted" in text and "line 1: source:" in text
    assert {d["source"] for d in _stored(tmp_path / "s").values()} == {"ok"}
