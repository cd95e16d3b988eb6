"""`bot.py classify` fed lines made to hurt: each gets its own result, the run goes on, no
traceback."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli_fixture import Cli
from tests.conftest import write_base_config

LINES = [
    '{"text": "Acme burger", "metrics": {"followers": 1e999}}',  # OverflowError: traceback
    '{"text": "Acme burger", "lang": "\\ud800"}',  # UnicodeEncodeError printing the result
    '{"text": "Acme burger", "metrics": {"followers": -5}}',  # a negative reach
    '{"text": "Acme burger", "lang": "zh-Hans", "metrics": {"followers": 12.0}}',
    "Acme fries are soggy",
]


def test_hostile_json_lines_each_get_an_error_and_the_rest_is_classified(
    tmp_path: Path, cli: Cli
) -> None:
    src = tmp_path / "lines.jsonl"
    src.write_text("\n".join(LINES) + "\n", encoding="utf-8")
    run = cli("--config", str(write_base_config(tmp_path)), "classify", str(src))
    assert run.returncode == 0 and "Traceback" not in run.stderr
    results = [json.loads(line) for line in run.stdout.splitlines()]
    assert [r["line"] for r in results] == [1, 2, 3, 4, 5]
    assert "metrics.followers must be a number from 0 to 10^12" in results[0]["error"]
    assert "'lang' must be a language code" in results[1]["error"]
    assert "metrics.followers" in results[2]["error"]
    assert results[3]["lang"] == "zh-Hans" and results[3]["reach"] == 12
    assert results[4]["brands"] == ["Acme"]
