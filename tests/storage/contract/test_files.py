"""The repository contract on disk and between processes: read-only opens write nothing,
one writer per data folder, concurrent writers and kill -9 lose nothing reported, derived
files stay under data_dir; for every backend (tests/storage/repository_contract.py)."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from core.alerting.lifecycle import outbox_items
from core.domain.models import Alert, OutboxStatus, Status
from core.domain.query import MentionQuery
from core.domain.repository import Repository
from storage.atomic_json import StorageError
from tests.storage.repository_contract import (
    NEG,
    NOW,
    POS,
    WRITER,
    Opener,
    ack,
    alerts_for,
    mention,
    reopen,
    snapshot,
    store_alerts,
)


def test_read_only_sees_its_own_changes_and_writes_nothing(
    repo: Repository, open_repo: Opener, data_dir: Path
) -> None:
    [alert] = store_alerts(repo, 1, with_outbox=True)
    repo.save_cycle([mention(1, "stored refund")], ["m1"], [], [])
    repo.set_state("k", 1)
    repo.close()
    before = snapshot(data_dir)

    dry = open_repo(read_only=True)
    assert dry.get_alert(alert.id) == alert
    dry.change_alert(alert.id, ack)
    [new] = alerts_for(dry, 1)
    dry.save_cycle([mention(2, "dry refund")], ["m2"], [new], outbox_items(new, "post", NOW))
    dry.set_state("k", 2)
    for item in dry.pending_outbox()[:1]:
        item.status = OutboxStatus.SENT.value
        dry.save_outbox(item)
    assert dry.get_alert(alert.id).status == Status.ACKED
    assert dry.get_state("k") == 2
    assert dry.unseen(["m2", "m3"]) == ["m3"]
    assert {d["id"] for d in dry.iter_mentions(None)} == {"m1", "m2"}
    page, total = dry.search_mentions(MentionQuery(words=["refund"]), NOW, NEG, POS)
    assert total == 2 and [d["id"] for d in page] == ["m1", "m2"]
    assert len(dry.pending_outbox()) == 1
    dry.close()

    assert snapshot(data_dir) == before
    repo = open_repo()
    assert repo.get_alert(alert.id).status == Status.OPEN
    assert repo.get_state("k") == 1 and repo.get_alert(new.id) is None
    assert repo.unseen(["m2"]) == ["m2"]


def test_read_only_on_an_empty_folder_creates_nothing(open_repo: Opener, data_dir: Path) -> None:
    dry = open_repo(read_only=True)
    assert dry.iter_mentions(None) == [] or list(dry.iter_mentions(None)) == []
    assert dry.search_mentions(MentionQuery(), NOW, NEG, POS) == ([], 0)
    store_alerts(dry, 1)
    assert dry.get_alert("A1") is not None
    dry.close()
    assert snapshot(data_dir) == {}


def test_read_only_works_next_to_a_writer(repo: Repository, open_repo: Opener) -> None:
    repo.save_cycle([mention(1)], ["m1"], store_alerts(repo, 1), [])
    reader = open_repo(read_only=True)
    assert [d["id"] for d in reader.iter_mentions(None)] == ["m1"]
    assert reader.get_alert("A1") is not None


def test_one_writer_per_data_folder(backend: str, repo: Repository, open_repo: Opener) -> None:
    if backend == "postgres":  # a server is shared by design: a second writer works alongside
        other = open_repo()
        store_alerts(repo, 1)
        assert other.get_alert("A1") is not None and other.next_alert_ids(1) == ["A2"]
        return
    with pytest.raises(StorageError, match="another Buzzwatch process"):
        open_repo()


def test_concurrent_writers_lose_nothing(repo: Repository) -> None:
    [shared] = store_alerts(repo, 1)
    errors: list[BaseException] = []

    def worker(w: int) -> None:
        try:
            for c in range(10):
                ms = [mention(1000 * w + 10 * c + i) for i in range(3)]
                alerts = alerts_for(repo, 2)
                repo.save_cycle(ms, [m.id for m in ms], alerts, [])
                repo.change_alert(alerts[0].id, ack)

                def bump(a: Alert) -> None:
                    a.count += 1

                repo.change_alert(shared.id, bump)
                repo.set_state(f"source:w{w}", {"cycle": c})
        except BaseException as err:  # reported below, in the test's thread
            errors.append(err)

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    alerts = repo.find_alerts(lambda a: True)
    assert len(alerts) == 1 + 4 * 10 * 2
    assert len({a.id for a in alerts}) == len(alerts)
    assert sum(a.status == Status.ACKED for a in alerts) == 40
    assert repo.get_alert(shared.id).count == 1 + 40
    assert repo.count_mentions() == 4 * 10 * 3
    assert all(repo.get_state(f"source:w{w}") == {"cycle": 9} for w in range(4))


def test_kill_minus_nine_keeps_everything_reported(
    backend: str, data_dir: Path, open_repo: Opener
) -> None:
    rng = random.Random(20261130)
    for _ in range(5):
        proc = subprocess.Popen(
            [sys.executable, str(WRITER), str(data_dir), backend],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first.strip().isdigit(), first
        time.sleep(rng.uniform(0.0, 0.3))
        proc.send_signal(signal.SIGKILL)
        out, _ = proc.communicate()
        reported = int([first.strip(), *out.split()][-1])
        repo = open_repo()
        alerts = repo.find_alerts(lambda a: True)
        assert int(repo.get_state("cycles", 0)) >= reported
        assert len(alerts) >= 2 * reported
        assert repo.count_mentions() >= 20 * reported
        assert {o.alert_id for o in repo.pending_outbox()} <= {a.id for a in alerts}
        assert sum(a.status == "acked" for a in alerts) >= reported
        repo.close()


def test_a_derived_file_is_written_under_data_dir_unless_read_only(
    repo: Repository, open_repo: Opener, data_dir: Path
) -> None:
    saved = repo.save_file("digests/2026-11-29.png", b"png bytes")
    assert saved is not None and saved.read_bytes() == b"png bytes"
    assert saved.resolve().is_relative_to(data_dir.resolve())
    with pytest.raises(ValueError):
        repo.save_file("../outside.png", b"x")
    reader = reopen(repo, open_repo, read_only=True)
    assert reader.save_file("digests/2026-11-30.png", b"x") is None
    assert not (data_dir / "digests" / "2026-11-30.png").exists()
