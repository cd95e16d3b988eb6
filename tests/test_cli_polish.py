"""Rough edges a new user met on the command line: classify's JSON lines, digest's --since."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from app.cli import main
from tests.cli_fixture import Cli


def _classify(config: Path, tmp_path: Path, lines: list[str]) -> list[dict]:
    src = tmp_path / "in.txt"
    src.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = io.StringIO()
    assert main(["--config", str(config), "classify", str(src)], out) == 0
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_classify_json_that_is_not_an_object_with_text_is_an_error(
    config_file: Path, tmp_path: Path
) -> None:
    lines = [
        "[1,2]",
        '"just a string"',
        "42",
        "null",
        '{"title": 5}',
        '{"author": "only an author"}',
        '{"broken": ',
    ]
    results = _classify(config_file, tmp_path, lines)
    assert [r["line"] for r in results] == list(range(1, len(lines) + 1))
    for r in results:
        assert set(r) == {"line", "error"} and r["error"].startswith("bad JSON line: "), r
    assert "not an array" in results[0]["error"] and "not a string" in results[1]["error"]


def test_classify_takes_a_title_only_object_and_text_that_is_not_json(
    config_file: Path, tmp_path: Path
) -> None:
    lines = [
        '{"title": "Acme gave me food poisoning"}',
        "[Acme] fries are amazing",  # not JSON: text
        "Infinity and Acme",
        "NaN",  # Python's json would read it; JSON has no NaN: text
    ]
    results = _classify(config_file, tmp_path, lines)
    assert all("error" not in r for r in results), results
    assert results[0]["brands"] == ["Acme"] and "negative" in results[0]["flags"]
    assert results[1]["brands"] == ["Acme"]


@pytest.mark.parametrize("since", ["0s", "30m", "93d", "100d"])
def test_digest_since_out_of_the_chat_range_is_refused(
    config_file: Path, since: str, capsys: pytest.CaptureFixture[str]
) -> None:
    out = io.StringIO()
    code = main(["--config", str(config_file), "-q", "--dry-run", "digest", "--since", since], out)
    assert code == 2
    assert "--since takes between 1h and 92d" in capsys.readouterr().err
    chat = io.StringIO()
    assert (
        main(["--config", str(config_file), "-q", "command", "digest", f"since:{since}"], chat) == 1
    )
    assert "since: takes between 1h and 92d" in chat.getvalue()


def test_digest_and_chat_share_one_range(
    config_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import core.domain.durations

    monkeypatch.setattr(
        core.domain.durations, "REPORT_SINCE", (timedelta(hours=2), timedelta(days=3))
    )
    code = main(["--config", str(config_file), "-q", "--dry-run", "digest", "--since", "1h"])
    assert code == 2 and "between 2h and 3d" in capsys.readouterr().err
    chat = io.StringIO()
    assert main(["--config", str(config_file), "-q", "command", "stats", "since:4d"], chat) == 1
    assert "since: takes between 2h and 3d" in chat.getvalue()


def test_digest_since_within_the_range_works(config_file: Path, tmp_path: Path, cli: Cli) -> None:
    chart = tmp_path / "c.png"
    args = ["--config", str(config_file), "-q", "--dry-run", "digest", "--since", "92d"]
    run = cli(*args, "--chart", str(chart))
    assert run.returncode == 0, run.stderr
    # The dry run prints the digest of the 92 days asked for, and writes its chart there.
    printed = [json.loads(line) for line in run.stdout.splitlines()]
    console = [p["payload"]["text"] for p in printed if p["destination"] == "console"]
    assert [text.splitlines()[0] for text in console] == [
        "== Buzzwatch digest · all brands · last 92d =="
    ]
    assert f"chart written to {chart}" in run.stderr and chart.stat().st_size > 0
    assert "error" not in run.stderr


def test_export_keeps_any_since(config_file: Path, tmp_path: Path, cli: Cli) -> None:
    """Only the digest has the chat's range: an export may look back a year."""
    said = (datetime.now(UTC) - timedelta(days=100)).isoformat()
    old = {"id": "old-1", "url": "https://e.com/1", "text": "Acme 退款", "published": said}
    backfill = tmp_path / "old.jsonl"
    backfill.write_text(json.dumps(old, ensure_ascii=False) + "\n", encoding="utf-8")
    assert (
        cli("--config", str(config_file), "-q", "import", str(backfill), "--no-progress").returncode
        == 0
    )
    run = cli("--config", str(config_file), "-q", "export", "--since", "365d")
    assert run.returncode == 0, run.stderr
    [line] = run.stdout.splitlines()
    assert json.loads(line)["url"] == "https://e.com/1"  # 100 days back: within 365d
    default = cli("--config", str(config_file), "-q", "export")  # 7 days: not in it
    assert default.returncode == 0 and default.stdout == "", default.stdout
