"""The PostgreSQL store's job_lock: one process at a time runs a long job (building the
daily digest), without holding the pipeline lock that every ack takes shared (issue 16).

A session-level advisory lock in a key space of its own (the two-key form, which never
meets the one-key PIPELINE_LOCK), on a connection of its own opened for the job: the others
wait for it on the server, and if the holder dies its connection closes and the lock goes
with it, so a waiting process takes the job over (a mark in state would need an expiry).
"""

from __future__ import annotations

import contextlib
import zlib
from collections.abc import Iterator

import psycopg

from storage.atomic_json import StorageError
from storage.store_lock import local_job_lock

JOB_LOCKS = 0x42575A03  # the first key of every job's advisory lock (the app's constant)


def job_key(name: str) -> int:
    """A job name's second key: its CRC-32 as a signed 32-bit number."""
    crc = zlib.crc32(name.encode("utf-8"))
    return crc - (1 << 32) if crc >= 1 << 31 else crc


class PostgresJobLocks:
    """PostgresRepository's job_lock (its attributes, as it sets them)."""

    dsn: str
    read_only: bool

    @contextlib.contextmanager
    def job_lock(self, name: str) -> Iterator[None]:
        """Repository.job_lock: read-only (a dry run, which queues nothing), this process's
        lock only."""
        if self.read_only:
            with local_job_lock(self, name):
                yield
            return
        try:
            conn = psycopg.connect(self.dsn, autocommit=True, connect_timeout=10)
        except psycopg.Error as err:
            raise StorageError(f"PostgreSQL store: {err}") from err
        with conn:  # closing the session lets the lock go, also after an error
            try:
                conn.execute("SELECT pg_advisory_lock(%s, %s)", (JOB_LOCKS, job_key(name)))
            except psycopg.Error as err:
                raise StorageError(f"PostgreSQL store: {err}") from err
            yield
