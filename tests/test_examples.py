"""The example configs do what the README promises right after the quick start."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pytest

import bot
from core.config import REPO_ROOT

EXAMPLES = sorted(
    p.name for p in (REPO_ROOT / "examples").glob("*.yaml") if p.name != "config.yaml"
)


def test_the_chat_examples_are_found() -> None:
    assert {"slack.yaml", "dingtalk.yaml"} <= set(EXAMPLES)


def test_each_example_dry_run_prints_messages_after_the_quick_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A folder like a fresh checkout: relative paths (data_dir, feeds) are from where bot.py runs.
    shutil.copytree(REPO_ROOT / "examples", tmp_path / "examples")
    monkeypatch.chdir(tmp_path)
    assert bot.main(["--config", "examples/config.yaml", "--once", "-q"], io.StringIO()) == 0
    for name in EXAMPLES:
        out = io.StringIO()
        assert bot.main(["--config", f"examples/{name}", "--once", "--dry-run", "-q"], out) == 0
        lines = [json.loads(line) for line in out.getvalue().splitlines() if line.startswith("{")]
        assert lines, f"examples/{name}: the dry run printed no message after the quick start"
