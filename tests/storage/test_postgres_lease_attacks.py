"""Attacks on the source and destination leases of processes sharing a PostgreSQL store:
clocks that disagree, lease rows edited by hand (two repositories on one schema stand for
two processes)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from core.domain.clock import SystemClock
from core.domain.models import OutboxItem
from core.intake.polling import SOURCE_LEASE
from storage.postgres_repo import PostgresRepository


class SkewedClock(SystemClock):
    """A process's system clock set wrong by `by`."""

    def __init__(self, by: timedelta) -> None:
        self.by = by

    def now(self) -> datetime:
        return datetime.now(UTC) + self.by


@pytest.fixture
def ahead_and_behind(postgres_schema: str) -> Iterator[tuple[PostgresRepository, ...]]:
    repos = (
        PostgresRepository(postgres_schema, clock=SkewedClock(timedelta(minutes=5))),
        PostgresRepository(postgres_schema, clock=SkewedClock(-timedelta(minutes=5))),
    )
    yield repos
    for repo in repos:
        repo.close()


def test_a_process_whose_clock_runs_ahead_takes_no_live_lease(
    ahead_and_behind: tuple[PostgresRepository, ...],
) -> None:
    ahead, behind = ahead_and_behind
    assert behind.claim_source("s1", SOURCE_LEASE)
    assert ahead.claim_source("s2", SOURCE_LEASE)
    # Each holds its own: neither clock makes the other's lease look run out.
    assert not ahead.claim_source("s1", SOURCE_LEASE)
    assert not behind.claim_source("s2", SOURCE_LEASE)
    assert ahead.expired_sources(["s1", "s2"]) == []
    assert behind.expired_sources(["s1", "s2"]) == []
    assert behind.renew_sources(["s1", "s2"], SOURCE_LEASE) == 1


def test_a_process_whose_clock_runs_behind_keeps_its_destinations(
    ahead_and_behind: tuple[PostgresRepository, ...],
) -> None:
    ahead, behind = ahead_and_behind
    now = datetime.now(UTC).isoformat()
    behind.add_outbox([OutboxItem("", "team", "post", {"kind": "text"}, now)])
    assert [o.destination for o in behind.claim_outbox(timedelta(minutes=1))] == ["team"]
    assert ahead.claim_outbox(timedelta(minutes=1)) == []  # (it would send it a second time)


@pytest.mark.parametrize("until", ["9999-12-31T00:00:00+00:00", "never", "infinity"])
def test_a_lease_edited_by_hand_far_ahead_is_taken_over(postgres_schema: str, until: str) -> None:
    a, b = (PostgresRepository(postgres_schema) for _ in range(2))
    try:
        assert a.claim_source("s1", SOURCE_LEASE)
        a.add_outbox([OutboxItem("", "team", "post", {"kind": "text"}, "")])
        assert a.claim_outbox(timedelta(minutes=1))
        with psycopg.connect(postgres_schema, autocommit=True) as conn:
            # its holder died; someone "fixed" its rows
            conn.execute("UPDATE source_leases SET owner = 'gone', until = %s", (until,))
            conn.execute("UPDATE destination_leases SET owner = 'gone', until = %s", (until,))
        assert b.expired_sources(["s1"]) == ["s1"]
        assert b.claim_source("s1", SOURCE_LEASE)
        assert not a.claim_source("s1", SOURCE_LEASE)  # b's now, a sane lease
        assert [o.destination for o in b.claim_outbox(timedelta(minutes=1))] == ["team"]
    finally:
        a.close()
        b.close()


def test_a_lease_edited_by_hand_into_the_past_is_taken_over_once(postgres_schema: str) -> None:
    a, b, c = (PostgresRepository(postgres_schema) for _ in range(3))
    try:
        assert a.claim_source("s1", SOURCE_LEASE)
        with psycopg.connect(postgres_schema, autocommit=True) as conn:
            conn.execute("UPDATE source_leases SET until = '2000-01-01T00:00:00+00:00'")
        assert b.expired_sources(["s1"]) == c.expired_sources(["s1"]) == ["s1"]
        assert [b.claim_source("s1", SOURCE_LEASE), c.claim_source("s1", SOURCE_LEASE)] == [
            True,
            False,
        ]
        assert a.renew_sources(["s1"], SOURCE_LEASE) == 0  # a lost it: a polls it no more
        assert not a.claim_source("s1", SOURCE_LEASE)
    finally:
        for repo in (a, b, c):
            repo.close()
