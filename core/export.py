"""Exporting stored mentions as CSV or JSON lines, oldest first.

CSV cells that a spreadsheet would read as a formula (=, +, -, @ ...) get a leading
apostrophe: mention text is third-party text and must not run in someone's Excel.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, TextIO

from core.digest import sentiment_kind
from core.models import from_iso

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
    "flags",
    "aspects",
    "severity",
    "reach",
    "kol_tier",
]
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
    return "'" + text if text.startswith(_FORMULA_START) else text


def write(
    docs: list[dict[str, Any]],
    fmt: str,
    stream: TextIO,
    *,
    negative_threshold: float,
    positive_threshold: float,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Write the records; call `progress(n)` every so often with the count done since."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    writer = csv.writer(stream) if fmt == "csv" else None
    if writer:
        writer.writerow(CSV_COLUMNS)
    step = 1000
    for n, doc in enumerate(docs, 1):
        if writer:
            score = float(doc.get("sentiment") or 0.0)
            row = dict(doc)
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
