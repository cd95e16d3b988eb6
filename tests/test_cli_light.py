"""Queries from the command line build only what a query needs: `python bot.py mentions ...`
and read-only `command ...` open the repository and the command service, and import no chat
SDK, source builder, analyser or HTTP client (issue 15: those took ~1 s before any query)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from app.queries import QueryApp
from core.commands.context import Actor
from core.domain.models import Mention
from tests.conftest import ROOT, clean_env, make_config

# What only polling, alerting and the chat platforms need.
NOT_FOR_QUERIES = (
    "app.buzzwatch",
    "app.runloop",
    "sources.build",
    "sources.http",
    "rules.analyze",
    "core.intake.pipeline",
    "core.delivery.worker",
    "listeners.slack",
    "listeners.dingtalk",
    "slack_bolt",
    "slack_sdk",
    "dingtalk_stream",
    "aiohttp",
    "httpx",
    "apscheduler",
    "numpy",
)


def imported_modules(cwd: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """A real `python -X importtime bot.py ...`: its result and every module it imported."""
    env = clean_env()
    run = subprocess.run(
        [sys.executable, "-X", "importtime", str(ROOT / "bot.py"), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    modules = {
        line.rsplit("|", 1)[1].strip()
        for line in run.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }
    return run, modules


@pytest.fixture(scope="module")
def polled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder where the bundled config has polled its sample feeds once (alerts stored)."""
    folder = tmp_path_factory.mktemp("light")
    (folder / "examples").symlink_to(ROOT / "examples", target_is_directory=True)
    run, _ = imported_modules(folder, "--once", "-q")
    assert run.returncode == 0, run.stderr
    return folder


@pytest.mark.parametrize(
    "args",
    [
        ("mentions", "艾克米", "since:30d"),
        ("command", "status"),
        ("command", "sources"),
        ("command", "stats"),
    ],
)
def test_read_only_commands_import_only_what_a_query_needs(
    polled: Path, args: tuple[str, ...]
) -> None:
    run, modules = imported_modules(polled, *args, "-q")
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() and "Traceback" not in run.stderr
    loaded = sorted(
        m for m in modules if any(m == n or m.startswith(n + ".") for n in NOT_FOR_QUERIES)
    )
    assert loaded == [], f"`{' '.join(args)}` imported {loaded}"
    assert "core.commands.service" in modules and "storage.sqlite_repo" in modules


def test_a_command_that_changes_alerts_still_builds_the_whole_bot(polled: Path) -> None:
    run, modules = imported_modules(polled, "command", "ack", "A1", "-q")
    assert run.returncode == 0, run.stderr
    assert "A1 acked" in run.stdout
    assert {"app.buzzwatch", "core.delivery.worker", "listeners.slack.app"} <= modules


def test_a_query_answers_as_the_whole_bot_would(tmp_path: Path) -> None:
    """The same reply from QueryApp and from a Buzzwatch over the same store."""
    from app.buzzwatch import Buzzwatch

    config = make_config(tmp_path)
    bot = Buzzwatch(config)
    bot.pipeline.process(
        "weibo",
        [
            Mention(id=f"m{i}", source="weibo", url="", title="", text=text)
            for i, text in enumerate(["艾克米汉堡太难吃了，差评", "Acme burgers are great"])
        ],
    )
    lines = ["mentions 艾克米", "mentions Acme since:1d", "status", "status all", "sources"]
    whole = [bot.run_command(line).text for line in lines]
    bot.close()
    query = QueryApp(config)
    try:
        assert [query.run_command(line).text for line in lines] == whole
    finally:
        query.close()


def test_the_query_apps_permission_is_the_chat_platforms(tmp_path: Path) -> None:
    """Built when first asked (so a query never imports the chat SDKs), and the same rule."""
    config = make_config(
        tmp_path,
        slack={"permissions": {"default": {"users": ["U_OK"]}}},
        dingtalk={"permissions": {"default": {"users": ["D_OK"]}}},
    )
    from app.buzzwatch import Buzzwatch

    bot = Buzzwatch(config)
    result = bot.pipeline.process(
        "weibo",
        [Mention(id="m1", source="weibo", url="", title="", text="艾克米汉堡太难吃了，差评")],
    )
    bot_alert = result.alerts[0]
    bot.close()
    query = QueryApp(config)
    try:
        check = query.commands.permission
        assert "not on the list" in (check(Actor("U_NO", "eve", "slack"), bot_alert) or "")
        assert check(Actor("U_OK", "olga", "slack"), bot_alert) is None
        assert "not on the list" in (check(Actor("D_NO", "dan", "dingtalk"), bot_alert) or "")
        assert check(Actor("local", "console", "console"), bot_alert) is None
    finally:
        query.close()
