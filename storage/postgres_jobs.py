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

# A session holding an advisory lock whose other end vanished without a word (its host
# powered off, a NAT or firewall dropping the idle connection) is found dead by TCP
# keepalives only: by default after 2 hours, the lock held all that time, so every other
# process's digest waited. Probes after 30 s idle, every 10 s, 3 missed: about a minute,
# both ways (the server's for a vanished holder, the client's for a vanished server while it
# waits for the lock).
KEEPALIVE = {"idle": 30, "interval": 10, "count": 3}


def lock_connection(dsn: str) -> psycopg.Connection:
    """A connection of its own for a session-level lock, with TCP keepalives both ways."""
    conn = psycopg.connect(
        dsn,
        autocommit=True,
        connect_timeout=10,
        keepalives=1,
        keepalives_idle=KEEPALIVE["idle"],
        keepalives_interval=KEEPALIVE["interval"],
        keepalives_count=KEEPALIVE["count"],
    )
    try:
        for name, value in KEEPALIVE.items():  # the server's side (a no-op on a unix socket)
            conn.execute("SELECT set_config(%s, %s, false)", (f"tcp_keepalives_{name}", str(value)))
    except BaseException:
        conn.close()
        raise
    return conn


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
            conn = lock_connection(self.dsn)
        except psycopg.Error as err:
            raise StorageError(f"PostgreSQL store: {err}") from err
        with conn:  # closing the session lets the lock go, also after an error
            try:
                conn.execute("SELECT pg_advisory_lock(%s, %s)", (JOB_LOCKS, job_key(name)))
            except psycopg.Error as err:
                raise StorageError(f"PostgreSQL store: {err}") from err
            yield
