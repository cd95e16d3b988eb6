"""Reading a command line: words, `mentions` queries, alert ids, report arguments."""

from __future__ import annotations

import shlex
from datetime import timedelta

from core.commands.context import UsageError
from core.config import Config
from core.domain.durations import check_report_since, parse_duration
from core.domain.models import Flag
from core.domain.query import MAX_LIMIT, SENTIMENTS, MentionQuery

MAX_COMMAND_CHARS = 500
QUERY_KEYS = frozenset({"since", "sentiment", "flag", "brand", "source", "limit", "page", "offset"})


def tokenize(text: str) -> list[str]:
    try:
        return shlex.split(text)
    except ValueError:  # an unbalanced quote: fall back to plain words
        return text.split()


def command_word(word: str) -> str:
    """The command a line's first word names, as the registry knows it: `/Status` is status."""
    return word.lstrip("/").lower()


def parse_query(args: list[str]) -> MentionQuery:
    q = MentionQuery()
    for arg in args:
        key, sep, value = arg.partition(":")
        key = key.lower()
        if not sep or key not in QUERY_KEYS:
            q.words.append(arg)
            continue
        if not value:
            raise UsageError(f"`{key}:` needs a value")
        if key == "since":
            try:
                q.since = parse_duration(value)
            except ValueError:
                raise UsageError(
                    f"since:{value[:20]} is not a duration; try since:24h or since:7d"
                ) from None
        elif key == "sentiment":
            if value.lower() not in SENTIMENTS:
                raise UsageError("sentiment: takes neg, pos or neu")
            q.sentiment = SENTIMENTS[value.lower()]
        elif key == "flag":
            try:
                q.flags.append(Flag(value.lower()).value)
            except ValueError:
                raise UsageError(
                    f"unknown flag {value!r}; flags: {', '.join(f.value for f in Flag)}"
                ) from None
        elif key in ("brand", "source"):
            setattr(q, key, value)
        else:
            if not (value.isascii() and value.isdigit()):
                raise UsageError(f"{key}: takes a whole number")
            n = int(value)
            if key == "limit":
                q.limit = max(1, min(MAX_LIMIT, n))
            else:
                q.offset = n
    return q


def alert_id(args: list[str], usage: str) -> str:
    """The alert id a command's first argument names (A12), or a UsageError."""
    if not args:
        raise UsageError(f"usage: {usage}")
    found = args[0].strip().upper()
    if (
        not found.startswith("A")
        or not (found.isascii() and found[1:].isdigit())
        or len(found) > 10
    ):
        raise UsageError(f"{args[0][:20]!r} is not an alert id (they look like A12)")
    return found


def report_args(
    config: Config, args: list[str], default: timedelta
) -> tuple[str | None, timedelta]:
    """`digest`/`stats` arguments: an optional brand (`acme` or `brand:acme`) and `since:`."""
    brand, since = None, default
    for arg in args:
        key, sep, value = arg.partition(":")
        if sep and key.lower() == "since":
            try:
                since = parse_duration(value)
            except ValueError:
                raise UsageError(f"since:{value[:20]} is not a duration; try since:7d") from None
            try:
                check_report_since(since)
            except ValueError as err:
                raise UsageError(f"since: {err}") from None
            continue
        name = value if sep and key.lower() == "brand" else arg
        found = config.brand(name)
        if found is None:
            known = ", ".join(b.name for b in config.brands)
            raise UsageError(f"unknown brand {name[:40]!r}; brands: {known}")
        brand = found.name
    return brand, since
