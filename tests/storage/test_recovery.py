"""Recovery of the embedded store: leftovers of a kill, state files of the wrong shape, a
state lost with its backup, a lost seen log."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from storage.atomic_json import StartEmptyRefused
from storage.common import alert_number
from storage.tinydb_repo import TinyDBRepository


def test_temp_files_left_by_a_kill_are_removed_at_start(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = tmp_path / "data"
    repo = TinyDBRepository(data)
    repo.set_state("k", 1)
    repo.close()
    orphans = [data / ".state.json.4242.139872.tmp", data / ".state.json.bak.tmp"]
    for p in orphans:
        p.write_bytes(b'{"half a wri')
    unrelated = data / "notes.tmp"
    unrelated.write_text("not ours")
    reader = TinyDBRepository(data, read_only=True)  # no lock: leaves them alone
    reader.close()
    assert all(p.exists() for p in orphans)
    with caplog.at_level(logging.WARNING):
        repo = TinyDBRepository(data)
    assert not any(p.exists() for p in orphans)
    assert unrelated.exists()
    assert "2 temp file(s) left by an interrupted write" in caplog.text
    assert repo.get_state("k") == 1
    repo.close()


def _two_writes(data: Path) -> None:
    """A state file with alerts A1 and A2 (A2 in the last write, so the backup has A1)."""
    from core.alerting.lifecycle import new_alert
    from core.domain.models import Mention

    repo = TinyDBRepository(data)
    for n in (1, 2):
        (aid,) = repo.next_alert_ids(1)
        m = Mention(id=f"m{n}", source="feed", url=f"https://e.com/{n}", title=f"t{n}", text="x")
        m.brands = ["Acme"]
        repo.save_cycle([], [], [new_alert(aid, m, "r", ["console"], m.fetched_at)], [])
    repo.close()


def _damage(state: dict) -> dict:
    state["alerts"]["2"] = "garbage"
    return state


@pytest.mark.parametrize(
    "damage",
    [
        lambda s: {"alerts": 5},
        _damage,
        lambda s: {**s, "alerts": {"2": {"hello": "world"}}},
        lambda s: {**s, "alerts": {"7": s["alerts"]["2"]}},  # A2 stored as A7
        lambda s: {**s, "outbox": [1, 2]},
        lambda s: {**s, "state": {"1": {"alert_seq": "lots"}}},
        lambda s: [s],
    ],
)
def test_a_state_file_of_the_wrong_shape_is_corruption(
    tmp_path: Path, damage, caplog: pytest.LogCaptureFixture
) -> None:
    data = tmp_path / "data"
    _two_writes(data)
    state = data / "state.json"
    good_backup = (data / "state.json.bak").read_bytes()
    broken = json.dumps(damage(json.loads(state.read_text()))).encode()
    state.write_bytes(broken)
    with caplog.at_level(logging.ERROR):
        repo = TinyDBRepository(data)
    assert "corrupt" in caplog.text and "recovering from" in caplog.text
    assert (data / "state.json.corrupt-0").read_bytes() == broken
    # The backup's alert is back, and queries work.
    assert repo.get_alert("A1") is not None
    assert [a.id for a in repo.find_alerts(lambda a: True)] == ["A1"]
    assert repo.pending_outbox() == []
    # Writes go on from the recovered state; the backup is never the broken file.
    repo.set_state("x", 1)
    repo.set_state("x", 2)
    assert json.loads((data / "state.json.bak").read_text())["state"]["1"]["x"] == 1
    repo.close()
    assert good_backup != broken


def test_a_broken_file_written_behind_the_bot_is_never_rotated_over_the_backup(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = tmp_path / "data"
    _two_writes(data)
    repo = TinyDBRepository(data)
    repo.set_state("x", 1)
    (data / "state.json").write_text('{"alerts": 5}')  # someone's editor, a bad restore
    with caplog.at_level(logging.ERROR):
        repo.set_state("x", 2)
    assert "changed behind" in caplog.text
    assert (data / "state.json.corrupt-0").read_text() == '{"alerts": 5}'
    bak = json.loads((data / "state.json.bak").read_text())
    assert sorted(bak["alerts"]) == ["1", "2"]  # the good backup stays
    assert json.loads((data / "state.json").read_text())["state"]["1"]["x"] == 2
    repo.close()
    reopened = TinyDBRepository(data)
    assert reopened.get_state("x") == 2 and reopened.get_alert("A2") is not None
    reopened.close()


def _corrupt_both(data: Path) -> None:
    (data / "state.json").write_text("{torn")
    (data / "state.json.bak").write_text('{"alerts": 5}')


def test_state_and_backup_both_unreadable_refuse_to_start_empty_unless_told(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    _two_writes(data)
    _corrupt_both(data)
    for _ in range(2):  # the refusal holds: nothing was moved
        with pytest.raises(StartEmptyRefused, match=r"state.json is corrupt.*--start-empty"):
            TinyDBRepository(data)
    repo = TinyDBRepository(data, start_empty=True)
    assert repo.find_alerts(lambda a: True) == []
    (new,) = repo.next_alert_ids(1)
    assert alert_number(new) > 2  # A1 and A2 are in people's hands: never issued again
    repo.close()


def test_state_and_backup_deleted_still_never_reuse_an_alert_id(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = tmp_path / "data"
    _two_writes(data)
    (data / "state.json").unlink()
    (data / "state.json.bak").unlink()
    with caplog.at_level(logging.WARNING):
        repo = TinyDBRepository(data)
    assert "ids carry on from A3" in caplog.text
    assert repo.next_alert_ids(1) == ["A3"]
    repo.close()


def test_a_state_recovered_from_an_older_backup_does_not_reissue_the_lost_ids(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    _two_writes(data)  # A2 was issued in the last write; the backup knows only A1
    (data / "state.json").write_text("")
    repo = TinyDBRepository(data)
    assert repo.get_alert("A1") is not None and repo.get_alert("A2") is None
    assert alert_number(repo.next_alert_ids(1)[0]) > 2
    repo.close()


def test_an_older_copy_put_back_by_hand_does_not_reissue_ids(tmp_path: Path) -> None:
    data = tmp_path / "data"
    _two_writes(data)
    (data / "state.json").write_bytes((data / "state.json.bak").read_bytes())  # knows A1
    repo = TinyDBRepository(data)
    assert repo.next_alert_ids(1) == ["A3"]
    repo.close()


def test_archived_alert_ids_are_never_reissued_even_without_the_id_mark(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    _two_writes(data)
    archive = data / "alerts-archive"
    archive.mkdir()
    (archive / "2026-01.jsonl").write_text('{"id":"A250","status":"resolved"}\n')
    _corrupt_both(data)
    (data / "alert-ids").unlink()
    repo = TinyDBRepository(data, start_empty=True)
    assert alert_number(repo.next_alert_ids(1)[0]) == 251
    repo.close()


def test_a_fresh_data_folder_starts_at_a1(tmp_path: Path) -> None:
    repo = TinyDBRepository(tmp_path / "data")
    assert repo.next_alert_ids(2) == ["A1", "A2"]
    repo.close()
    repo = TinyDBRepository(tmp_path / "data")
    assert repo.next_alert_ids(1) == ["A3"]  # a plain restart: no gap
    repo.close()


def _lose(seen: Path) -> None:
    for p in seen.glob("*.txt"):
        p.unlink()


def _truncate(seen: Path) -> None:
    for p in seen.glob("*.txt"):
        p.write_bytes(p.read_bytes()[: p.stat().st_size // 3])


def _scramble(seen: Path) -> None:
    for p in seen.glob("*.txt"):
        p.write_bytes(b"\x00" * p.stat().st_size)


@pytest.mark.parametrize("damage", [_lose, _truncate, _scramble])
def test_a_lost_or_damaged_seen_file_does_not_count_stored_mentions_again(
    tmp_path: Path, damage, caplog: pytest.LogCaptureFixture
) -> None:
    from datetime import UTC, datetime

    from core.domain.clock import FakeClock
    from tests.core.test_delivery_faults import Node
    from tests.standin.chat import ChatServer

    clock = FakeClock(datetime(2026, 11, 28, 2, 0, tzinfo=UTC))
    with ChatServer() as chat:
        node = Node(tmp_path, chat, clock)
        node.push(3)
        node.push(3, start=3)  # (the last cycle's ids are also kept in the state file)
        node.run(1)
        node.close()
        damage(tmp_path / "data" / "seen")
        clock.advance(3600)
        node = Node(tmp_path, chat, clock)
        with caplog.at_level(logging.WARNING):
            node.push(6)  # the feed still lists the same six entries
        node.push(1, start=6)  # and one new one
        node.run(1)
        alerts = node.repo.find_alerts(lambda a: True)
        assert [(a.id, a.count) for a in alerts] == [(f"A{i}", 1) for i in range(1, 8)]
        assert [b["action"] for b in chat.received] == ["post"] * 7  # no edits, no re-posts
        assert "restored them from the mention log" in caplog.text
        node.close()
    # Restored for good: the next start finds nothing missing.
    caplog.clear()
    repo = TinyDBRepository(tmp_path / "data", clock=clock)
    with caplog.at_level(logging.WARNING):
        assert repo.unseen(["m0", "m5", "m6", "m99"]) == ["m99"]
    assert "restored" not in caplog.text
    repo.close()


def test_a_torn_mention_record_is_not_taken_as_stored(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "mentions").mkdir(parents=True)
    day = data / "mentions" / "2026-01-01.jsonl"
    day.write_bytes(b'{"id":"kept","source":"s"}\n{"id":"torn","source":"s","ti')
    from datetime import UTC, datetime

    from core.domain.clock import FakeClock

    repo = TinyDBRepository(data, clock=FakeClock(datetime(2026, 1, 2, tzinfo=UTC)))
    # The torn one's cycle never finished: it is redone, not skipped.
    assert repo.unseen(["kept", "torn"]) == ["torn"]
    repo.close()
