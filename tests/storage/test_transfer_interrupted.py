"""`migrate --to postgres` (and back) cut off part way, then run again: everything arrives
once, nothing is doubled, and the second run does not refuse."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.domain.clock import FakeClock
from storage.postgres_repo import PostgresRepository
from storage.sqlite_repo import SQLiteRepository
from storage.transfer import transfer
from tests.storage.repository_contract import NOW
from tests.storage.test_transfer import content, fill


class Killed(BaseException):
    """The process killed at this point (nothing after it runs)."""


def test_a_run_killed_just_before_its_mark_is_run_again(
    tmp_path: Path, postgres_schema: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = FakeClock(NOW)
    lite = SQLiteRepository(tmp_path / "data", clock=clock)
    fill(lite)
    want = content(lite)
    lite.close()
    lite = SQLiteRepository(tmp_path / "data", clock=clock, read_only=True)
    pg = PostgresRepository(postgres_schema, clock=clock)
    try:
        real = PostgresRepository.set_state

        def dies_at_the_mark(self: PostgresRepository, key: str, value: object) -> None:
            if key.startswith("migrated_from_"):
                raise Killed
            real(self, key, value)

        monkeypatch.setattr(PostgresRepository, "set_state", dies_at_the_mark)
        with pytest.raises(Killed):
            transfer(lite, pg, NOW.isoformat())
        monkeypatch.setattr(PostgresRepository, "set_state", real)

        report = transfer(lite, pg, NOW.isoformat())  # run again: it completes
        assert (report.alerts, report.outbox, report.dead, report.already) == (3, 1, 1, "")
        assert content(pg) == want
        assert pg.next_alert_ids(1) == ["A6"]  # (A4, A5: handed out by the source)
        assert transfer(lite, pg, NOW.isoformat()).already  # a third run changes nothing
        assert content(pg) == want
    finally:
        lite.close()
        pg.close()
