"""`python bot.py import FILE.jsonl|csv [--source NAME]`: backfill mentions from a file.

Each line (JSON Lines) or row (CSV with a header) is one mention in the inbound schema
(core/intake/mention_schema.py); CSV metrics go in columns named followers, likes, comments,
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
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from pydantic import TypeAdapter
from tqdm import tqdm

from core.domain.clock import Clock
from core.domain.durations import format_duration
from core.domain.models import EARLIEST_PUBLISHED, FUTURE_SLACK, IMPORT_SOURCE, Mention
from core.intake.mention_schema import METRIC_KEYS, InboundMention, RejectedInput, parse_record
from rules.text import one_line, strip_invisible

BATCH = 500
MAX_LINE_CHARS = 1_000_000
SHOWN_REJECTS = 20
SHOWN_REASONS = 5
DEFAULT_SOURCE = IMPORT_SOURCE
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
# The columns a CSV file may have: the inbound schema's, its metrics, and export's.
CSV_COLUMNS = (
    frozenset(InboundMention.model_fields) - {"metrics"} | METRIC_KEYS | EXPORT_ONLY | {"source"}
)
_WHEN = TypeAdapter(datetime)
# A source name as the config allows it.
SOURCE_NAME = re.compile(r"[A-Za-z0-9_.\-]{1,100}")
# A mention id as Buzzwatch makes them (core/intake/records.py mention_id): kept as it is.
MENTION_ID = re.compile(r"m[0-9a-f]{20}")
# Export puts an apostrophe before a cell a spreadsheet would run as a formula (and before
# one that already starts with apostrophes and then such a character): one comes off.
_ESCAPED_FORMULA = re.compile(r"'+[=+\-@\t\r]")


@dataclass
class ImportReport:
    rows: int = 0
    accepted: int = 0
    new: int = 0  # accepted and not seen before
    stored: int = 0  # of the new, those naming a brand (the others are only remembered)
    alerts: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)
    duplicates: list[tuple[int, str]] = field(default_factory=list)
    stopped: bool = False  # stopped (Ctrl-C, SIGTERM) before the end of the file
    last_line: int = 0  # the line (CSV: the row's first line) read last

    def summary(self) -> str:
        skipped = f"{len(self.duplicates)} duplicate(s) skipped, " if self.duplicates else ""
        fates = [f"{self.stored} stored"]
        if self.new > self.stored:
            fates.append(f"{self.new - self.stored} naming no brand, not stored")
        if self.accepted > self.new:
            fates.append(f"{self.accepted - self.new} seen before")
        lines = [
            f"{self.rows} row(s): {self.accepted} accepted ({', '.join(fates)}; "
            f"{self.alerts} alert(s)), {skipped}{len(self.rejected)} rejected"
        ]
        if self.rejected:
            lines.append("rejected by reason: " + _by_reason(self.rejected))
            for line, reason in self.rejected[:SHOWN_REJECTS]:
                lines.append(f"  line {line}: {reason}")
            if len(self.rejected) > SHOWN_REJECTS:
                lines.append(f"  … and {len(self.rejected) - SHOWN_REJECTS} more")
            if any(reason.endswith("not valid UTF-8") for _, reason in self.rejected):
                # A spreadsheet saved on a Chinese Windows is GBK: every row said only this.
                lines.append(NOT_UTF8_HINT)
        if self.duplicates:
            lines.append("skipped (first wins):")
            for line, reason in self.duplicates[:SHOWN_REJECTS]:
                lines.append(f"  line {line}: {reason}")
            if len(self.duplicates) > SHOWN_REJECTS:
                lines.append(f"  … and {len(self.duplicates) - SHOWN_REJECTS} more")
        if self.stopped:
            lines.append(
                f"stopped after line {self.last_line}: the rows up to it are all "
                "there; run the same import again for the rest (rows already stored are "
                "skipped as seen before)"
            )
        return "\n".join(lines)


NOT_UTF8_HINT = (
    'files are read as UTF-8: save the file as UTF-8 (Excel: "CSV UTF-8"; WPS: encoding '
    "UTF-8), or convert it, e.g. `iconv -f GB18030 -t UTF-8 in.csv > in-utf8.csv`"
)


def _by_reason(rejected: list[tuple[int, str]]) -> str:
    """The commonest reasons with their counts; the counts always add up to the rejections."""
    reasons = Counter(reason.split(":")[0] for _, reason in rejected).most_common()
    shown = [f"{r} ×{n}" for r, n in reasons[:SHOWN_REASONS]]
    rest = reasons[SHOWN_REASONS:]
    if rest:
        shown.append(f"{len(rest)} other reason(s) ×{sum(n for _, n in rest)}")
    return "; ".join(shown)


# What a malformed row can raise on its way to a mention (beyond RejectedInput): nesting
# deeper than the recursion limit, a number or a date beyond range, and the like.
ROW_ERRORS = (RecursionError, OverflowError, ValueError, TypeError)
# Bytes that are not UTF-8, as the "surrogateescape" error handler decodes them.
_NOT_UTF8 = re.compile("[\udc80-\udcff]")


TOO_LONG = f"line is over {MAX_LINE_CHARS:,} characters"


def bounded_lines(stream: TextIO, limit: int = MAX_LINE_CHARS) -> Iterator[str | None]:
    """The stream's lines, None for one over `limit` characters (its end of line counted):
    such a line is read a piece at a time and dropped, never held whole (an 800 MB line
    took 1.7 GB), so memory stays bounded whatever the file holds."""
    while line := stream.readline(limit + 1):
        if len(line) <= limit:
            yield line
            continue
        while not line.endswith(("\n", "\r")) and (line := stream.readline(limit)):
            pass  # the rest of the long line
        yield None


def _jsonl_rows(stream: TextIO) -> Iterator[tuple[int, Any]]:
    for number, line in enumerate(bounded_lines(stream), start=1):
        if line is None:
            yield number, RejectedInput([TOO_LONG])
            continue
        if not line.strip():
            continue
        if _NOT_UTF8.search(line):
            yield number, RejectedInput(["not valid UTF-8"])
            continue
        try:
            yield number, json.loads(line)
        except json.JSONDecodeError as err:
            yield number, RejectedInput([f"not valid JSON: {err}"])
        except ValueError:  # int('9' * 5000): the message was advice for a Python programmer
            yield number, RejectedInput(["not valid JSON: a number over 4,300 digits long"])
        except RecursionError:
            yield number, RejectedInput(["not valid JSON: nested too deeply"])


class _Lines:
    """The file's physical lines for the CSV reader, numbered; the lines of the record being
    read are kept, and lines can be put back to be read again."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.number = 0
        self.taken: list[tuple[int, str]] = []
        self.too_long: set[int] = set()  # numbers of the lines over MAX_LINE_CHARS
        self._back: list[tuple[int, str]] = []
        self._lines = bounded_lines(stream)

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        if self._back:
            number, line = self._back.pop()
        else:
            read = next(self._lines)
            self.number += 1
            number = self.number
            if read is None:  # the reader sees an empty line; its row is refused for it
                self.too_long.add(number)
            line = "\n" if read is None else read
        self.taken.append((number, line))
        return line

    def put_back(self, lines: list[tuple[int, str]]) -> None:
        self._back.extend(reversed(lines))


