"""What the README tells a new user holds: each test reads the README's words and checks the
behaviour they describe."""

from __future__ import annotations

import io
import json
from pathlib import Path

import httpx
import pytest

from app.buzzwatch import Buzzwatch
from core.config import REPO_ROOT, InboundConfig
from listeners.push_endpoint import start_inbound
from tests.conftest import make_config

README = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
TOKEN = "readme-token"


def section(start: str, end: str) -> str:
    """The README's text from `start` up to `end` (both must be there)."""
    begin = README.index(start)
    return README[begin : README.index(end, begin)]


def same_lines(printed: str, shown: str) -> bool:
    """The same lines, alert ids aside: the sample feeds are polled side by side, so which
    alert is A2 and in which order same-second alerts are listed depend on which feed answers
    first."""
    import re

    def lines(text: str) -> list[str]:
        return sorted(re.sub(r"\bA\d+\b", "A?", line) for line in text.strip().splitlines())

    return lines(printed) == lines(shown)


@pytest.fixture
def inbound_url(tmp_path: Path, clock, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("BUZZWATCH_INBOUND_TOKEN", TOKEN)
    app = Buzzwatch(make_config(tmp_path, inbound={"port": 0}), clock=clock, stdout=io.StringIO())
    stop = start_inbound(app)
    assert stop is not None
    host, port = stop.__self__.address
    yield f"http://{host}:{port}/mentions"
    stop()
    app.close()


def test_inbound_section_names_both_token_headers_and_the_per_request_cap(inbound_url) -> None:
    text = section("**Inbound endpoint.**", "**Backfill.**")
    cap = InboundConfig().max_mentions
    assert "Authorization: Bearer" in text and "X-Buzzwatch-Token" in text
    assert f"max_mentions: {cap}" in text and "per request" in text
    one = {"mentions": [{"id": "t1", "title": "Acme fries are great"}]}
    for header in ({"Authorization": f"Bearer {TOKEN}"}, {"X-Buzzwatch-Token": TOKEN}):
        r = httpx.post(inbound_url, json=one, headers=header, timeout=5)
        assert r.status_code == 200, r.text
    many = {"mentions": [{"id": f"m{i}", "title": "Acme"} for i in range(cap + 1)]}
    r = httpx.post(
        inbound_url,
        content=json.dumps(many),
        timeout=5,
        headers={"X-Buzzwatch-Token": TOKEN, "Content-Type": "application/json"},
    )
    assert r.status_code == 400 and f"at most {cap} mentions per request" in r.text


def test_each_platforms_permission_list_binds_that_platform_only(tmp_path: Path, clock) -> None:
    from core.alerting.lifecycle import new_alert, outbox_items
    from core.commands.context import Actor
    from core.domain.models import Mention
    from listeners import build_permission

    commands_section = section("## Commands people type in chat", "## Configuration")
    assert "per chat" in commands_section and "not bound by either" in commands_section
    assert "dingtalk.permissions" in commands_section and "slack.permissions" in commands_section
    dingtalk = section("## DingTalk", "## Alert workflow")
    assert "Without `dingtalk.permissions`" in dingtalk and "binds DingTalk only" in dingtalk

    # What those words describe: each list refuses a stranger on its own platform only, and
    # the console is bound by neither.
    config = make_config(
        tmp_path,
        slack={"permissions": {"default": {"users": ["U_OK"]}}},
        dingtalk={"permissions": {"default": {"users": ["staff_ok"]}}},
    )
    app = Buzzwatch(config, clock=clock, stdout=io.StringIO())
    app.commands.permission = build_permission(config)
    mention = Mention(id="m1", source="s", url="", title="Acme", text="", brands=["Acme"])
    ids = ("A1", "A2", "A3", "A4", "A5")
    alerts = [new_alert(a, mention, "r", ["console"], clock.now()) for a in ids]
    app.repo.save_cycle(
        [], [], alerts, [o for a in alerts for o in outbox_items(a, "post", clock.now())]
    )
    assert not app.commands.run("ack A1", Actor("U_NO", "stranger", "slack")).ok
    assert not app.commands.run("ack A2", Actor("staff_no", "李四", "dingtalk")).ok
    assert app.commands.run("ack A3", Actor("U_OK", "ann", "slack")).ok
    assert app.commands.run("ack A4", Actor("staff_ok", "张三", "dingtalk")).ok
    assert app.commands.run("ack A5", Actor("local", "me", "console")).ok
    app.close()


def test_the_digest_sample_is_what_the_bundled_samples_print_at_its_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import re
    import shutil
    from datetime import UTC, datetime, timedelta

    import app.buzzwatch
    import app.queries
    from app.cli import main
    from core.domain.clock import FakeClock

    # The README's sample digest says when it was printed (the sample feeds carry fixed dates).
    text = section("## Daily digest, storms, stats and export", "## Sources")
    shown = text[text.index("```text\n== Buzzwatch digest") + len("```text\n") :]
    shown = shown[: shown.index("```")]
    printed_at = re.search(r"printed at\s+(\d{4}-\d\d-\d\d \d\d:\d\d) UTC", text)
    assert printed_at, "the README says when its sample digest was printed"
    when = datetime.strptime(printed_at[1], "%Y-%m-%d %H:%M").replace(tzinfo=UTC)

    shutil.copytree(REPO_ROOT / "examples", tmp_path / "examples")
    monkeypatch.chdir(tmp_path)  # a fresh checkout's folder: its own ./data
    # `--once` a few seconds before the digest, as when the two commands run one after another.
    monkeypatch.setattr(
        app.buzzwatch, "SystemClock", lambda: FakeClock(when - timedelta(seconds=5))
    )
    assert main(["--once", "-q"], io.StringIO()) == 0
    monkeypatch.setattr(app.buzzwatch, "SystemClock", lambda: FakeClock(when))
    monkeypatch.setattr(app.queries, "SystemClock", lambda: FakeClock(when))  # (`command stats`)
    out = io.StringIO()
    assert main(["digest", "--dry-run", "-q", "--chart", str(tmp_path / "c.png")], out) == 0
    console = next(
        json.loads(line)["payload"]["text"]
        for line in out.getvalue().splitlines()
        if line.startswith("{") and json.loads(line)["platform"] == "console"
    )
    assert same_lines(console, shown)
    stats = io.StringIO()
    assert main(["command", "stats", "-q"], stats) == 0
    shown_stats = text[text.index("```text\nStats ·") + len("```text\n") :]
    assert same_lines(stats.getvalue(), shown_stats[: shown_stats.index("```")])
