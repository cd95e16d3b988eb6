"""`digest` and `stats` chat commands; `bot.py digest --dry-run` and `bot.py export`."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml

import app.cli as cli
from core.alerting.lifecycle import AlertService
from core.commands.context import Actor
from core.commands.service import CommandService
from core.domain.clock import FakeClock
from tests.conftest import BASE_CONFIG, ROOT
from tests.digest.helpers import mention, setup, utc

ME = Actor(id="u1", name="amy", platform="console")


def test_digest_and_stats_commands(tmp_path) -> None:
    clock = FakeClock(utc(2026, 11, 28, 12, 0))
    config, repo = setup(
        tmp_path,
        clock,
        [mention("a", utc(2026, 11, 28, 6), -0.9), mention("b", utc(2026, 11, 20), 0.9)],
    )
    commands = CommandService(config, repo, AlertService(repo, clock), clock)
    reply = commands.run("digest acme", ME)
    assert reply.ok
    assert reply.text.startswith("Buzzwatch digest · Acme · last 24h\n")
    assert "Mentions: 1 ·" in reply.text
    reply = commands.run("日报 since:10d", ME)
    assert "Buzzwatch digest · all brands · last 10d" in reply.text
    assert "Mentions: 2 ·" in reply.text
    reply = commands.run("stats brand:Acme since:10d", ME)
    assert "By day: 11-20 1 · 11-28 1" in reply.text
    assert not commands.run("digest nosuch", ME).ok
    bad = commands.run("stats since:soon", ME)
    assert not bad.ok and "since:soon is not a duration" in bad.text
    assert "digest [brand]" in commands.run("help", ME).text
    repo.close()


def write_config(tmp_path: Path) -> Path:
    data = yaml.safe_load(yaml.safe_dump(BASE_CONFIG))
    data["data_dir"] = str(tmp_path / "data")
    path = tmp_path / "buzzwatch.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def store_recent(tmp_path: Path) -> None:
    """Mentions relative to the real clock: the CLI runs on it."""
    now = datetime.now(UTC).replace(microsecond=0)
    clock = FakeClock(now)
    _, repo = setup(
        tmp_path,
        clock,
        [
            mention("r1", now - timedelta(hours=2), -0.9, title='=HYPERLINK("http://x")'),
            mention("r2", now - timedelta(hours=1), 0.8, title='Good, "really" good'),
            mention("old", now - timedelta(days=10), 0.0),
            mention("beta", now - timedelta(hours=3), 0.0, brand="Beta"),
        ],
    )
    repo.close()


def test_digest_dry_run_prints_payloads_and_writes_the_chart(tmp_path, capsys) -> None:
    store_recent(tmp_path)
    chart = tmp_path / "chart.png"
    out = io.StringIO()
    code = cli.main(
        ["--config", str(write_config(tmp_path)), "digest", "--dry-run", "--chart", str(chart)], out
    )
    assert code == 0
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    by_platform = {line["platform"]: line for line in lines}
    console = by_platform["console"]["payload"]["text"]
    assert console.startswith("== Buzzwatch digest · all brands · last 24h ==")
    assert "Mentions: 3 ·" in console
    from listeners import NOTIFIERS

    for platform in ("slack", "dingtalk"):
        if platform in NOTIFIERS:  # rendered by that platform's own notifier
            assert by_platform[platform]["destination"] == f"preview-{platform}"
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"chart written to {chart}" in capsys.readouterr().err
    # A dry run stores nothing: no digest queued.
    assert not (tmp_path / "data" / "digests").exists()


def test_export_csv_and_jsonl(tmp_path) -> None:
    store_recent(tmp_path)
    config = str(write_config(tmp_path))
    target = tmp_path / "out.csv"
    code = cli.main(
        ["--config", config, "export", "--since", "7d", "--format", "csv", "-o", str(target)]
    )
    assert code == 0
    rows = list(csv.DictReader(target.open(encoding="utf-8", newline="")))
    assert [r["id"] for r in rows] == ["beta", "r1", "r2"]  # oldest first, not the 10-day-old one
    r1 = rows[1]
    assert r1["title"] == '\'=HYPERLINK("http://x")'  # a formula stays text in a spreadsheet
    assert r1["sentiment_label"] == "negative" and r1["brands"] == "Acme"
    assert float(r1["sentiment"]) < 0  # a negative score stays a number, not guarded text
    assert rows[2]["title"] == 'Good, "really" good'
    out = io.StringIO()
    code = cli.main(["--config", config, "export", "--since", "30d", "--brand", "acme"], out)
    assert code == 0
    docs = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [d["id"] for d in docs] == ["old", "r1", "r2"]
    assert not any(k.startswith("_") for d in docs for k in d)
    assert cli.main(["--config", config, "export", "--brand", "nosuch"], io.StringIO()) == 2


def test_start_up_does_not_import_matplotlib(tmp_path) -> None:
    # The whole bot built (every service, the digest's among them) and closed: importing
    # bot.py alone imports none of them.
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from app.buzzwatch import Buzzwatch\n"
        "from tests.conftest import make_config\n"
        f"Buzzwatch(make_config(Path({str(tmp_path)!r}))).close()\n"
        "assert 'matplotlib' not in sys.modules, 'matplotlib imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


def test_digest_counts_its_own_messages_and_sends(tmp_path) -> None:
    """One digest to two destinations is two messages; an item queued before is not counted."""
    from core.domain.models import OutboxItem, to_iso
    from storage.tinydb_repo import TinyDBRepository
    from tests.standin.chat import ChatServer

    store_recent(tmp_path)
    repo = TinyDBRepository(tmp_path / "data")
    note = {"kind": "text", "title": "", "text": "queued earlier"}
    repo.add_outbox([OutboxItem("", "console", "post", note, to_iso(datetime.now(UTC)) or "")])
    repo.close()
    with ChatServer() as chat:
        data = yaml.safe_load(write_config(tmp_path).read_text(encoding="utf-8"))
        data["destinations"]["chat"] = {"type": "webhook", "url": chat.url}
        data["fetch"] = {"allow_hosts": ["127.0.0.1"]}
        path = tmp_path / "buzzwatch.yaml"
        path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
        out = io.StringIO()
        assert cli.main(["--config", str(path), "digest"], out) == 0
    summary = out.getvalue().splitlines()[-1]
    assert summary == "digest queued: 2 message(s) (1 digest to 2 destinations): 2 sent"


def test_stats_and_digest_never_show_minus_zero(tmp_path) -> None:
    clock = FakeClock(utc(2026, 11, 28, 12, 0))
    config, repo = setup(
        tmp_path,
        clock,
        [
            mention("a", utc(2026, 11, 28, 6), -0.003, aspects=["price"], author="美食家小王"),
            mention("b", utc(2026, 11, 28, 7), 0.0, aspects=["price"], author="美食家小王"),
        ],
    )
    commands = CommandService(config, repo, AlertService(repo, clock), clock)
    stats = commands.run("stats", ME)
    assert "price 2 (0 neg, +0.00)" in stats.text
    digest = commands.run("digest", ME)
    assert digest.ok and "-0.00" not in stats.text + digest.text
    repo.close()
