"""`bot.py import`: a row that cannot be read is rejected with its line number; the rows
around it are imported and the import finishes normally."""

from __future__ import annotations

import io
import json
from pathlib import Path

from app.cli import main
from tests.conftest import write_base_config


def import_file(tmp_path: Path, name: str, content: bytes) -> tuple[int, str]:
    """`bot.py import` of `content` saved as `name`: its exit code and output (also used by
    test_import_bounded_lines.py)."""
    src = tmp_path / name
    src.write_bytes(content)
    out = io.StringIO()
    code = main(
        ["--config", str(write_base_config(tmp_path)), "-q", "import", str(src), "--no-progress"],
        out,
    )
    return code, out.getvalue()


def _stored(tmp_path: Path) -> dict[str, dict]:
    out = io.StringIO()
    main(["--config", str(write_base_config(tmp_path)), "-q", "export", "--since", "3650d"], out)
    return {d["title"]: d for d in map(json.loads, out.getvalue().splitlines())}


def _line(record: dict) -> bytes:
    return json.dumps(record, ensure_ascii=False).encode("utf-8") + b"\n"


GOOD1 = _line({"id": "g1", "title": "Acme burgers are cold", "url": "https://f.example/1"})
GOOD2 = _line({"id": "g2", "title": "Acme fries are soggy", "url": "https://f.example/2"})


def test_jsonl_deep_nesting_is_one_rejected_row(tmp_path: Path) -> None:
    deep = b"[" * 100_000 + b"]" * 100_000 + b"\n"
    code, out = import_file(tmp_path, "in.jsonl", GOOD1 + deep + GOOD2)
    assert code == 0, out
    assert "3 row(s): 2 accepted" in out and "line 2: not valid JSON: nested too deeply" in out


def test_jsonl_year_one_with_offset_is_rejected_with_a_reason(tmp_path: Path) -> None:
    odd = _line({"id": "b1", "title": "Acme refund!", "published": "0001-01-01T00:00:00+23:59"})
    code, out = import_file(tmp_path, "in.jsonl", GOOD1 + odd + GOOD2)
    assert code == 0 and "3 row(s): 2 accepted" in out, out
    assert (
        "line 2: published: 0001-01-01T00:00:00+23:59 is not a plausible time (before 1990)" in out
    )
    assert "Acme refund!" not in _stored(tmp_path)


def test_jsonl_invalid_utf8_rejects_its_line_only(tmp_path: Path) -> None:
    bad = b'{"id": "b1", "title": "Acme \xff\xfe broken"}\n'
    rows = [_line({"id": f"r{i}", "title": f"Acme row {i}"}) for i in range(600)]
    # Past the first batch of 500, so an unflushed batch would be lost if the import stopped.
    code, out = import_file(tmp_path, "in.jsonl", b"".join(rows[:550]) + bad + b"".join(rows[550:]))
    assert code == 0, out
    assert "601 row(s): 600 accepted" in out and "line 551: not valid UTF-8" in out
    assert len(_stored(tmp_path)) == 600


def test_csv_invalid_utf8_and_nul_reject_only_their_row(tmp_path: Path) -> None:
    content = (
        b"id,title\ng1,Acme burgers are cold\nb1,Acme \xff\xfe fries\ng2,Acme\x00 fries soggy\n"
    )
    code, out = import_file(tmp_path, "in.csv", content)
    assert code == 0, out
    assert "3 row(s): 2 accepted" in out and "line 3: not valid UTF-8" in out


def test_csv_huge_field_is_rejected_by_the_schema_not_the_reader(tmp_path: Path) -> None:
    content = (
        "id,title,text\ng1,Acme burgers are cold,\nb1,x," + "y" * 200_000 + "\ng2,Acme fries,\n"
    ).encode()
    code, out = import_file(tmp_path, "in.csv", content)
    assert code == 0, out
    assert "3 row(s): 2 accepted" in out and "line 3: text:" in out


def test_csv_field_over_the_line_cap_is_one_rejected_row(tmp_path: Path) -> None:
    content = (
        "id,title,text\ng1,Acme burgers are cold,\nb1,x," + "y" * 1_100_000 + "\ng2,Acme fries,\n"
    ).encode()
    code, out = import_file(tmp_path, "in.csv", content)
    assert code == 0, out
    assert "3 row(s): 2 accepted" in out and "line 3: not valid CSV" in out
    assert set(_stored(tmp_path)) == {"Acme burgers are cold", "Acme fries"}


def test_a_gbk_spreadsheet_is_told_how_to_save_it_as_utf8(tmp_path: Path) -> None:
    """A CSV saved by Excel on a Chinese Windows is GBK: each row said only "not valid UTF-8"."""
    content = "id,text\nz1,艾克米的外卖太慢了\nz2,艾克米客服不理人\n".encode("gbk")
    code, out = import_file(tmp_path, "in.csv", content)
    assert code == 1 and "2 row(s): 0 accepted" in out, out
    hint = [line for line in out.splitlines() if line.startswith("files are read as UTF-8")]
    assert len(hint) == 1 and '"CSV UTF-8"' in hint[0] and "iconv -f GB18030" in hint[0]
    code, out = import_file(tmp_path, "ok.csv", "id,text\nz3,艾克米不错\n".encode())
    assert code == 0 and "files are read as UTF-8" not in out


def test_a_csv_separated_by_semicolons_or_tabs_says_so(tmp_path: Path, capsys) -> None:
    for sep in (";", "\t"):
        content = f"id{sep}text{sep}published\ns1{sep}Acme is slow{sep}\n".encode()
        code, _ = import_file(tmp_path, "in.csv", content)
        err = capsys.readouterr().err
        assert (
            code == 2 and f"(separated by {sep!r}: the file must separate columns by commas)" in err
        )
    code, _ = import_file(tmp_path, "in.csv", b"id,txt\ns1,Acme\n")  # a wrong name: no such guess
    err = capsys.readouterr().err
    assert code == 2 and "txt" in err and "separated by" not in err