def _csv_rows(stream: TextIO) -> Iterator[tuple[int, Any]]:
    # The default limit (131,072 characters a field) raises csv.Error; a field that long is
    # refused by the schema, with its line number, instead.
    csv.field_size_limit(max(csv.field_size_limit(), MAX_LINE_CHARS))
    lines = _Lines(stream)
    # strict: a quote left open is an error, not a cell that silently takes in the rows after it
    reader = csv.reader(lines, strict=True)
    try:
        header = next(reader, None)
    except csv.Error as err:
        raise ValueError(f"line 1: the header is not valid CSV: {err}") from None
    if header is None:
        return
    if lines.too_long:
        raise ValueError(f"line 1: the header is not valid CSV: {TOO_LONG}")
    bad_header = any(_NOT_UTF8.search(name) for name in header)
    unknown = [n for n in header if n and n not in CSV_COLUMNS and not _NOT_UTF8.search(n)]
    if unknown:
        # Every row would be refused for them, each with the list of them (a header of 10^5
        # columns: 10^5 rejections of 300 characters that named the first few).
        shown = ", ".join(_shown(n)[:40] for n in unknown[:10])
        more = f" … ({len(unknown)} in all)" if len(unknown) > 10 else ""
        # `id;text;published` (a spreadsheet in a locale whose list separator is `;`) is one
        # column to a comma-separated reader.
        split = next((c for c in ";\t|" if len(header) == 1 and c in header[0]), "")
        said = (
            f" (separated by {split!r}: the file must separate columns by commas)" if split else ""
        )
        raise ValueError(
            f"line 1: the header has column(s) Buzzwatch does not read: {shown}{more}{said}; "
            f"it reads {', '.join(sorted(CSV_COLUMNS - DERIVED))} (and what export writes)"
        )
    while True:
        lines.taken.clear()
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as err:
            taken = list(lines.taken)
            if not taken:  # nothing was consumed: it would fail forever
                return
            first, last = taken[0][0], taken[-1][0]
            if len(taken) == 1:
                yield first, RejectedInput([f"not valid CSV: {err}"])
                continue
            # A quote opened a cell on the first line and did not close where the cell ends:
            # that line is refused, the lines it took in are read again as rows of their own.
            yield (
                first,
                RejectedInput(
                    [
                        f"not valid CSV: a quote opens a cell on this line and is not closed "
                        f"(it ran on to line {last}: {err}); the lines after it are read on their own"
                    ]
                ),
            )
            lines.put_back(taken[1:])
            continue
        number = lines.taken[0][0]
        if not lines.too_long.isdisjoint(n for n, _ in lines.taken):
            yield number, RejectedInput([f"not valid CSV: {TOO_LONG}"])
            continue
        if not cells:  # a blank line
            continue
        if len(cells) > len(header):
            yield number, RejectedInput(["more cells than the header has columns"])
            continue
        if bad_header:
            yield number, RejectedInput(["the header line is not valid UTF-8"])
            continue
        if any(_NOT_UTF8.search(v) for v in cells):
            yield number, RejectedInput(["not valid UTF-8"])
            continue
        record: dict[str, Any] = {}
        metrics: dict[str, Any] = {}
        for key, value in zip(header, cells, strict=False):
            if value == "":
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


