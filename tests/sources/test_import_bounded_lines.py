"""`bot.py import` reads a line over the cap a piece at a time and drops it: memory stays
bounded (findings item 9: an 800 MB line took 1.73 GB before it was refused)."""

from __future__ import annotations

import io
import tracemalloc
from pathlib import Path

import pytest

from sources.importer import MAX_LINE_CHARS, bounded_lines
from tests.sources.test_import_hostile import GOOD1, GOOD2, import_file

LONG = 30_000_000  # characters in the long line


def _traced(tmp_path: Path, name: str, content: bytes) -> tuple[int, str, int]:
    tmp_path.mkdir()
    tracemalloc.start()
    try:
        code, out = import_file(tmp_path, name, content)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return code, out, peak


def _peak_while_importing(tmp_path: Path, name: str, content: bytes) -> tuple[int, str, int]:
    """The import's peak of Python memory over that of the same import without the long
    line (what loading the analyser and the store takes is not the line's)."""
    short = b"\n".join(line for line in content.split(b"\n") if len(line) < 1000)
    _traced(tmp_path / "warm", name, short)  # modules and models loaded once
    *_, base = _traced(tmp_path / "short", name, short)
    code, out, peak = _traced(tmp_path / "long", name, content)
    return code, out, peak - base


def test_a_jsonl_line_over_the_cap_is_refused_without_being_held(tmp_path: Path) -> None:
    long = b'{"id": "b1", "title": "' + b"y" * LONG + b'"}\n'
    content = GOOD1 + long + GOOD2
    code, out, peak = _peak_while_importing(tmp_path, "in.jsonl", content)
    del content, long
    assert code == 0, out
    assert "3 row(s): 2 accepted" in out
    assert "line 2: line is over 1,000,000 characters" in out
    assert peak < LONG // 3, f"peak {peak:,} bytes"


def test_a_csv_line_over_the_cap_is_refused_without_being_held(tmp_path: Path) -> None:
    content = (
        b"id,title,text\ng1,Acme burgers are cold,\nb1,x," + b"y" * LONG + b"\ng2,Acme fries,\n"
    )
    code, out, peak = _peak_while_importing(tmp_path, "in.csv", content)
    del content
    assert code == 0, out
    assert "3 row(s): 2 accepted" in out
    assert "line 3: not valid CSV: line is over 1,000,000 characters" in out
    assert peak < LONG // 3, f"peak {peak:,} bytes"


def test_a_csv_header_over_the_cap_ends_the_import(tmp_path: Path, capsys) -> None:
    code, _ = import_file(tmp_path, "in.csv", b"id,title" + b"x" * 1_100_000 + b"\ng1,Acme\n")
    assert code == 2
    assert "line 1: the header is not valid CSV: line is over" in capsys.readouterr().err


@pytest.mark.parametrize("ending", ["\n", "\r\n", "\r", ""])
def test_bounded_lines_keep_every_line_and_drop_only_the_long_one(ending: str) -> None:
    text = f"a{ending}" + "y" * (MAX_LINE_CHARS + 5) + f"{ending}b{ending}"
    stream = io.StringIO(text, newline="")
    lines = list(bounded_lines(stream))
    assert lines[0] == f"a{ending}" if ending else lines == [None]
    if ending:
        assert lines[1] is None and lines[2:] == [f"b{ending}"]
