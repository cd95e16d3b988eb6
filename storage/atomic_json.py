"""A TinyDB storage that survives crashes, full disks and corrupt files.

TinyDB's own JSONStorage rewrites the file in place (a crash can truncate it), re-reads
the whole file on every query, and reads an empty file as an empty database. This one:
- keeps the parsed document in memory and only reads the file once;
- writes a temp file in the same folder, fsyncs it, keeps the previous version as `.bak`
  (a hard link, so the live file never disappears) and swaps the new one in with os.replace;
- batches writes inside `transaction()`: one file write at the end, and on any error the
  in-memory state is thrown away and re-read from disk, so a failed batch leaves nothing
  half-applied;
- on a corrupt file (broken JSON, or valid JSON of the wrong shape), moves it aside
  (quarantine) and recovers from `.bak`, saying so loudly; never rotates a broken file over
  a good `.bak`; with both unusable, refuses to start empty unless told to (allow_empty).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from tinydb.storages import Storage

log = logging.getLogger("buzzwatch.storage")


class StorageError(Exception):
    """A storage problem worded for the operator (what file, what happened, what to do)."""


# What a store may fail with: its own worded errors, and SQLite's (a damaged file is found
# on the read that reaches a bad page, at any point of a run, not when it is opened).
STORE_FAILURES: tuple[type[Exception], ...] = (StorageError, sqlite3.DatabaseError)


def failure_text(err: Exception) -> str:
    """A store failure in one line for the operator."""
    if isinstance(err, sqlite3.DatabaseError):
        return (
            f"the SQLite store in the data folder cannot be read or written: {err} "
            "(restore buzzwatch.sqlite3 from a backup, or move it aside to start empty)"
        )
    return str(err)


class StartEmptyRefused(StorageError):
    """The state file and its backup are both unreadable, and starting empty was not asked for."""


def fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):  # not every file system lets a folder be opened
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_atomically(path: Path, data: bytes, keep_backup: bool = True) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if keep_backup and path.exists():
            bak_tmp = path.with_name(f".{path.name}.bak.tmp")
            with contextlib.suppress(FileNotFoundError):
                bak_tmp.unlink()
            os.link(path, bak_tmp)
            os.replace(bak_tmp, path.with_name(path.name + ".bak"))
        os.replace(tmp, path)
        fsync_dir(path.parent)
    except OSError as err:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise StorageError(f"could not write {path}: {err.strerror or err}") from err


def remove_orphaned_temps(path: Path) -> list[Path]:
    """Delete the temp files that writes of `path` left behind when the process was killed
    mid-write (`.state.json.<pid>.<thread>.tmp`, `.state.json.bak.tmp`). Only call it while
    holding the data folder's lock and before this process writes `path`: then no live
    writer owns any of them."""
    removed = []
    for tmp in path.parent.glob(f".{path.name}.*.tmp"):
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
            removed.append(tmp)
    if removed:
        log.warning(
            "removed %d temp file(s) left by an interrupted write: %s",
            len(removed),
            ", ".join(p.name for p in sorted(removed)),
        )
    return removed


def check_tinydb_shape(data: Any) -> None:
    """Raise ValueError unless `data` is what TinyDB reads: an object of tables, each an
    object of documents keyed by integer ids. Valid JSON of another shape ({"alerts": 5})
    would otherwise load, then fail every query that touches it."""
    if not isinstance(data, dict):
        raise ValueError(f"expected a JSON object, found {type(data).__name__}")
    for table, docs in data.items():
        if not isinstance(docs, dict):
            raise ValueError(f"table {table!r} is a {type(docs).__name__}, not an object")
        for doc_id, doc in docs.items():
            if not doc_id.isascii() or not doc_id.isdigit():
                raise ValueError(f"table {table!r} has a document with a bad id {doc_id!r}")
            if not isinstance(doc, dict):
                raise ValueError(
                    f"{table}/{doc_id} is a {type(doc).__name__}, not an object: {str(doc)[:40]!r}"
                )


def _signature(path: Path) -> tuple[int, int, int, int] | None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


class AtomicJSONStorage(Storage):
    def __init__(
        self,
        path: str | os.PathLike[str],
        read_only: bool = False,
        validate: Callable[[dict[str, Any]], None] | None = None,
        allow_empty: bool = False,
    ) -> None:
        """`validate`: raises ValueError when a loaded document is not what its owner
        stores (a record of the wrong shape counts as corruption, like broken JSON).
        `allow_empty`: when the file and its backup are both unusable, start empty instead
        of refusing to (StartEmptyRefused)."""
        self.path = Path(path)
        self.backup = self.path.with_name(self.path.name + ".bak")
        self.read_only = read_only
        self.validate = validate
        self.allow_empty = allow_empty
        # What the file on disk was when this process last read or wrote it: a file changed
        # behind its back is checked before it may become the backup.
        self._disk: tuple[int, int, int, int] | None = None
        # Set when the data did not come from the file itself (its backup, or empty after
        # both were lost): what the last writes held may be missing.
        self.recovered = False
        self._data: dict[str, Any] | None = None
        self._depth = 0
        self._dirty = False
        if not read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)

    # --- TinyDB's Storage interface ---------------------------------------------------------

    def read(self) -> dict[str, Any] | None:
        if self._data is None:
            self._data = self._load()
        return self._data

    def write(self, data: dict[str, Any]) -> None:
        self._data = data
        if self._depth:
            self._dirty = True
        else:
            self._flush()

    def close(self) -> None:
        pass

    # --- batching ---------------------------------------------------------------------------

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """Group writes into one file write; on error forget them all."""
        self._depth += 1
        try:
            yield
        except BaseException:
            if self._depth == 1:
                self._forget()
            raise
        finally:
            self._depth -= 1
        if self._depth == 0 and self._dirty:
            self._flush()

    def _forget(self) -> None:
        # TinyDB mutates documents in place before calling write(), so after a failure the
        # only trustworthy copy is the one on disk.
        self._data = None
        self._dirty = False

    def _flush(self) -> None:
        self._dirty = False
        if self.read_only:
            return
        payload = json.dumps(self._data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        try:
            write_atomically(self.path, payload, keep_backup=self._current_is_sound())
        except StorageError:
            self._forget()
            raise
        self._disk = _signature(self.path)

    def _current_is_sound(self) -> bool:
        """Whether the file on disk may become the backup: it is the one this process last
        read or wrote, or it still loads. A broken one is moved aside, never rotated over a
        good backup."""
        on_disk = _signature(self.path)
        if on_disk is None or on_disk == self._disk:
            return True
        try:
            self._parse(self.path)
            return True
        except FileNotFoundError:
            return True
        except (ValueError, UnicodeDecodeError) as err:
            quarantined = self._quarantine()
            log.error(
                "%s was changed behind Buzzwatch's back and is corrupt (%s); moved it to %s, "
                "kept %s as it was, and wrote the state held in memory",
                self.path,
                err,
                quarantined,
                self.backup,
            )
            return False

    # --- loading and recovery ---------------------------------------------------------------

    def _parse(self, path: Path) -> dict[str, Any]:
        raw = path.read_bytes()
        if not raw.strip():
            raise ValueError("the file is empty")
        data: dict[str, Any] = json.loads(raw)
        check_tinydb_shape(data)
        if self.validate is not None:
            self.validate(data)
        return data

    def _load(self) -> dict[str, Any]:
        data = self._load_or_recover()
        self._disk = _signature(self.path)
        return data

    def _load_or_recover(self) -> dict[str, Any]:
        if not self.path.exists():
            if not self.backup.exists():
                return {}  # a new data folder
            return self._from_backup(f"{self.path.name} is missing")
        try:
            return self._parse(self.path)
        except (ValueError, UnicodeDecodeError) as err:
            return self._from_backup(f"{self.path.name} is corrupt ({err})")

    def _from_backup(self, problem: str) -> dict[str, Any]:
        try:
            data = self._parse(self.backup)
        except FileNotFoundError:
            return self._start_empty(problem, f"there is no backup {self.backup.name}")
        except (ValueError, UnicodeDecodeError) as err:
            return self._start_empty(problem, f"its backup {self.backup.name} is unusable ({err})")
        self.recovered = True
        quarantined = self._quarantine() if self.path.exists() else None
        log.error(
            "%s: %s; %srecovering from %s",
            self.path,
            problem,
            f"moved it to {quarantined.name} and " if quarantined else "",
            self.backup,
        )
        if not self.read_only:
            write_atomically(self.path, self.backup.read_bytes(), keep_backup=False)
        return data

    def _start_empty(self, problem: str, backup_problem: str) -> dict[str, Any]:
        """State and backup both gone: starting empty forgets every alert and queued
        message, so it takes the operator's word (allow_empty). Nothing is moved when
        refusing, so every start refuses until then."""
        if not self.allow_empty:
            raise StartEmptyRefused(
                f"{self.path}: {problem}, and {backup_problem}. Starting would forget every "
                "alert and queued message. Restore the file from a copy of your own, or start "
                "once with --start-empty to begin again without them (alert ids carry on "
                "from where they were; none is reused)"
            )
        self.recovered = True
        quarantined = self._quarantine() if self.path.exists() else None
        log.critical(
            "%s: %s, and %s; starting EMPTY as --start-empty asked%s",
            self.path,
            problem,
            backup_problem,
            f" (the unreadable file is kept as {quarantined.name})" if quarantined else "",
        )
        return {}

    def _quarantine(self) -> Path | None:
        if self.read_only:
            return None
        for n in range(1000):
            target = self.path.with_name(f"{self.path.name}.corrupt-{n}")
            if not target.exists():
                os.replace(self.path, target)
                return target
        raise StorageError(f"{self.path} is corrupt and 1000 quarantined copies exist already")


def save_derived_file(data_dir: Path, relative: str, data: bytes, read_only: bool) -> Path | None:
    """Write a derived file (a digest chart) under `data_dir`, atomically; its path, or None
    when read-only (a dry run, a query): then nothing under data_dir is written. Every
    backend's Repository.save_file is this."""
    root = Path(data_dir).resolve()
    path = (root / relative).resolve()
    if not path.is_relative_to(root):
        raise ValueError(f"{relative!r} is not inside {data_dir}")
    if read_only:
        return None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise StorageError(f"could not create {path.parent}: {err.strerror or err}") from err
    write_atomically(path, data, keep_backup=False)
    return path
