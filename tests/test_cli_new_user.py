"""The command line as a new user meets it: a chat command typed as the program's command,
and check-config saying when the daily digest goes out."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.cli_fixture import Cli
from tests.conftest import BASE_CONFIG


@pytest.mark.parametrize(
    ("argv", "suggested"),
    [
        (["status"], "python bot.py command status"),
        (["-q", "ack", "A3"], "python bot.py command ack A3"),
        (["--config", "x.yaml", "assign", "A1", "bob smith"], "command assign A1 'bob smith'"),
        (["状态", "全部"], "python bot.py command 状态 全部"),
        (["sources", "--dry-run"], "python bot.py command sources --dry-run"),
    ],
)
def test_a_chat_command_as_the_programs_command_says_how_to_run_it(
    cli: Cli, argv: list[str], suggested: str
) -> None:
    run = cli(*argv)
    assert run.returncode == 2
    assert run.stderr.startswith("bot.py: error: `") and "is a chat command" in run.stderr
    assert suggested in run.stderr and "invalid choice" not in run.stderr
    assert not Path(cli.cwd, "data").exists()  # nothing was opened


def test_a_word_that_is_no_command_still_gets_argparse_s_answer(cli: Cli) -> None:
    run = cli("runn")
    assert run.returncode == 2 and "invalid choice: 'runn'" in run.stderr


@pytest.mark.parametrize(
    ("digest", "line"),
    [
        (
            {"time": "09:00"},
            "digest: daily at 09:00 (Asia/Shanghai), all brands in one, to console; a start later than 6h after it waits for the next day",
        ),
        (
            {"time": "18:30", "timezone": "UTC", "per_brand": True, "grace": "2h"},
            "digest: daily at 18:30 (UTC), one per brand, to console; a start later than 2h after it waits",
        ),
        ({"enabled": False}, "digest: off"),
    ],
)
def test_check_config_says_when_the_digest_goes_out(
    cli: Cli, tmp_path: Path, digest: dict[str, object], line: str
) -> None:
    config = tmp_path / "config.yaml"
    data = dict(BASE_CONFIG, data_dir=str(tmp_path / "data"), digest=digest)
    config.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    run = cli("--config", str(config), "check-config")
    assert run.returncode == 0
    assert f"  {line}" in run.stdout


@pytest.mark.parametrize(
    ("extra", "warned"),
    [
        ({}, ["no source to poll", "no destinations"]),
        ({"inbound": {"port": 8788}, "destinations": {"c": {"type": "console"}}}, ["no routes"]),
        (
            {
                "sources": [{"name": "s", "type": "rss", "path": "f.xml"}],
                "destinations": {"c": {"type": "console"}},
                "routes": [{"to": ["c"]}],
            },
            [],
        ),
    ],
)
def test_check_config_warns_about_a_config_that_would_do_nothing(
    cli: Cli, tmp_path: Path, extra: dict[str, object], warned: list[str]
) -> None:
    config = tmp_path / "config.yaml"
    data = {"brands": [{"name": "X", "keywords": ["x"]}], **extra}
    config.write_text(yaml.safe_dump(data), encoding="utf-8")
    run = cli("--config", str(config), "check-config")
    assert run.returncode == 0
    said = [line for line in run.stdout.splitlines() if "warning: no " in line]
    assert len(said) == len(warned)
    assert all(w in line for w, line in zip(warned, said, strict=True))


@pytest.mark.parametrize(
    ("command", "said"), [("mentions", "since:24h"), ("command", "`command help` lists them")]
)
def test_the_help_of_mentions_and_command_says_what_goes_after_them(
    cli: Cli, command: str, said: str
) -> None:
    run = cli(command, "--help")
    assert run.returncode == 0
    assert said in " ".join(run.stdout.split())


def test_digest_next_to_a_running_bot_says_how_to_see_it(cli: Cli, tmp_path: Path) -> None:
    from storage.process_lock import ProcessLock

    config = tmp_path / "config.yaml"
    data = dict(BASE_CONFIG, data_dir=str(tmp_path / "data"))
    config.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    held = ProcessLock(tmp_path / "data")  # as the running bot holds it
    try:
        run = cli("--config", str(config), "-q", "digest")
    finally:
        held.release()
    assert run.returncode == 2 and "another Buzzwatch process" in run.stderr
    assert "type `digest` into its terminal or the chat" in run.stderr
    assert "`python bot.py digest --dry-run`" in run.stderr


def test_import_next_to_a_running_bot_says_to_stop_it_first(cli: Cli, tmp_path: Path) -> None:
    from storage.process_lock import ProcessLock

    config = tmp_path / "config.yaml"
    data = dict(BASE_CONFIG, data_dir=str(tmp_path / "data"))
    config.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    posts = tmp_path / "posts.jsonl"
    posts.write_text('{"id": "1", "text": "Acme is great"}\n', encoding="utf-8")
    held = ProcessLock(tmp_path / "data")  # as the running bot holds it
    try:
        run = cli("--config", str(config), "-q", "import", str(posts))
    finally:
        held.release()
    assert run.returncode == 2 and "another Buzzwatch process" in run.stderr
    assert "stop the bot (Ctrl-C), import, and start it again" in run.stderr


@pytest.mark.parametrize(
    "argv",
    [
        ["classify", "--brand", "nobody"],
        ["digest", "--brand", "nobody"],
        ["export", "--brand", "x"],
    ],
)
def test_an_unknown_brand_on_the_command_line_is_an_error_line(cli: Cli, argv: list[str]) -> None:
    run = cli("-q", *argv, stdin="acme\n")
    assert run.returncode == 2
    assert (
        run.stderr.startswith("error: unknown brand ")
        and "brands in the config: Acme" in run.stderr
    )


@pytest.mark.parametrize(
    ("words", "line"),
    [
        (["stats", "Acme", "--since", "30d"], "stats Acme since:30d"),
        (["统计", "--since=3d", "--brand", "Acme"], "统计 since:3d brand:Acme"),
        (["digest", "--since", "48h"], "digest since:48h"),
        (["mentions", "退款", "--limit", "5"], "mentions 退款 limit:5"),
        (["assign", "A1", "--since"], "assign A1 --since"),  # a person's name, as typed
    ],
)
def test_command_reads_dashed_filters_of_a_report_as_chat_filters(
    words: list[str], line: str
) -> None:
    import argparse
    import shlex

    from app.cli.command import command_text

    said = command_text(argparse.Namespace(command="command", words=words))
    assert shlex.split(said) == line.split()


def test_the_command_a_chat_command_hint_suggests_runs(cli: Cli, tmp_path: Path) -> None:
    """`bot.py stats Acme --since 30d` says to run `bot.py command stats Acme --since 30d`;
    that answered "Unknown brand '--since'"."""
    config = tmp_path / "config.yaml"
    data = dict(BASE_CONFIG, data_dir=str(tmp_path / "data"))
    config.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    hint = cli("--config", str(config), "stats", "Acme", "--since", "30d")
    assert "`python bot.py command stats Acme --since 30d`" in hint.stderr
    run = cli("--config", str(config), "-q", "command", "stats", "Acme", "--since", "30d")
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.startswith("Stats · Acme · ") and "Unknown brand" not in run.stdout


def test_once_and_status_in_quiet_hours_say_why_alerts_are_still_queued(
    cli: Cli, tmp_path: Path
) -> None:
    """A run in a destination's quiet hours sent only the critical alerts and said "still
    queued 2": now it says they are held, and until when. Quiet hours around now: any hour."""
    from datetime import UTC, datetime, timedelta

    now = datetime.now(UTC)
    start, end = (f"{now + timedelta(hours=h):%H:%M}" for h in (-2, 2))
    feed = Path(__file__).resolve().parent.parent / "examples" / "feeds" / "reddit_acme.atom"
    quiet = {"start": start, "end": end, "allow_severity": "critical"}
    data = dict(
        BASE_CONFIG,
        timezone="UTC",
        data_dir=str(tmp_path / "data"),
        sources=[{"name": "reddit", "type": "rss", "path": str(feed)}],
        destinations={"console": {"type": "console", "quiet_hours": quiet}},
    )
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    run = cli("--config", str(config), "--once")
    assert run.returncode == 0, run.stderr
    assert "Worst service" not in run.stdout  # held, not printed
    done = next(line for line in run.stderr.splitlines() if "cycle done" in line)
    assert f"still queued 2, 2 of them held by quiet hours: console until {end} UTC (" in done
    assert done.endswith("(they go out on the next run)")
    status = cli("--config", str(config), "-q", "command", "status")
    held = f"2 pending (2 held by quiet hours: console until {end} UTC), 0 dead letter(s)"
    assert f"delivery queue: {held}" in status.stdout


@pytest.mark.parametrize(
    ("allow", "said"), [("critical", "only critical alerts"), ("high", "only high and critical")]
)
def test_check_config_shows_a_destinations_quiet_hours(
    cli: Cli, tmp_path: Path, allow: str, said: str
) -> None:
    quiet = {"start": "22:00", "end": "09:00", "allow_severity": allow}
    data = dict(
        BASE_CONFIG,
        data_dir=str(tmp_path / "data"),
        destinations={
            "console": {"type": "console"},
            "team": {"type": "console", "quiet_hours": quiet},
        },
    )
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    run = cli("--config", str(config), "check-config")
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert "  destination console [console]" in lines
    team = next(line for line in lines if line.startswith("  destination team "))
    assert "quiet hours 22:00-09:00 (Asia/Shanghai)" in team and said in team
    assert team.endswith("the rest wait until 09:00")
