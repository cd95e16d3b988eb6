"""`python bot.py import FILE.jsonl|csv [--source NAME]`: backfill mentions from a file.

Each line (JSON Lines) or row (CSV with a header) is one mention in the inbound schema
(sources/inbound.py); CSV metrics go in columns named followers, likes, comments,
reposts, points, views. Rows that do not fit are skipped and reported with their line
number; the good ones go through the same pipeline as polled mentions, in batches.

What `bot.py export` writes (either format) reads back as it was: its time column `when`
is the published time, its `source` column names the source (unless --source is given),
the analysis it carries (brands, flags, sentiment, ...) is worked out again and its
mention ids are kept. A row repeating an earlier row's mention is skipped, first wins.
"""

from __future__ import annotations

import csv
import html
import json
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from tqdm import tqdm

from core.clock import Clock
from core.models import Mention
from rules.text import one_line, strip_invisible
from sources.inbound import METRIC_KEYS, RejectedInput, parse_record

BATCH = 500
MAX_LINE_CHARS = 1_000_000
SHOWN_REJECTS = 20
DEFAULT_SOURCE = "import"
# Export's columns that the inbound schema does not have: what the pipeline works out again
# from the text (or, for fetched_at, from the import itself). `when` and `source` are read.
DERIVED = frozenset(
    {
        "brands",
        "flags",
        "sentiment",
        "sentiment_label",
        "complaint",
        "aspects",
        "severity",
        "reach",
        "kol_tier",
        "lang",
        "fetched_at",
    }
)
EXPORT_ONLY = DERIVED | {"when"}
# A source name as the config allows it.
SOURCE_NAME = re.compile(r"[A-Za-z0-9_.\-]{1,100}")
# A mention id as Buzzwatch makes them (sources/rss.py mention_id): kept as it is.
MENTION_ID = re.compile(r"m[0-9a-f]{20}")
# Export puts an apostrophe before a cell a spreadsheet would run as a formula (and before
# one that already starts with apostrophes and then such a character): one comes off.
_ESCAPED_FORMULA = re.compile(r"'+[=+\-@\t\r]")


@dataclass
class ImportReport:
    rows: int = 0
    accepted: int = 0
    new: int = 0
    alerts: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)
    duplicates: list[tuple[int, str]] = field(default_factory=list)

    def summary(self) -> str:
        skipped = f"{len(self.duplicates)} duplicate(s) skipped, " if self.duplicates else ""
        lines = [
            f"{self.rows} row(s): {self.accepted} accepted ({self.new} new, "
            f"{self.alerts} alert(s)), {skipped}{len(self.rejected)} rejected"
        ]
        if self.rejected:
            reasons = Counter(reason.split(":")[0] for _, reason in self.rejected)
            lines.append(
                "rejected by reason: " + "; ".join(f"{r} ×{n}" for r, n in reasons.most_common(5))
            )
            for line, reason in self.rejected[:SHOWN_REJECTS]:
                lines.append(f"  line {line}: {reason}")
            if len(self.rejected) > SHOWN_REJECTS:
                lines.append(f"  … and {len(self.rejected) - SHOWN_REJECTS} more")
        if self.duplicates:
            lines.append("skipped (first wins):")
            for line, reason in self.duplicates[:SHOWN_REJECTS]:
                lines.append(f"  line {line}: {reason}")
            if len(self.duplicates) > SHOWN_REJECTS:
                lines.append(f"  … and {len(self.duplicates) - SHOWN_REJECTS} more")
        return "\n".join(lines)


# What a malformed row can raise on its way to a mention (beyond RejectedInput): nesting
# deeper than the recursion limit, a number or a date beyond range, and the like.
ROW_ERRORS = (RecursionError, OverflowError, ValueError, TypeError)
# Bytes that are not UTF-8, as the "surrogateescape" error handler decodes them.
_NOT_UTF8 = re.compile("[\udc80-\udcff]")


def _jsonl_rows(stream: TextIO) -> Iterator[tuple[int, Any]]:
    for number, line in enumerate(stream, start=1):
        if not line.strip():
            continue
        if len(line) > MAX_LINE_CHARS:
            yield number, RejectedInput([f"line is over {MAX_LINE_CHARS:,} characters"])
            continue
        if _NOT_UTF8.search(line):
            yield number, RejectedInput(["not valid UTF-8"])
            continue
        try:
            yield number, json.loads(line)
        except ValueError as err:
            yield number, RejectedInput([f"not valid JSON: {err}"])
        except RecursionError:
            yield number, RejectedInput(["not valid JSON: nested too deeply"])


