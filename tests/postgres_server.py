"""A throwaway PostgreSQL cluster for the tests: initdb in a temp folder, a free port on
127.0.0.1 (and a unix socket in the folder), a random password; stopped and removed at the
end of the session. Under pytest-xdist each worker that needs it starts its own (a session
fixture is per worker), so workers never share a database.

initdb refuses to run as root: as root, the cluster is made and run by the unprivileged
user `nobody` (runuser), the folder handed to it.

Without pg_ctl the tests that need it skip, saying how to get it; with CI set, that is a
failure instead (CI must test the PostgreSQL backend).
"""

from __future__ import annotations

import glob
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

USER = "nobody"  # runs the cluster when the tests run as root
HOW = (
    "the PostgreSQL tests need pg_ctl and initdb (a local PostgreSQL server install): "
    "`apt-get install postgresql` (Debian/Ubuntu; its programs are in "
    "/usr/lib/postgresql/<version>/bin), or put their folder on PATH"
)


def find_bin() -> Path | None:
    """The folder with pg_ctl and initdb: on PATH, else Debian's newest."""
    found = shutil.which("pg_ctl")
    candidates = [Path(found).resolve().parent] if found else []
    candidates += [Path(p) for p in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)]
    for folder in candidates:
        if (folder / "pg_ctl").exists() and (folder / "initdb").exists():
            return folder
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    def __init__(self, bin_dir: Path) -> None:
        self.bin = bin_dir
        self.root = Path(tempfile.mkdtemp(prefix="buzzwatch-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self.password = secrets.token_hex(16)
        self.as_user = os.geteuid() == 0
        if self.as_user:
            shutil.chown(self.root, USER)

    def _run(self, *args: str) -> None:
        cmd = [str(self.bin / args[0]), *args[1:]]
        if self.as_user:
            cmd = ["runuser", "-u", USER, "--", *cmd]
        done = subprocess.run(cmd, capture_output=True, text=True, cwd=self.root)
        if done.returncode:
            log = self.root / "server.log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(f"{' '.join(cmd)} failed:\n{done.stdout}{done.stderr}{tail}")

    def start(self) -> str:
        pwfile = self.root / "pw"
        pwfile.write_text(self.password + "\n")
        if self.as_user:
            shutil.chown(pwfile, USER)
        # C.UTF-8: pg_trgm then makes trigrams of Chinese characters too (plain C would not)
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            "buzzwatch",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
            "--auth=scram-sha-256",
            f"--pwfile={pwfile}",
        )
        pwfile.unlink()
        # Another worker's cluster may take the free port between our check and the start:
        # then try the next free port (a few times) rather than fail the tests.
        for attempt in range(3):
            try:
                self._run(
                    "pg_ctl",
                    "-D",
                    str(self.data),
                    "-o",
                    self._options(),
                    "-l",
                    str(self.root / "server.log"),
                    "-w",
                    "start",
                )
                break
            except RuntimeError:
                if attempt == 2:
                    raise
                self.port = free_port()
        return self.dsn("postgres")

    def _options(self) -> str:
        # fsync off: a throwaway cluster, never meant to outlive a crash
        return (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )

    def dsn(self, database: str) -> str:
        return f"postgresql://buzzwatch:{self.password}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str = "buzzwatch") -> str:
        """A new database (with pg_trgm, in public); its address."""
        import psycopg

        with psycopg.connect(self.dsn("postgres"), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        with psycopg.connect(self.dsn(name), autocommit=True) as conn:
            conn.execute("CREATE EXTENSION pg_trgm")
        return self.dsn(name)

    def stop(self) -> None:
        try:
            if (self.data / "postmaster.pid").exists():
                self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


def server_bin() -> Path:
    """pg_ctl's folder; else skip the test (a failure when CI is set)."""
    bin_dir = find_bin()
    if bin_dir is None:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(HOW + " (CI is set: not skipped)")
        pytest.skip(HOW)
    return bin_dir


@pytest.fixture(scope="session")
def postgres_dsn() -> Iterator[str]:
    """The address of an empty database `buzzwatch` (with pg_trgm) on a throwaway server."""
    cluster = Cluster(server_bin())
    try:
        cluster.start()
        yield cluster.create_database()
    finally:
        cluster.stop()


@pytest.fixture
def postgres_schema(postgres_dsn: str) -> str:
    """A fresh schema for one test: the address of the database with it first on the
    search path (pg_trgm stays in public, after it)."""
    import psycopg
    from psycopg.conninfo import make_conninfo

    name = "t_" + uuid.uuid4().hex[:12]
    with psycopg.connect(postgres_dsn, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {name}")
    return make_conninfo(postgres_dsn, options=f"-c search_path={name},public")
