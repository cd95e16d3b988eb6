"""`python bot.py ...` as a new user runs it: from a fresh copy, with no configuration. The
command line runs in-process (tests/cli_fixture.py); one test starts a real `python bot.py`
from another folder."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli_fixture import Cli
from tests.conftest import ROOT, clean_env


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """A folder to run in, where `examples/` is the bundled one (as in a fresh copy)."""
    (tmp_path / "examples").symlink_to(ROOT / "examples", target_is_directory=True)
    return tmp_path


def test_zero_config_once_alerts_the_samples_and_not_the_noise(cli: Cli, tmp_path: Path) -> None:
    run = cli("--once")
    assert run.returncode == 0, run.stderr
    out = run.stdout
    headers = [line for line in out.splitlines() if line[:1] in "🔴🟠🟡⚪"]
    assert any("negative" in h for h in headers)
    assert any("question" in h for h in headers)
    assert any("KOL" in h for h in headers)
    for noise in ("Acmeville", "Acme Corp stock", "天气真不错", "ten new openings"):
        assert noise not in out
    assert "examples/config.yaml" in run.stderr and "cycle done" in run.stderr
    assert (tmp_path / "data" / "buzzwatch.sqlite3").exists()  # the default store

    again = cli("--once")
    assert again.returncode == 0
    assert not [line for line in again.stdout.splitlines() if line[:1] in "🔴🟠🟡⚪"]

    found = cli("mentions", "艾克米", "since:30d")
    assert found.returncode == 0 and "mention(s) of 艾克米" in found.stdout


def test_dry_run_prints_exact_payloads_and_stores_nothing(cli: Cli, tmp_path: Path) -> None:
    run = cli("--once", "--dry-run")
    assert run.returncode == 0, run.stderr
    lines = [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]
    assert lines and all(set(line) == {"platform", "destination", "payload"} for line in lines)
    assert {line["platform"] for line in lines} == {"console"}
    assert not (tmp_path / "data").exists()


def test_check_config_and_a_broken_config(cli: Cli, tmp_path: Path) -> None:
    ok = cli("check-config")
    assert ok.returncode == 0 and "OK" in ok.stdout and "needs-a-person" in ok.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text("brands: []\n", encoding="utf-8")
    run = cli("--config", str(bad), "--once")
    assert run.returncode == 2
    assert f"{bad}: invalid configuration" in run.stderr and "brands" in run.stderr


def test_classify_keeps_order_and_reports_bad_lines(cli: Cli) -> None:
    lines = [
        "艾克米的汉堡吃完拉肚子，怀疑食物中毒",
        json.dumps({"text": "Does anyone know when Acme opens?", "author": "美食家小王"}),
        "",
        '{"text": 5}',
        "Acme fries are amazing, love them",
    ]
    run = cli("classify", "--brand", "acme", stdin="\n".join(lines) + "\n")
    assert run.returncode == 0, run.stderr
    results = [json.loads(line) for line in run.stdout.splitlines()]
    assert [r["line"] for r in results] == [1, 2, 3, 4, 5]
    first, second, empty, bad, praise = results
    assert (
        {"negative", "critical"} <= set(first["flags"])
        and first["aspects"] == ["food_safety"]
        and first["lang"] == "zh"
    )
    assert {"question", "kol"} <= set(second["flags"]) and second["lang"] == "en"
    assert "error" in empty and "error" in bad
    assert praise["sentiment"] > 0 and "negative" not in praise["flags"]
    assert all(-1 <= r["sentiment"] <= 1 for r in (first, second, praise))


def test_bundled_config_works_from_another_folder(tmp_path: Path) -> None:
    """A real process: `python /path/to/bot.py` finds its own modules and the bundled config
    from any folder, and keeps its data under the folder it runs in."""
    run = subprocess.run(
        [sys.executable, str(ROOT / "bot.py"), "--once"],
        cwd=tmp_path,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert (
        "failed" not in run.stderr.split("cycle done")[-1].split(",")[1]
        or " 0 failed" in run.stderr
    )
    assert (tmp_path / "data" / "buzzwatch.sqlite3").exists()  # data under the folder it runs in


def test_global_options_work_after_the_command_and_errors_are_short(
    cli: Cli, workdir: Path
) -> None:
    ok = cli("check-config", "-q", "--config", "examples/config.yaml")
    assert ok.returncode == 0 and "OK" in ok.stdout
    missing = cli("classify", str(workdir / "nope.txt"))
    assert (
        missing.returncode == 2
        and "No such file" in missing.stderr
        and "Traceback" not in missing.stderr
    )


def test_words_with_apostrophes_and_options_after_the_words(cli: Cli, workdir: Path) -> None:
    run = cli("command", "mentions Acme's burger")
    assert run.returncode in (0, 1) and "Traceback" not in run.stderr
    dry = cli("mentions", "艾克米", "--config", "examples/config.yaml", "-q")
    assert dry.returncode == 0 and "--config" not in dry.stdout and "config:" not in dry.stderr


def test_commands_work_without_chat_secrets_and_keep_the_messages_queued(
    cli: Cli, workdir: Path
) -> None:
    """`command`, `import`... queue work for the bot: a Slack token that is only set where
    the bot runs must not stop them, and nothing they queue for Slack is lost."""
    backfill = workdir / "complaints.jsonl"
    backfill.write_text(
        json.dumps(
            {
                "id": "c1",
                "url": "https://example.com/c1",
                "title": "Acme staff were rude and the food was terrible",
                "text": "Acme staff were rude and the food was terrible. Awful, never again.",
            }
        )
        + "\n",
        encoding="utf-8",
    )
    slack = ["--config", "examples/slack.yaml"]
    imported = cli(*slack, "import", str(backfill), "--alert")
    assert imported.returncode == 0, imported.stderr
    assert "stay queued" in imported.stderr and "SLACK_BOT_TOKEN is not set" in imported.stderr
    acked = cli(*slack, "command", "ack A1")
    assert acked.returncode == 0, acked.stderr
    assert "A1 acked" in acked.stdout and "Traceback" not in acked.stderr
    status = cli(*slack, "command", "status")
    assert "0 dead letter" in status.stdout
    assert "pending" in status.stdout and "0 pending" not in status.stdout
    # The bot itself still refuses to start without its token.
    run = cli(*slack, "--once")
    assert run.returncode == 2 and "SLACK_BOT_TOKEN is not set" in run.stderr


def test_printed_mentions_carry_no_terminal_escapes() -> None:
    import io
    from datetime import UTC, datetime

    from app.replies import print_reply
    from core.commands.context import Reply
    from core.domain.models import Mention

    evil = "\x1b]0;PWNED\x07\x1b[2J\x1b[31m\u202e"
    mention = Mention(
        id="e1",
        source="feed",
        url=f"https://e.example/a{evil}b",
        title=f"Acme {evil}title",
        text="",
        author=f"eve{evil}",
        fetched_at=datetime(2026, 11, 28, tzinfo=UTC),
    )
    out = io.StringIO()
    print_reply(Reply(f"1 mention(s) of {evil}Acme", mentions=[mention.to_dict()]), out)
    printed = out.getvalue()
    assert "Acme" in printed and "title" in printed and "eve" in printed
    assert not any(ch in printed for ch in "\x1b\x07\u202e")
