"""Which repository a config asks for (`storage: {backend: sqlite|tinydb}`)."""

from __future__ import annotations

from pathlib import Path

from core.clock import Clock
from core.repository import Repository

BACKENDS = ("sqlite", "tinydb")


def open_repository(
    backend: str, data_dir: Path, clock: Clock | None = None, read_only: bool = False
) -> Repository:
    # Imported here: a command pays only for the backend it uses.
    if backend == "sqlite":
        from storage.sqlite_repo import SQLiteRepository

        return SQLiteRepository(data_dir, clock=clock, read_only=read_only)
    if backend == "tinydb":
        from storage.tinydb_repo import TinyDBRepository

        return TinyDBRepository(data_dir, clock=clock, read_only=read_only)
    raise ValueError(f"unknown storage backend {backend!r} (known: {', '.join(BACKENDS)})")
