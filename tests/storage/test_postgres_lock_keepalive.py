"""The connections that hold the shared advisory locks (the storage lock, a job's lock)
probe their other end: a holder whose host vanished without a word lets its lock go in
about a minute, not after the 2 hours of the system's TCP defaults."""

from __future__ import annotations

from typing import Any

import pytest

import storage.postgres_jobs as jobs
from storage.postgres_jobs import KEEPALIVE, lock_connection
from storage.postgres_repo import PostgresRepository


def test_a_lock_connection_probes_both_ways(postgres_schema: str) -> None:
    with lock_connection(postgres_schema) as conn:
        for name, value in KEEPALIVE.items():  # the server probes the client
            got = conn.execute(f"SHOW tcp_keepalives_{name}").fetchone()
            assert got is not None and got[0] == str(value)
        params = conn.info.get_parameters()  # the client probes the server
        assert params.get("keepalives") == "1"
        assert params.get("keepalives_idle") == str(KEEPALIVE["idle"])


def test_the_storage_lock_and_job_locks_hold_on_such_connections(
    postgres_schema: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    made: list[Any] = []

    def counted(dsn: str) -> Any:
        made.append(lock_connection(dsn))
        return made[-1]

    monkeypatch.setattr(jobs, "lock_connection", counted)
    monkeypatch.setattr("storage.postgres_repo.lock_connection", counted)
    repo = PostgresRepository(postgres_schema)
    try:
        with repo.job_lock("digest"):
            assert len(made) == 1
        with repo.locked():
            assert len(made) == 2
            held = (
                made[1]
                .execute(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = "
                    "pg_backend_pid() AND granted"
                )
                .fetchone()
            )
            assert held == (1,)  # the storage lock is held on it
    finally:
        repo.close()
