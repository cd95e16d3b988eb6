"""`python bot.py --once --dry-run` with a DingTalk destination: exact bodies, no secret needed."""

from __future__ import annotations

import io
import json
from pathlib import Path

import yaml

import app.cli as cli
from core.config import REPO_ROOT
from tests.standin.dingtalk import shape_problem


def _config(tmp_path: Path, **dingtalk) -> Path:
    config = yaml.safe_load((REPO_ROOT / "examples" / "dingtalk.yaml").read_text(encoding="utf-8"))
    config["data_dir"] = str(tmp_path / "data")
    for source in config["sources"]:
        source["path"] = str(REPO_ROOT / source["path"])
    config["dingtalk"].update(dingtalk)
    path = tmp_path / "buzzwatch.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return path


def test_dry_run_prints_exact_bodies_without_secrets(tmp_path: Path):
    out = io.StringIO()
    assert cli.main(["--config", str(_config(tmp_path)), "--once", "--dry-run", "-q"], out=out) == 0
    lines = [json.loads(line) for line in out.getvalue().splitlines() if line.startswith("{")]
    assert lines, out.getvalue()
    for line in lines:
        assert set(line) == {"platform", "destination", "payload"}
        assert line["platform"] == "dingtalk" and line["destination"] == "pr_group"
        payload = line["payload"]
        assert shape_problem(payload) == ""
        assert len(json.dumps(payload, ensure_ascii=False).encode()) < 20_000
        assert "DRY-RUN" not in json.dumps(payload)  # the URL (and its token) is never printed
    assert any("食物中毒" in line["payload"]["markdown"]["text"] for line in lines)
    assert not (tmp_path / "data").exists() or not any((tmp_path / "data").rglob("*.json"))


def test_dry_run_with_ack_links_needs_no_ack_secret(tmp_path: Path):
    path = _config(tmp_path, public_base_url="https://buzz.example.com")
    out = io.StringIO()
    assert cli.main(["--config", str(path), "--once", "--dry-run", "-q"], out=out) == 0
    assert "https://buzz.example.com/dingtalk/ack/ack.A" in out.getvalue()


def test_a_real_run_names_the_missing_variable(tmp_path: Path, capsys):
    assert cli.main(["--config", str(_config(tmp_path)), "--once", "-q"]) == 2
    err = capsys.readouterr().err
    assert "destinations.pr_group.webhook_env" in err and "DINGTALK_WEBHOOK" in err


def test_a_webhook_that_is_not_a_url_is_refused(tmp_path: Path, capsys, monkeypatch):
    monkeypatch.setenv("DINGTALK_WEBHOOK", "tok123")
    monkeypatch.setenv("DINGTALK_SECRET", "SECx")
    assert cli.main(["--config", str(_config(tmp_path)), "--once", "-q"]) == 2
    assert "https:// webhook URL" in capsys.readouterr().err
