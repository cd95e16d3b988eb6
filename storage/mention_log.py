"""The bulk of mentions, as append-only JSON-lines files: one per UTC day a mention was said
(published; fetched when that is unknown or later), so a backfilled mention sits with those
polled when it was said, not in the day of its import.

Mentions are written once and read by time range. An append costs what the batch costs,
however many mentions are stored (a TinyDB file would be rewritten whole on every batch),
and a query for the last 24 hours reads only the last two days. A crash mid-append leaves
at most a torn last line, which loading skips and the next append closes off.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from storage.atomic_json import StorageError, fsync_dir

log = logging.getLogger("buzzwatch.storage")

_DAY_FILE = re.compile(r"^(\d{4}-\d{2}-\d{2})\.jsonl$")


def append_jsonl(path: Path, docs: list[dict[str, Any]]) -> None:
    """Append JSON records, one a line, durably (fsync). Raises StorageError."""
    payload = "".join(json.dumps(d, ensure_ascii=False, separators=(",", ":")) + "\n" for d in docs)
    new_file = not path.exists()
    try:
        with open(path, "ab") as f:
            # Close off a torn line left by a crash, or the first record would be glued to it.
            if f.tell() > 0:
                with open(path, "rb") as r:
                    r.seek(-1, os.SEEK_END)
                    if r.read(1) != b"\n":
                        f.write(b"\n")
            f.write(payload.encode("utf-8"))
            f.flush()
            os.fsync(f.fileno())
    except OSError as err:
        raise StorageError(f"could not append to {path}: {err.strerror or err}") from err
    if new_file:
        fsync_dir(path.parent)


MAX_DAYS_IN_MEMORY = 45


def stored_day(doc: dict[str, Any]) -> date:
    """The UTC day whose file holds a record: the day it was said (published), or the day it
    was fetched when that is earlier or the publish time is unknown (a mention cannot be
    fetched before it is said: a later publish time is a clock's mistake)."""
    fetched = datetime.fromisoformat(doc["fetched_at"])
    published = doc.get("published")
    when = fetched
    if published:
        with contextlib.suppress(TypeError, ValueError):
            when = min(fetched, datetime.fromisoformat(published))
    return _utc_day(when)


def _utc_day(when: datetime) -> date:
    return when.astimezone(UTC).date() if when.tzinfo else when.date()


# A record's id, read without parsing the record: the line starts with it (as every record
# this log writes does), it holds no escapes, and the line is whole (ends with "}" and a
# newline; a torn record from a crash is not stored). Any other line is parsed.
_LEADING_ID = re.compile(rb'\n\{"id":"([^"\\\n]*)"[^\n]*\}(?=\n)')
_LINE_START = re.compile(rb"\n[^\n]")


class MentionLog:
    def __init__(self, folder: Path, read_only: bool = False) -> None:
        self.folder = folder
        self.read_only = read_only
        # Day files read so far, least recently used first; a long `stats` or export must not
        # keep every day in memory for good.
        self._days: OrderedDict[date, dict[str, dict[str, Any]]] = OrderedDict()
        if not read_only:
            folder.mkdir(parents=True, exist_ok=True)

    def days_on_disk(self) -> list[date]:
        if not self.folder.exists():
            return []
        found = []
        for entry in os.scandir(self.folder):
            m = _DAY_FILE.match(entry.name)
            if m:
                found.append(date.fromisoformat(m.group(1)))
        return sorted(found)

    def _path(self, day: date) -> Path:
        return self.folder / f"{day.isoformat()}.jsonl"

    def _load_day(self, day: date) -> dict[str, dict[str, Any]]:
        loaded = self._days.get(day)
        if loaded is not None:
            self._days.move_to_end(day)
            return loaded
        docs = self.read_day(day)
        self._days[day] = docs
        # Read-only (a dry run): what it "stored" lives only here, so nothing is dropped.
        while len(self._days) > MAX_DAYS_IN_MEMORY and not self.read_only:
            self._days.popitem(last=False)
        return docs

    def read_day(self, day: date) -> dict[str, dict[str, Any]]:
        """One day file's records by id, read from disk (not kept in memory)."""
        docs: dict[str, dict[str, Any]] = {}
        path = self._path(day)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            raw = b""
        lines = raw.split(b"\n")
        for n, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                doc = json.loads(line)
                docs[doc["id"]] = doc  # a repeat after a crash-and-retry: the last one wins
            except (ValueError, KeyError, TypeError):
                torn = n == len(lines)
                log.warning(
                    "%s line %d: %s, skipped",
                    path,
                    n,
                    "torn write from an interrupted append" if torn else "not a mention record",
                )
        return docs

    def append(self, mentions: Iterable[dict[str, Any]]) -> None:
        """Append mention records (dicts with 'id' and 'fetched_at') durably, each to the
        file of the day it was said (stored_day)."""
        by_day: dict[date, list[dict[str, Any]]] = {}
        for doc in mentions:
            by_day.setdefault(stored_day(doc), []).append(doc)
        for day, docs in by_day.items():
            if not self.read_only:
                self._append_file(self._path(day), docs)
            else:
                # A dry run's mentions live only in memory: a day not read yet would drop them.
                self._load_day(day)
            if day in self._days:
                for doc in docs:
                    self._days[day][doc["id"]] = doc

    def _append_file(self, path: Path, docs: list[dict[str, Any]]) -> None:
        append_jsonl(path, docs)

    def iter_since(self, since: datetime | None) -> Iterator[dict[str, Any]]:
        """Mention records said (published, else fetched) on or after the UTC day of `since`,
        newest day first: each sits in the file of the day it was said (stored_day)."""
        days = self.days_on_disk()
        for day in self._days:
            if day not in days:
                days.append(day)
        first = date.min if since is None else _utc_day(since)
        for day in sorted((d for d in days if d >= first), reverse=True):
            yield from self._load_day(day).values()

    def iter_ids(self, first_day: date) -> Iterator[str]:
        """The ids of the records in the day files from `first_day` on, and in older day files
        written since (a backfill of old mentions), without parsing whole records (a scan of
        100,000 takes a fraction of a second)."""
        since = datetime.combine(first_day, datetime.min.time(), UTC).timestamp()
        for day in self.days_on_disk():
            if day < first_day:
                try:
                    if self._path(day).stat().st_mtime < since:
                        continue
                except FileNotFoundError:
                    continue
            try:
                raw = b"\n" + self._path(day).read_bytes()
            except FileNotFoundError:
                continue
            found = _LEADING_ID.findall(raw)
            if len(found) == len(_LINE_START.findall(raw)):  # every line had its id read
                yield from (i.decode("utf-8", errors="replace") for i in found)
                continue
            for line in raw.split(b"\n"):  # an escaped id, a torn line: the slow way
                try:
                    doc = json.loads(line)
                    yield str(doc["id"])
                except (ValueError, KeyError, TypeError):
                    continue

    def count(self) -> int:
        return sum(len(self._load_day(d)) for d in self.days_on_disk())