def _csv_rows(stream: TextIO) -> Iterator[tuple[int, Any]]:
    # The default limit (131,072 characters a field) raises csv.Error; a field that long is
    # refused by the schema, with its line number, instead.
    csv.field_size_limit(max(csv.field_size_limit(), MAX_LINE_CHARS))
    reader = csv.DictReader(stream)
    lines = reader.reader  # DictReader.line_num is not updated when a row fails
    while True:
        before = lines.line_num
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as err:  # the reader starts afresh on the next line
            yield lines.line_num, RejectedInput([f"not valid CSV: {err}"])
            if lines.line_num == before:  # nothing was consumed: it would fail forever
                return
            continue
        number = lines.line_num
        if None in row:
            yield number, RejectedInput(["more cells than the header has columns"])
            continue
        if any(_NOT_UTF8.search(name) for name in reader.fieldnames or ()):
            yield number, RejectedInput(["the header line is not valid UTF-8"])
            continue
        if any(isinstance(v, str) and _NOT_UTF8.search(v) for v in row.values()):
            yield number, RejectedInput(["not valid UTF-8"])
            continue
        record: dict[str, Any] = {}
        metrics: dict[str, Any] = {}
        for key, value in row.items():
            if value is None or value == "":
                continue
            if _ESCAPED_FORMULA.match(value):
                value = value[1:]
            (metrics if key in METRIC_KEYS else record)[key] = value
        if metrics:
            record["metrics"] = metrics
        yield number, record


def _from_export(record: dict[str, Any], source: str | None) -> tuple[dict[str, Any], str]:
    """An exported row -> the inbound schema and its source name. Raises RejectedInput."""
    record = dict(record)
    named = record.pop("source", None)
    if source is None:
        if named in (None, ""):
            named = DEFAULT_SOURCE
        if not isinstance(named, str) or not SOURCE_NAME.fullmatch(named):
            raise RejectedInput(
                ["source: letters, digits, '_', '.' and '-' only (or give --source NAME)"]
            )
        source = named
    exported = not EXPORT_ONLY.isdisjoint(record)
    # The time a mention was said: export's `when` is published, else fetched.
    said = record.pop("when", None) or record.get("fetched_at")
    if record.get("published") in (None, "") and said:
        record["published"] = said
    for key in DERIVED:
        record.pop(key, None)
    if exported:  # plain text as export wrote it, not HTML to clean again: "a<b>c" stays
        for key in ("title", "text", "author"):
            if isinstance(record.get(key), str):
                record[key] = html.escape(record[key], quote=False)
    return record, source


def _shown(value: object) -> str:
    return one_line(strip_invisible(str(value)))[:80]


def import_file(
    path: Path,
    source: str | None,
    process: Callable[[str, list[Mention]], Any],
    clock: Clock,
    progress: bool = True,
) -> ImportReport:
    """Read `path`, hand accepted mentions to `process(source, batch)` BATCH at a time.
    `source` None: each row's own `source` (as export writes it), else DEFAULT_SOURCE."""
    report = ImportReport()
    suffix = path.suffix.lower()
    if suffix not in (".jsonl", ".ndjson", ".csv"):
        raise ValueError(f"{path}: give a .jsonl or .csv file")
    size = path.stat().st_size
    batches: dict[str, list[Mention]] = {}
    pending = 0
    first_line: dict[str, tuple[int, Any]] = {}  # mention id -> (line, the row's id)

    def flush() -> None:
        nonlocal pending
        for name, batch in batches.items():
            result = process(name, batch)
            report.new += getattr(result, "new", 0)
            report.alerts += len(getattr(result, "alerts", []))
        batches.clear()
        pending = 0

    def read(data: Any) -> Mention:
        if isinstance(data, RejectedInput):
            raise data
        if not isinstance(data, dict):
            return parse_record(data, source or DEFAULT_SOURCE, clock.now())  # says why not
        record, name = _from_export(data, source)
        mention = parse_record(record, name, clock.now())
        given = record.get("id")
        if isinstance(given, str) and MENTION_ID.fullmatch(given.strip()):
            mention.id = given.strip()  # an exported mention keeps its id
        return mention

    with (
        # Undecodable bytes are kept (as lone surrogates) so that only their row is refused.
        path.open(encoding="utf-8-sig", errors="surrogateescape", newline="") as stream,
        tqdm(total=size, unit="B", unit_scale=True, disable=not progress, desc=path.name) as bar,
    ):
        rows = _csv_rows(stream) if suffix == ".csv" else _jsonl_rows(stream)
        position = 0
        for number, data in rows:
            report.rows += 1
            try:
                mention = read(data)
                given = data.get("id") if isinstance(data, dict) else None
                if mention.id in first_line:
                    line, first_id = first_line[mention.id]
                    what = f"id {_shown(given)}" if given and given == first_id else "mention"
                    report.duplicates.append((number, f"duplicate of line {line} (same {what})"))
                else:
                    first_line[mention.id] = (number, given)
                    batches.setdefault(mention.source, []).append(mention)
                    pending += 1
                    report.accepted += 1
            except RejectedInput as err:
                report.rejected.append((number, "; ".join(err.problems)[:300]))
            except ROW_ERRORS as err:  # one odd row does not end the import
                reason = one_line(strip_invisible(f"cannot read: {type(err).__name__}: {err}"))
                report.rejected.append((number, reason[:300]))
            if pending >= BATCH:
                flush()
            if report.rows % 200 == 0:
                now_at = stream.buffer.tell() if hasattr(stream, "buffer") else position
                bar.update(max(0, now_at - bar.n))
        flush()
        bar.update(max(0, size - bar.n))
    return report
