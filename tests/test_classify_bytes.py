"""`bot.py classify` with bytes that are not UTF-8, from a file or stdin: that line gets an
error result ("not valid UTF-8", as import says), the others are classified, no traceback.
An empty line gets an error result too (there is no text to analyse), as README says."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

from app.cli import main
from tests.conftest import ROOT, clean_env

CONTENT = b"Acme fries are amazing, love them\nAcme \xff\xfe broken\n\n\xef\xbb\xbfAcme again\n"


def _check(stdout: str) -> None:
    results = [json.loads(line) for line in stdout.splitlines()]
    assert [r["line"] for r in results] == [1, 2, 3, 4]
    good, broken, empty, last = results
    assert "error" not in good and good["sentiment"] > 0
    assert broken == {"line": 2, "error": "not valid UTF-8"}
    assert empty == {"line": 3, "error": "empty line"}
    assert "error" not in last and last["brands"] == ["Acme"]


def test_a_file_with_bytes_that_are_not_utf8(config_file: Path, tmp_path: Path) -> None:
    src = tmp_path / "in.txt"
    src.write_bytes(CONTENT)
    out = io.StringIO()
    assert main(["--config", str(config_file), "classify", str(src)], out) == 0
    _check(out.getvalue())


def test_stdin_with_bytes_that_are_not_utf8(config_file: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bot.py"), "--config", str(config_file), "-q", "classify"],
        cwd=config_file.parent,
        env={**clean_env(), "PYTHONIOENCODING": "", "LC_ALL": "C"},
        input=CONTENT,
        capture_output=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    assert b"Traceback" not in done.stderr
    _check(done.stdout.decode("utf-8"))
