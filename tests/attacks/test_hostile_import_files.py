"""`bot.py import` of files made to hurt, beyond tests/sources/test_import_hostile.py: a CSV
header of unknown columns is refused once, by name, not row by row."""

from __future__ import annotations

from pathlib import Path

from tests.cli_fixture import Cli
from tests.conftest import write_base_config


def test_a_csv_header_with_100000_unknown_columns_is_one_clear_error(
    tmp_path: Path, cli: Cli
) -> None:
    header = ",".join(["text", *(f"c{i}" for i in range(100_000))])
    row = ",".join(["Acme burgers are cold", *("x" for _ in range(100_000))])
    src = tmp_path / "wide.csv"
    src.write_text(f"{header}\r\n{row}\r\n", encoding="utf-8")
    run = cli("--config", str(write_base_config(tmp_path)), "import", str(src), "--no-progress")
    # Was exit 1 and "rejected by reason: c0 ×1" with a 300-character list of c0, c1, ...
    assert run.returncode == 2
    [error] = [line for line in run.stderr.splitlines() if line.startswith("error:")]
    assert "column(s) Buzzwatch does not read: c0, c1" in error and "(100000 in all)" in error
    assert "it reads " in error and "text" in error and len(error) < 400


def test_one_misspelt_csv_column_names_it_and_what_is_read(tmp_path: Path, cli: Cli) -> None:
    src = tmp_path / "rows.csv"
    src.write_text("titel,text\r\nx,Acme fries are soggy\r\n", encoding="utf-8")
    run = cli("--config", str(write_base_config(tmp_path)), "import", str(src), "--no-progress")
    assert run.returncode == 2
    assert "does not read: titel; it reads author, " in run.stderr


def test_export_columns_and_a_blank_trailing_column_still_import(tmp_path: Path, cli: Cli) -> None:
    src = tmp_path / "rows.csv"
    src.write_text(
        "id,when,source,brands,sentiment,title,followers,\r\n"
        "r1,2026-11-27T10:00:00+00:00,feed,Acme,0.1,Acme fries are soggy,12,\r\n",
        encoding="utf-8",
    )
    run = cli("--config", str(write_base_config(tmp_path)), "import", str(src), "--no-progress")
    assert run.returncode == 0, run.stderr
    assert "1 accepted" in run.stdout


def test_a_number_of_5000_digits_is_rejected_in_words_for_the_user(
    tmp_path: Path, cli: Cli
) -> None:
    src = tmp_path / "rows.jsonl"
    src.write_text(
        '{"title": "Acme big", "metrics": {"followers": ' + "9" * 5000 + "}}\n"
        '{"title": "Acme fries are soggy"}\n',
        encoding="utf-8",
    )
    run = cli("--config", str(write_base_config(tmp_path)), "import", str(src), "--no-progress")
    assert run.returncode == 0 and "1 accepted" in run.stdout
    assert "line 1: not valid JSON: a number over 4,300 digits long" in run.stdout
    assert "sys.set_int_max_str_digits" not in run.stdout  # was Python's own advice
