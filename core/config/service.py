"""Where records are stored, and the running bot's HTTP service."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from core.config.base import Strict


class StorageConfig(Strict):
    """Where data_dir's records live: `sqlite` (one SQLite file, the default: scales to
    millions of mentions) or `tinydb` (JSON state file plus day files: for very small installs;
    its limits are in the README). `python bot.py migrate` moves a tinydb folder to sqlite.
    `postgres`: a PostgreSQL server several Buzzwatch processes share; its address is read
    from the environment variable named by `dsn_env` (it holds a password: not in the file)."""

    backend: Literal["sqlite", "tinydb", "postgres"] = "sqlite"
    dsn_env: str = "BUZZWATCH_DATABASE_URL"


class ServiceConfig(Strict):
    """The running bot's /healthz and /metrics (ops/server.py), off unless `port` is set.
    127.0.0.1 by default; 0.0.0.0 in a container whose port is published."""

    host: str = "127.0.0.1"
    port: int | None = Field(default=None, ge=0, le=65535)
