"""Clear words for input that is not what a command takes (findings item 13): import given a
directory, migrate with no TinyDB store to move, migrate's --to in the command list."""

from __future__ import annotations

import re
from pathlib import Path

from tests.cli_fixture import Cli
from tests.test_once_and_shutdown import write_config


def test_import_of_a_directory_says_it_is_one(tmp_path: Path, cli: Cli) -> None:
    config = write_config(tmp_path)
    folder = tmp_path / "exports"
    folder.mkdir()
    done = cli("--config", str(config), "import", str(folder))
    assert done.returncode == 2
    assert f"error: {folder}: a directory, not a file" in done.stderr
    missing = cli("--config", str(config), "import", str(tmp_path / "nope.jsonl"))
    assert missing.returncode == 2 and "nope.jsonl: no such file" in missing.stderr


def test_migrate_without_a_tinydb_store_says_so_without_a_progress_bar(
    tmp_path: Path, cli: Cli
) -> None:
    config = write_config(tmp_path)
    done = cli("--config", str(config), "migrate")
    assert done.returncode != 0
    assert "holds no TinyDB store" in done.stderr
    # A new user's first `migrate` (the default store is SQLite) was told only what is
    # missing, not that nothing needs moving, nor what `--to postgres` is for.
    assert "nothing to migrate" in done.stderr and "migrate --to postgres" in done.stderr
    assert done.stderr.count("error:") == 1 and "Traceback" not in done.stderr
    assert "records" not in done.stderr and "it/s" not in done.stderr, done.stderr


def test_the_command_list_names_migrate_to(cli: Cli) -> None:
    done = cli("--help")
    assert done.returncode == 0
    listed = " ".join(done.stdout.split())  # argparse wraps the help text
    assert "--to postgres|sqlite" in listed


def test_an_import_log_line_is_not_written_onto_the_progress_bar(tmp_path: Path, cli: Cli) -> None:
    # A new user's `import in.jsonl` printed
    # "in.jsonl:   0%|          | 0.00/305 [00:00<?, ?B/s]2026-... INFO buzzwatch.pipeline: ...".
    config = write_config(tmp_path)
    rows = tmp_path / "in.jsonl"
    rows.write_text('{"text": "Acme refund still not processed"}\n', encoding="utf-8")
    done = cli("--config", str(config), "import", str(rows))
    assert done.returncode == 0, done.stderr
    pieces = [p for line in done.stderr.split("\n") for p in line.split("\r")]
    logged = [p for p in pieces if "buzzwatch.pipeline" in p]
    assert logged, done.stderr
    assert all(re.match(r"\d{4}-\d\d-\d\d ", p) for p in logged), logged
    assert any("in.jsonl: 100%" in p for p in pieces), done.stderr
