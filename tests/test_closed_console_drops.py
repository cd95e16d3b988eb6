"""`--once | head`: once the console's output is closed, its messages are dropped, said once
(README), not kept as dead letters with an ERROR each; `status` says when it lists only some
dead letters."""

from __future__ import annotations

import os
from pathlib import Path

from core.domain.models import OutboxItem, OutboxStatus
from storage.factory import open_repository
from tests.cli_fixture import Cli
from tests.test_once_and_shutdown import COMPLAINT, closed_pipe, feed_file, start_bot, write_config


def test_console_messages_into_a_closed_pipe_are_dropped_not_dead_letters(tmp_path: Path) -> None:
    items = [
        {**COMPLAINT, "link": f"https://weibo.com/1/{i}", "guid": f"g{i}", "title": f"{t} {i}"}
        for i, t in enumerate(["艾克米 食物中毒", "Acme refund please", "Acme is awful"])
    ]
    config = write_config(
        tmp_path, sources=[{"name": "w", "type": "rss", "path": feed_file(tmp_path, items)}]
    )
    out = closed_pipe()
    try:
        proc = start_bot(config, "--once", stdout=out)
    finally:
        os.close(out)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert err.count("console messages are dropped from now on") == 1, err
    assert "ERROR" not in err and "gave up" not in err, err
    repo = open_repository("sqlite", tmp_path / "data", read_only=True)
    try:
        assert repo.dead_letters() == [] and repo.pending_outbox() == []
    finally:
        repo.close()


def test_status_says_how_many_dead_letters_it_does_not_list(tmp_path: Path, cli: Cli) -> None:
    config = write_config(tmp_path)
    repo = open_repository("sqlite", tmp_path / "data")
    try:
        dead = [
            OutboxItem(
                id="", destination="chat", action="post", message={"kind": "alert"}, created_at=""
            )
            for _ in range(6)
        ]
        repo.add_outbox(dead)
        for n, item in enumerate(dead):
            item.status = OutboxStatus.DEAD.value
            item.last_error = f"refused {n}"
            repo.save_outbox(item)
    finally:
        repo.close()
    done = cli("--config", str(config), "command", "status")
    assert done.returncode == 0, done.stderr
    assert "0 pending, 6 dead letter(s)" in done.stdout
    assert done.stdout.count("  dead: chat") == 5
    assert "refused 0" not in done.stdout and "refused 5" in done.stdout
    assert "+1 more" in done.stdout, done.stdout
