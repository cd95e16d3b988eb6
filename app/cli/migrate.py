"""`migrate`: a TinyDB data folder into the SQLite store; `--to`: SQLite <-> PostgreSQL."""

from __future__ import annotations

import argparse
import sys
from typing import Any, TextIO

from core.config import Config
from core.domain.clock import SystemClock
from storage.atomic_json import StorageError

NOTHING_TO_MOVE = (
    "nothing to migrate: `migrate` moves a folder written by TinyDB (an older Buzzwatch, or "
    "`storage: {backend: tinydb}`); a new data folder uses the SQLite store already. "
    "`migrate --to postgres` copies that store into PostgreSQL (see the README's *PostgreSQL*)"
)


def cmd_migrate(config: Config, args: argparse.Namespace, out: TextIO) -> int:
    """Move a TinyDB data folder into the SQLite store; the old files stay as they are.
    With --to: copy the SQLite store into PostgreSQL, or back."""
    from tqdm import tqdm

    if args.to:
        return _migrate_between(config, args.to, args.no_progress, out)
    from storage.migrate import migrate_tinydb_folder

    # The bar starts once the store is found and counted: a folder holding no TinyDB store
    # gets its error alone, not after an empty bar.
    bars: list[tqdm[Any]] = []

    def start(total: int) -> None:
        bars.append(tqdm(total=total, unit=" records", file=sys.stderr, disable=args.no_progress))

    def step(n: int) -> None:
        if bars:
            bars[0].update(n)

    try:
        report = migrate_tinydb_folder(
            config.data_dir,
            SystemClock().now().isoformat(),
            progress=step,
            on_total=start,
            start_empty=args.start_empty,  # (the common option, as its error suggests)
        )
    except StorageError as err:
        print(f"error: {err}", file=sys.stderr)
        if not any((config.data_dir / name).exists() for name in ("state.json", "mentions")):
            print(NOTHING_TO_MOVE, file=sys.stderr)
        return 2
    finally:
        for bar in bars:
            bar.close()
    db = config.data_dir / "buzzwatch.sqlite3"
    print(report.summary(db), file=out)
    if config.storage.backend != "sqlite":
        print("set `storage: {backend: sqlite}` in the config to use it", file=out)
    print(
        f"the old files in {config.data_dir} (state.json*, mentions/, seen/, alerts-archive/) "
        "are untouched: delete them once you are satisfied",
        file=out,
    )
    return 0


def _migrate_between(config: Config, to: str, no_progress: bool, out: TextIO) -> int:
    from tqdm import tqdm

    from storage.postgres_repo import PostgresRepository, dsn_from_env
    from storage.sqlite_repo import DB_NAME, SQLiteRepository
    from storage.transfer import transfer

    if to == "postgres" and not (config.data_dir / DB_NAME).exists():
        print(f"error: {config.data_dir / DB_NAME}: no SQLite store to copy", file=sys.stderr)
        return 2
    try:
        pg = PostgresRepository(dsn_from_env(config.storage.dsn_env), read_only=to == "sqlite")
    except StorageError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    # The source is opened read-only (it is only read); the target takes the writes.
    lite = SQLiteRepository(config.data_dir, read_only=to == "postgres")
    source, target = (lite, pg) if to == "postgres" else (pg, lite)
    bar = tqdm(unit=" records", file=sys.stderr, disable=no_progress)
    try:
        report = transfer(source, target, SystemClock().now().isoformat(), progress=bar.update)
    except StorageError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    finally:
        bar.close()
        lite.close()
        pg.close()
    where = f"PostgreSQL (${config.storage.dsn_env})" if to == "postgres" else config.data_dir
    print(report.summary(where), file=out)
    if config.storage.backend != to:
        print(f"set `storage: {{backend: {to}}}` in the config to use it", file=out)
    return 0