_TIME_FORMS = "an ISO 8601 time like 2026-11-28T09:12:00+08:00, or Unix seconds"


def _time_problem(problem: str, record: dict[str, Any]) -> str:
    """pydantic's words for an unreadable `published`, in ours."""
    if not problem.startswith("published:"):
        return problem
    return f"published: {_shown(record.get('published'))!r} is not a time ({_TIME_FORMS})"


def _implausible(value: object, now: datetime) -> str:
    """Why a readable `published` was not taken. A backfill is about when things were said:
    a time that cannot be right is refused (fix the file and import again), not stored as
    unknown, where the import's own time would stand in and put an old post in today."""
    try:
        when = _WHEN.validate_python(value)
        when = when if when.tzinfo else when.replace(tzinfo=UTC)
        why = (
            f"before {EARLIEST_PUBLISHED:%Y}"
            if when < EARLIEST_PUBLISHED
            else f"more than {format_duration(FUTURE_SLACK)} after the import"
        )
    except (ValueError, OverflowError):
        why = "out of range"
    return f"published: {_shown(value)} is not a plausible time ({why})"


def import_file(
    path: Path,
    source: str | None,
    process: Callable[[str, list[Mention]], Any],
    clock: Clock,
    progress: bool = True,
    stop: threading.Event | None = None,
    report: ImportReport | None = None,
) -> ImportReport:
    """Read `path`, hand accepted mentions to `process(source, batch)` BATCH at a time.
    `source` None: each row's own `source` (as export writes it), else DEFAULT_SOURCE.
    Once `stop` is set (Ctrl-C, SIGTERM), the rows read so far are handed over and the
    rest of the file is left: the report says where it stopped. `report`: the one to fill
    (the caller's: it still says how far the import got if storing fails)."""
    report = report if report is not None else ImportReport()
    suffix = path.suffix.lower()
    if suffix not in (".jsonl", ".ndjson", ".csv"):
        raise ValueError(f"{path}: give a .jsonl or .csv file")
    size = path.stat().st_size
    batches: dict[str, list[Mention]] = {}
    pending = 0
    first_line: dict[str, tuple[int, Any]] = {}  # mention id -> (line, the row's id)
    first_given: dict[tuple[str, Any], int] = {}  # (source, the row's id) -> line

    def flush() -> None:
        nonlocal pending
        for name, batch in batches.items():
            result = process(name, batch)
            report.new += getattr(result, "new", 0)
            report.stored += getattr(result, "matched", 0)
            report.alerts += len(getattr(result, "alerts", []))
        batches.clear()
        pending = 0

    def read(data: Any) -> Mention:
        if isinstance(data, RejectedInput):
            raise data
        if not isinstance(data, dict):
            return parse_record(data, source or DEFAULT_SOURCE, clock.now())  # says why not
        record, name = _from_export(data, source)
        try:
            mention = parse_record(record, name, clock.now())
        except RejectedInput as err:
            raise RejectedInput([_time_problem(p, record) for p in err.problems]) from None
        if mention.published is None and record.get("published") not in (None, ""):
            raise RejectedInput([_implausible(record["published"], clock.now())])
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
            if stop is not None and stop.is_set():
                report.stopped = True
                break
            report.rows += 1
            report.last_line = number
            try:
                mention = read(data)
                given = data.get("id") if isinstance(data, dict) else None
                given = given.strip() if isinstance(given, str) else given
                # The same id is the same post, with or without a link: the link, when there is
                # one, makes the mention id (core/intake/records.py), so the id is checked too.
                same_id = first_given.get((mention.source, given)) if given else None
                if same_id is not None:
                    report.duplicates.append(
                        (number, f"duplicate of line {same_id} (same id {_shown(given)})")
                    )
                elif mention.id in first_line:
                    line, first_id = first_line[mention.id]
                    what = f"id {_shown(given)}" if given and given == first_id else "mention"
                    report.duplicates.append((number, f"duplicate of line {line} (same {what})"))
                else:
                    first_line[mention.id] = (number, given)
                    if given:
                        first_given[(mention.source, given)] = number
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
                # The bytes under the text have a tell(); typeshed's type for them
                # (_WrappedBuffer) leaves it out, hence Any.
                buffer: Any = getattr(stream, "buffer", None)
                now_at = buffer.tell() if buffer is not None else position
                bar.update(max(0, now_at - bar.n))
        flush()
        bar.update(max(0, size - bar.n))
    return report
