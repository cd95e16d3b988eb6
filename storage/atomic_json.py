"""A TinyDB storage that survives crashes, full disks and corrupt files.

TinyDB's own JSONStorage rewrites the file in place (a crash can truncate it), re-reads
the whole file on every query, and reads an empty file as an empty database. This one:
- keeps the parsed document in memory and only reads the file once;
- writes a temp file in the same folder, fsyncs it, keeps the previous version as `.bak`
  (a hard link, so the live file never disappears) and swaps the new one in with os.replace;
- batches writes inside `transaction()`: one file write at the end, and on any error the
  in-memory state is thrown away and re-read from disk, so a failed batch leaves nothing
  half-applied;
- on a corrupt file, moves it aside (quarantine) and recovers from `.bak`, saying so loudly.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tinydb.storages import Storage

log = logging.getLogger("buzzwatch.storage")


class StorageError(Exception):
    """A storage problem worded for the operator (what file, what happened, what to do)."""


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


class AtomicJSONStorage(Storage):
    def __init__(self, path: str | os.PathLike[str], read_only: bool = False) -> None:
        self.path = Path(path)
        self.backup = self.path.with_name(self.path.name + ".bak")
        self.read_only = read_only
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
            write_atomically(self.path, payload)
        except StorageError:
            self._forget()
            raise

    # --- loading and recovery ---------------------------------------------------------------

    def _parse(self, path: Path) -> dict[str, Any]:
        raw = path.read_bytes()
        if not raw.strip():
            raise ValueError("the file is empty")
        data = json.loads(raw)
        if not isinstance(data, dict):
            raise ValueError(f"expected a JSON object, found {type(data).__name__}")
        return data

    def _load(self) -> dict[str, Any]:
        if not self.path.exists():
            if self.backup.exists():
                log.warning("%s is missing; recovering from %s", self.path, self.backup)
                return self._from_backup()
            return {}
        try:
            return self._parse(self.path)
        except (ValueError, UnicodeDecodeError) as err:
            quarantined = self._quarantine()
            log.error(
                "%s is corrupt (%s); moved it to %s and recovering from %s",
                self.path,
                err,
                quarantined,
                self.backup,
            )
            return self._from_backup()

    def _from_backup(self) -> dict[str, Any]:
        try:
            data = self._parse(self.backup)
        except FileNotFoundError:
            log.critical("no backup %s exists: starting %s EMPTY", self.backup, self.path)
            return {}
        except (ValueError, UnicodeDecodeError) as err:
            log.critical(
                "backup %s is unusable too (%s): starting %s EMPTY", self.backup, err, self.path
            )
            return {}
        if not self.read_only:
            write_atomically(self.path, self.backup.read_bytes(), keep_backup=False)
        return data

    def _quarantine(self) -> Path | None:
        if self.read_only:
            return None
        for n in range(1000):
            target = self.path.with_name(f"{self.path.name}.corrupt-{n}")
            if not target.exists():
                os.replace(self.path, target)
                return target
        raise StorageError(f"{self.path} is corrupt and 1000 quarantined copies exist already")
