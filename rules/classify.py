"""`bot.py classify`: text or JSON lines in, one JSON analysis per line out, in order."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from typing import Any

from core.domain.models import Mention
from rules.analyze import Analyzer
from rules.text import strip_markup

MAX_LINE_CHARS = 20_000
# Bytes that are not UTF-8, as the "surrogateescape" error handler decodes them.
_NOT_UTF8 = re.compile("[\udc80-\udcff]")


def _mention_from_line(line: str, n: int) -> Mention:
    """A JSON object with a string `text` and/or `title` -> that mention; any other JSON
    ([1, 2], "a string", 42, null) -> ValueError; a line that is not JSON -> its text. A line
    starting with '{' that is not JSON is taken for broken JSON (ValueError), not text."""
    stripped = line.strip()
    try:
        data = json.loads(stripped, parse_constant=_not_json)
    except RecursionError:
        raise ValueError("nested too deeply") from None
    except ValueError as err:
        if stripped.startswith("{"):
            raise ValueError(f"not valid JSON: {err}") from None
        return Mention(
            id=f"line{n}", source="classify", url="", title="", text=strip_markup(stripped)
        )
    if not isinstance(data, dict):
        raise ValueError(f"a JSON line must be an object, not {_json_kind(data)}")
    text, title = data.get("text"), data.get("title")
    for key, value in (("text", text), ("title", title)):
        if value is not None and not isinstance(value, str):
            raise ValueError(f"'{key}' must be a string")
    if not (text or "").strip() and not (title or "").strip():
        raise ValueError("a JSON line needs a string field 'text' (or 'title')")
    metrics = data.get("metrics") or {}
    if not isinstance(metrics, dict):
        raise ValueError("'metrics' must be an object")
    return Mention(
        id=f"line{n}",
        source=str(data.get("source", "classify")),
        url="",
        title=strip_markup(title or ""),
        text=strip_markup(text or ""),
        author=str(data.get("author", "") or ""),
        lang=_lang(data.get("lang")),
        metrics={str(k): _count(k, v) for k, v in metrics.items() if isinstance(v, int | float)},
    )


# A language code as given (en, zh, zh-Hans): it is echoed in the result.
_LANG = re.compile(r"[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8}){0,3}")


def _lang(value: object) -> str:
    """The line's `lang`, if it gives one: "\ud800" in it ended classify with a traceback
    when its result was printed."""
    if value is None or value == "":
        return ""
    if not isinstance(value, str) or not _LANG.fullmatch(value):
        raise ValueError("'lang' must be a language code like en or zh")
    return value


# What a metric may be: the inbound schema's range (core.intake.mention_schema).
MAX_METRIC = 10**12


def _count(key: object, value: float) -> int:
    """A metric as a count: 1e999 (read as infinity) raised OverflowError, a traceback."""
    if not 0 <= value < MAX_METRIC:
        raise ValueError(f"metrics.{_shown(key)} must be a number from 0 to 10^12")
    return int(value)


def _shown(key: object) -> str:
    return str(key).encode("unicode_escape").decode("ascii")[:40]


def _not_json(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")  # Python's json reads NaN and Infinity; JSON has none


def _json_kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    names: dict[type, str] = {list: "an array", str: "a string"}
    return names.get(type(value), "a number")


def classify_one(line: str, n: int, analyzer: Analyzer, brand: str | None) -> dict[str, Any]:
    if len(line) > MAX_LINE_CHARS:
        return {"line": n, "error": f"line is over {MAX_LINE_CHARS} characters"}
    if not line.strip():
        return {"line": n, "error": "empty line"}
    if _NOT_UTF8.search(line):
        return {"line": n, "error": "not valid UTF-8"}
    try:
        mention = _mention_from_line(line, n)
    except (ValueError, TypeError) as err:
        return {"line": n, "error": f"bad JSON line: {err}"}
    m = analyzer.analyze(mention, brand=brand)
    return {
        "line": n,
        "lang": m.lang,
        "sentiment": round(m.sentiment, 4),
        "complaint": round(m.complaint, 3),
        "flags": m.flags,
        "aspects": m.aspects,
        "severity": m.severity,
        "brands": m.brands,
        "reach": m.reach,
        "kol_tier": m.kol_tier,
    }


def classify_lines(
    lines: Iterable[str], analyzer: Analyzer, brand: str | None = None
) -> Iterator[str]:
    for n, line in enumerate(lines, 1):
        yield json.dumps(classify_one(line.rstrip("\n"), n, analyzer, brand), ensure_ascii=False)
