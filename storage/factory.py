"""Which repository a config asks for (`storage: {backend: sqlite|tinydb|postgres}`)."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path
from typing import Any

from core.domain.clock import Clock
from core.domain.repository import Repository
from storage.atomic_json import StorageError

log = logging.getLogger("buzzwatch.storage")

BACKENDS = ("sqlite", "tinydb", "postgres")
DEFAULT_DSN_ENV = "BUZZWATCH_DATABASE_URL"


def effective_backend(storage: Any, data_dir: Path) -> str:
    """The backend to open: the config's, except that a config which names none, over a
    folder that holds only a TinyDB store (made before SQLite became the default), keeps
    TinyDB and says how to move; an upgrade must not stop a working bot."""
    chosen = "backend" in storage.model_fields_set
    if chosen or storage.backend != "sqlite" or not _tinydb_only(Path(data_dir)):
        return str(storage.backend)
    log.warning(
        "%s holds a TinyDB store: using it. Run `python bot.py migrate` to move it into SQLite "
        "(faster at any size), or say `storage: {backend: tinydb}` in the config",
        data_dir,
    )
    return "tinydb"


def _tinydb_only(data_dir: Path) -> bool:
    from storage.sqlite_repo import DB_NAME

    return (data_dir / "state.json").exists() and not (data_dir / DB_NAME).exists()


def refuse_empty_file(path: Path) -> None:
    """A store file of 0 bytes holds nothing Buzzwatch wrote (the store writes its header
    before its first commit): a copy or restore that failed, a disk that filled, a file
    truncated by hand. SQLite would take it for a new store, the bot would start again at
    A1 and alert on everything once more, and a read-only command said "schema 0, start the
    bot once": say what it is, and what to do, instead of writing over it."""
    try:
        empty = path.stat().st_size == 0
    except OSError:  # no file yet (a first run), or unreadable: opening it says which
        return
    if empty:
        raise StorageError(
            f"{path} is empty (0 bytes), not a Buzzwatch store: if it was copied or restored, "
            "the copy failed: restore it again from a backup; if there is nothing to keep "
            "(a first run cut short), delete it and start the bot again"
        )


def open_repository(
    backend: str,
    data_dir: Path,
    clock: Clock | None = None,
    read_only: bool = False,
    start_empty: bool = False,
    dsn_env: str = DEFAULT_DSN_ENV,
) -> Repository:
    """`data_dir` holds the embedded stores; postgres reads its address from `dsn_env`.
    `start_empty` (TinyDB only) accepts losing an unreadable state file and its backup:
    SQLite and PostgreSQL write each change as one transaction, with no such file to lose."""
    # Imported here: a command pays only for the backend it uses.
    if backend == "postgres":
        from storage.postgres_repo import PostgresRepository, dsn_from_env

        return PostgresRepository(
            dsn_from_env(dsn_env), clock=clock, read_only=read_only, data_dir=Path(data_dir)
        )
    if backend == "sqlite":
        from storage.sqlite_repo import DB_NAME, SQLiteRepository

        data_dir = Path(data_dir)
        if _tinydb_only(data_dir):
            # An empty SQLite store next to a TinyDB one would restart alert ids at A1 and
            # alert again on everything already seen.
            raise StorageError(
                f"{data_dir} holds a TinyDB store (state.json) and no SQLite store yet: run "
                "`python bot.py migrate` to move it into SQLite, or keep it with "
                "`storage: {backend: tinydb}` in the config"
            )
        refuse_empty_file(data_dir / DB_NAME)
        try:
            return SQLiteRepository(data_dir, clock=clock, read_only=read_only)
        except StorageError as err:
            # "file is not a database", "disk image is malformed" (not an OperationalError:
            # a permission or I/O problem, which a backup would not cure): say what to do.
            if type(err.__cause__) is sqlite3.DatabaseError:
                raise StorageError(
                    f"{err} (restore it from a backup, or move it aside to start empty)"
                ) from err
            raise
    if backend == "tinydb":
        from storage.tinydb_repo import TinyDBRepository

        return TinyDBRepository(data_dir, clock=clock, read_only=read_only, start_empty=start_empty)
    raise ValueError(f"unknown storage backend {backend!r} (known: {', '.join(BACKENDS)})")
