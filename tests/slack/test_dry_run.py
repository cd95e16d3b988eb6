"""`python bot.py --once --dry-run` with a Slack destination: exact, valid payloads, no token."""

from __future__ import annotations

import io
import json
from pathlib import Path

import yaml

import app.cli as cli
from core.config import REPO_ROOT
from tests.slack.helpers import live_sequences
from tests.standin.slack import CHANNEL, TOKEN, block_problems


def test_dry_run_prints_valid_block_kit_for_the_sample_feeds(tmp_path: Path):
    config = yaml.safe_load((REPO_ROOT / "examples" / "config.yaml").read_text(encoding="utf-8"))
    config["data_dir"] = str(tmp_path / "data")
    for source in config["sources"]:
        if "path" in source:
            source["path"] = str(REPO_ROOT / source["path"])
    config["destinations"]["team"] = {"type": "slack", "channel": CHANNEL}
    for route in config["routes"]:
        route["to"] = ["team"]
    path = tmp_path / "buzzwatch.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")

    out = io.StringIO()
    assert cli.main(["--config", str(path), "--once", "--dry-run", "-q"], out=out) == 0
    lines = [json.loads(line) for line in out.getvalue().splitlines() if line.startswith("{")]
    alerts = [x for x in lines if x["platform"] == "slack"]
    assert alerts, out.getvalue()
    for line in alerts:
        assert line["destination"] == "team"
        payload = line["payload"]
        assert payload["channel"] == CHANNEL and payload["text"]
        assert payload["link_names"] is False and payload["unfurl_links"] is False
        assert block_problems(payload["blocks"]) == []
        assert live_sequences(payload) == []
    assert any("buzz_ack" in json.dumps(x["payload"]) for x in alerts)
    assert not (tmp_path / "data").exists() or not any((tmp_path / "data").rglob("*.json"))


def test_manifest_matches_the_default_commands_and_needs():
    from core.config import SlackCommandNames

    manifest = yaml.safe_load((REPO_ROOT / "listeners" / "slack" / "manifest.yaml").read_text())
    commands = {c["command"] for c in manifest["features"]["slash_commands"]}
    assert commands == set(SlackCommandNames().model_dump().values())
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    assert {"chat:write", "commands", "users:read", "files:write"} <= scopes
    settings = manifest["settings"]
    assert settings["socket_mode_enabled"] is True and settings["interactivity"]["is_enabled"]


def test_once_with_only_the_bot_token_posts_the_cycle_and_exits(
    tmp_path: Path, slack_api, monkeypatch
):
    config = yaml.safe_load((REPO_ROOT / "examples" / "config.yaml").read_text(encoding="utf-8"))
    config["data_dir"] = str(tmp_path / "data")
    for source in config["sources"]:
        source["path"] = str(REPO_ROOT / source["path"])
    config["destinations"] = {"team": {"type": "slack", "channel": CHANNEL}}
    for route in config["routes"]:
        route["to"] = ["team"]
    path = tmp_path / "buzzwatch.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    monkeypatch.setenv("SLACK_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("SLACK_API_URL", slack_api.api_url)  # no SLACK_APP_TOKEN at all
    assert cli.main(["--config", str(path), "--once", "-q"], out=io.StringIO()) == 0
    posts = slack_api.calls("chat.postMessage")
    assert len(posts) == 7
    assert all(block_problems(c.body["blocks"]) == [] for c in posts)
