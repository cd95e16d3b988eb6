"""Ids of every feed entry already handled, so nothing is alerted twice, also after a restart.

Append-only text files, one per month; the last few months are loaded at start.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from datetime import date
from pathlib import Path

from storage.atomic_json import StorageError

KEEP_MONTHS = 6


class SeenLog:
    def __init__(self, folder: Path, today: date, read_only: bool = False) -> None:
        self.folder = folder
        self.read_only = read_only
        self._ids: set[str] = set()
        if not read_only:
            folder.mkdir(parents=True, exist_ok=True)
        for path in self._recent_files(today):
            # A torn last line is just a shorter id that will never be asked for.
            self._ids.update(
                line for line in path.read_text("utf-8", errors="replace").split("\n") if line
            )

    def _recent_files(self, today: date) -> list[Path]:
        months = []
        y, m = today.year, today.month
        for _ in range(KEEP_MONTHS):
            months.append(self.folder / f"{y:04d}-{m:02d}.txt")
            y, m = (y, m - 1) if m > 1 else (y - 1, 12)
        return [p for p in months if p.exists()]

    def oldest_month(self, today: date) -> date:
        """The first day of the oldest month this log remembers."""
        y, m = today.year, today.month - (KEEP_MONTHS - 1)
        while m < 1:
            y, m = y - 1, m + 12
        return date(y, m, 1)

    def __contains__(self, mention_id: str) -> bool:
        return mention_id in self._ids

    def __len__(self) -> int:
        return len(self._ids)

    def add(self, ids: Iterable[str], today: date) -> None:
        new = [i for i in dict.fromkeys(ids) if i not in self._ids]
        if not new:
            return
        if not self.read_only:
            path = self.folder / f"{today.year:04d}-{today.month:02d}.txt"
            try:
                with open(path, "ab") as f:
                    f.write(("\n" + "\n".join(new) + "\n").encode("utf-8"))
                    f.flush()
                    os.fsync(f.fileno())
            except OSError as err:
                raise StorageError(f"could not append to {path}: {err.strerror or err}") from err
        self._ids.update(new)
