"""A full disk while delivering: a send that cannot be recorded is not sent again, delivery
pauses (said once) and resumes when storage works; `--once` ends with a clear error."""

from __future__ import annotations

import errno
import io
import logging
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from app.cli import main
from core.domain.clock import FakeClock
from tests.conftest import BASE_CONFIG
from tests.core.test_delivery_faults import Node, posted_alert_ids
from tests.standin.chat import ChatServer

START = datetime(2026, 11, 28, 2, 0, tzinfo=UTC)


def fill_the_disk(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_space(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("storage.atomic_json.os.fsync", no_space)


def test_a_send_that_cannot_be_recorded_is_not_sent_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FakeClock(START)
    with ChatServer() as chat:
        node = Node(tmp_path, chat, clock)
        node.push(3)
        with caplog.at_level(logging.DEBUG, logger="buzzwatch.outbox"):
            fill_the_disk(monkeypatch)
            node.run(5)  # sixty passes
            assert posted_alert_ids(chat) == ["A1"]  # sent once, then nothing more
            assert node.deliverer.storage_error and "No space" in node.deliverer.storage_error
            paused = [r for r in caplog.records if "delivery is paused" in r.getMessage()]
            assert len(paused) == 1 and paused[0].levelno == logging.ERROR
            assert node.deliverer.unrecorded == 1
            monkeypatch.undo()  # space is freed
            node.run(1)
        assert "storage works again" in caplog.text
        assert posted_alert_ids(chat) == ["A1", "A2", "A3"]
        assert node.repo.pending_outbox() == []
        assert node.repo.get_alert("A1").messages["chat"]  # its record caught up
        assert node.deliverer.storage_error is None and node.deliverer.unrecorded == 0
        node.close()


def test_once_on_a_full_disk_ends_with_a_clear_error_and_exit_code(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    clock = FakeClock(START)
    with ChatServer() as chat:
        node = Node(tmp_path, chat, clock)
        node.push(2)
        node.close()
        config: dict[str, Any] = dict(
            BASE_CONFIG,
            data_dir=str(tmp_path / "data"),
            destinations={"chat": {"type": "webhook", "url": chat.url}},
            routes=[{"name": "all", "match": {"brand": "Acme"}, "to": ["chat"]}],
            fetch={"allow_hosts": ["127.0.0.1"]},
            storage={"backend": "tinydb"},  # the Node above made a TinyDB store
        )
        path = tmp_path / "config.yaml"
        path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
        fill_the_disk(monkeypatch)
        with caplog.at_level(logging.INFO):
            code = main(["--config", str(path), "--once"], io.StringIO())
        assert code == 3
        assert posted_alert_ids(chat) == ["A1"]
        assert "storage failed" in caplog.text and "No space left on device" in caplog.text
        assert "Traceback" not in caplog.text + capsys.readouterr().err


def test_a_fresh_start_on_a_full_disk_names_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = dict(BASE_CONFIG, data_dir=str(tmp_path / "data"))
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")

    def no_space(*args: object) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("storage.process_lock.os.pwrite", no_space)
    assert main(["--config", str(path), "-q", "--once"], io.StringIO()) == 2
    err = capsys.readouterr().err
    assert f"error: could not write {tmp_path / 'data' / '.lock'}: No space left on device" in err
    monkeypatch.undo()
    assert main(["--config", str(path), "-q", "--once"], io.StringIO()) == 0  # lock released


def test_the_running_worker_sends_once_through_many_passes_on_a_full_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.core.test_delivery_worker import TickingClock

    clock = TickingClock(START)
    with ChatServer() as chat:
        node = Node(tmp_path, chat, clock)  # type: ignore[arg-type]
        node.push(2)
        deliverer = node.deliverer
        passes = {"n": 0}
        twenty = threading.Event()
        real_pass = deliverer.deliver_due

        def counted() -> Any:
            try:
                return real_pass()
            finally:
                passes["n"] += 1
                if passes["n"] >= 20:
                    twenty.set()

        monkeypatch.setattr(deliverer, "deliver_due", counted)
        fill_the_disk(monkeypatch)
        deliverer.start(0.02)  # a pass every 20 ms: the bot's 3 s, sped up
        try:
            assert twenty.wait(30)
        finally:
            deliverer.stop()
        assert posted_alert_ids(chat) == ["A1"]  # the old worker re-posted it every pass
        node.close()


def test_once_whose_poll_cannot_be_stored_ends_with_the_storage_exit_code(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from tests.test_once_and_shutdown import COMPLAINT, feed_file, write_config

    # The sources answer fine; what they found cannot be stored. That is storage failing
    # (exit 3, as the README says), not "every source failed" (exit 1).
    config = write_config(
        tmp_path,
        sources=[{"name": "w", "type": "rss", "path": feed_file(tmp_path, [COMPLAINT])}],
        storage={"backend": "tinydb"},  # fill_the_disk fails TinyDB's writes
    )
    fill_the_disk(monkeypatch)
    with caplog.at_level(logging.INFO):
        code = main(["--config", str(config), "--once"], io.StringIO())
    assert code == 3
    assert "storage failed" in caplog.text and "No space left on device" in caplog.text
    assert "every source failed" not in caplog.text
    assert "Traceback" not in caplog.text + capsys.readouterr().err


def test_a_damaged_sqlite_store_ends_with_the_storage_exit_code_and_no_traceback(
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A store whose header is fine but whose pages are damaged opens; the damage shows on
    the first read that reaches a bad page: that is storage failing (exit 3, said in one
    line with what to do), not a traceback."""
    from tests.test_once_and_shutdown import COMPLAINT, feed_file, write_config

    config = write_config(
        tmp_path, sources=[{"name": "w", "type": "rss", "path": feed_file(tmp_path, [COMPLAINT])}]
    )
    assert main(["--config", str(config), "--once"], io.StringIO()) == 0
    store = next(tmp_path.rglob("buzzwatch.sqlite3"))
    data = bytearray(store.read_bytes())
    page = int.from_bytes(data[16:18], "big") or 65536
    data[page:] = b"\xff" * (len(data) - page)  # every page but the first (the header's)
    store.write_bytes(bytes(data))
    for argv in (["--once"], ["mentions", "acme"], ["command", "status"]):
        with caplog.at_level(logging.INFO):
            code = main(["--config", str(config), *argv], io.StringIO())
        said = caplog.text + capsys.readouterr().err
        caplog.clear()
        assert code == 3, argv
        assert "malformed" in said and "move it aside" in said, said
        assert "Traceback" not in said
