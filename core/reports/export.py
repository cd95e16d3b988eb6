"""Exporting stored mentions as CSV or JSON lines, oldest first.

CSV cells that a spreadsheet would read as a formula (=, +, -, @ ...) get a leading
apostrophe: mention text is third-party text and must not run in someone's Excel.
Times are ISO 8601 with the offset of the configured time zone (2026-11-28T09:12:00+08:00),
so a spreadsheet shows local time and a program still reads the exact instant.
`bot.py import` reads both formats back (sources/importer.py).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, tzinfo
from typing import Any, TextIO

from core.domain.models import from_iso
from core.reports.query import sentiment_kind

FORMATS = ("csv", "jsonl")
CSV_COLUMNS = [
    "id",
    "when",
    "source",
    "brands",
    "author",
    "title",
    "text",
    "url",
    "lang",
    "sentiment",
    "sentiment_label",
    "complaint",
    "flags",
    "aspects",
    "severity",
    "reach",
    "kol_tier",
    # The metrics, so that an export imports back whole (sources/importer.py).
    "followers",
    "likes",
    "comments",
    "reposts",
    "points",
    "views",
]
METRIC_COLUMNS = CSV_COLUMNS[CSV_COLUMNS.index("followers") :]
TIME_KEYS = ("published", "fetched_at")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def select(
    mentions: Iterable[dict[str, Any]], since: datetime, brand: str | None = None
) -> list[dict[str, Any]]:
    """The records said at or after `since` (of `brand`), oldest first, without the
    in-memory helper keys (those starting with '_')."""
    wanted = brand.casefold() if brand else None
    out = []
    for doc in mentions:
        try:
            when = from_iso(doc.get("published") or doc.get("fetched_at"))
        except (TypeError, ValueError):
            continue
        if when is None or when < since:
            continue
        if wanted and wanted not in (str(b).casefold() for b in doc.get("brands") or ()):
            continue
        out.append((when, {k: v for k, v in doc.items() if not k.startswith("_")}))
    out.sort(key=lambda pair: (pair[0], str(pair[1].get("id", ""))))
    return [doc for _, doc in out]


def _cell(value: Any) -> str:
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int | float):
        return (
            str(round(value, 4)) if isinstance(value, float) else str(value)
        )  # numbers stay numbers
    if isinstance(value, list):
        value = ";".join(str(v) for v in value)
    text = "" if value is None else str(value)
    # Also "'=x": import takes one apostrophe off a cell that then starts like a formula.
    return "'" + text if text.lstrip("'").startswith(_FORMULA_START) else text


def _local(value: Any, tz: tzinfo) -> Any:
    """An ISO time as ISO with the offset of `tz`; anything else as it is."""
    try:
        when = from_iso(value) if isinstance(value, str) else None
        return when.astimezone(tz).isoformat() if when else value
    except (OverflowError, ValueError):  # year 1 or 9999 shifted out of range: keep UTC
        return value


def write(
    docs: list[dict[str, Any]],
    fmt: str,
    stream: TextIO,
    *,
    negative_threshold: float,
    positive_threshold: float,
    progress: Callable[[int], None] | None = None,
    tz: tzinfo = UTC,
) -> int:
    """Write the records, times in `tz`; call `progress(n)` every so often with the count
    done since."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    writer = csv.writer(stream) if fmt == "csv" else None
    if writer:
        writer.writerow(CSV_COLUMNS)
    step = 1000
    for n, doc in enumerate(docs, 1):
        doc = {**doc, **{k: _local(doc[k], tz) for k in TIME_KEYS if k in doc}}
        if writer:
            score = float(doc.get("sentiment") or 0.0)
            row = dict(doc)
            metrics = doc.get("metrics")
            if isinstance(metrics, dict):
                row.update({key: metrics.get(key) for key in METRIC_COLUMNS})
            row["when"] = doc.get("published") or doc.get("fetched_at") or ""
            row["sentiment_label"] = sentiment_kind(score, negative_threshold, positive_threshold)
            writer.writerow([_cell(row.get(col)) for col in CSV_COLUMNS])
        else:
            stream.write(json.dumps(doc, ensure_ascii=False, sort_keys=True) + "\n")
        if progress and n % step == 0:
            progress(step)
    if progress and len(docs) % step:
        progress(len(docs) % step)
    return len(docs)
