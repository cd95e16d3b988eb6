"""Reading a command line: words, `mentions` queries, alert ids, report arguments."""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable
from datetime import timedelta

from core.commands.context import UsageError
from core.config import Config
from core.domain import durations
from core.domain.durations import DurationTooLong, format_duration, parse_duration
from core.domain.models import IMPORT_SOURCE, Flag
from core.domain.query import MAX_LIMIT, SENTIMENTS, SINCE_RANGE, MentionQuery
from rules.text import strip_invisible

MAX_COMMAND_CHARS = 500
QUERY_KEYS = frozenset({"since", "sentiment", "flag", "brand", "source", "limit", "page", "offset"})
# A lone surrogate: what a chat's JSON ("\\ud800" escaped) or a command line's bytes that are not
# UTF-8 decode to; no store can take it (SQLite's driver refused the search with a traceback).
_SURROGATE = re.compile("[\ud800-\udfff]")


def tokenize(text: str) -> list[str]:
    """A command line's words. Every kind of whitespace separates them alike: a newline (a
    chat message typed on two lines), a tab, the ideographic space of Chinese input (U+3000),
    the no-break space some chat apps send; shlex alone splits on ASCII space, tab and
    newline only, and `since:7d` after a U+3000 was searched for as a word.

    Characters nobody sees are dropped (controls, NUL included, which cut SQLite's full-text
    query short; zero-width and bidi marks: `limit` U+200B `:5` is `limit:5`), and a lone
    surrogate reads as U+FFFD."""
    text = "".join(" " if c.isspace() else c for c in text)
    text = _SURROGATE.sub("\ufffd", strip_invisible(text))
    try:
        words = shlex.split(text)
    except ValueError:  # an unbalanced quote: fall back to plain words
        words = text.split()
    return [filter_colon(w) for w in words]


def filter_colon(word: str) -> str:
    """`since：24h` with the full-width colon a Chinese keyboard types is `since:24h`
    (only after a filter's name: other words keep theirs; search text folds it anyway)."""
    key, sep, value = word.partition("：")
    return f"{key}:{value}" if sep and key.lower() in QUERY_KEYS else word


def command_word(word: str) -> str:
    """The command a line's first word names, as the registry knows it: `/Status` is status."""
    return word.lstrip("/").lower()


# The filters a query takes once: a second, different value is refused rather than one of
# them silently winning. brand: and source: included: "brand:a brand:b" could mean either
# brand or both, and the reply would answer a question the user did not ask. Only flag:
# repeats (flag:kol flag:negative: mentions with both flags).
# Filters given twice must agree. Paging words are where you are, not what you search: the
# last offset: or page: wins, so a next-page button or hint that adds offset:N to a query
# that already pages works.
SINGLE_KEYS = frozenset(QUERY_KEYS - {"flag", "offset", "page"})


def parse_query(args: list[str]) -> MentionQuery:
    q = MentionQuery()
    given: dict[str, tuple[str, object]] = {}  # key -> (as typed, as read)
    page = 0
    for arg in args:
        key, sep, value = arg.partition(":")
        key = key.lower()
        if not sep or key not in QUERY_KEYS:
            q.words.append(arg)
            continue
        if not value:
            raise UsageError(f"`{key}:` needs a value")
        read = query_value(q, key, value)
        if key == "page":
            page = int(value)
        elif key == "offset":
            page = 0
        if key in SINGLE_KEYS:
            typed, before = given.setdefault(key, (value, read))
            if before != read:  # since:2d since:48h agree; since:1d since:7d do not
                raise UsageError(repeated(key, typed, value))
    if page:
        # page:2 is the second page of `limit` mentions (it was read as offset:2).
        q.offset = (page - 1) * q.limit
    return q


def query_value(q: MentionQuery, key: str, value: str) -> object:
    """Set one filter of `q` from `key:value`; what was read, to compare a repeat with."""
    if key == "since":
        q.since = since_arg(value, SINCE_RANGE)
        return q.since
    if key == "sentiment":
        if value.lower() not in SENTIMENTS:
            raise UsageError("sentiment: takes neg, pos or neu")
        q.sentiment = SENTIMENTS[value.lower()]
        return q.sentiment
    if key == "flag":
        try:
            q.flags.append(Flag(value.lower()).value)
        except ValueError:
            raise UsageError(
                f"unknown flag {value!r}; flags: {', '.join(f.value for f in Flag)}"
            ) from None
        return None
    if key in ("brand", "source"):
        setattr(q, key, value)
        return value.casefold()
    if not (value.isascii() and value.isdigit()):
        lowest = 1 if key == "page" else 0  # offset:-1 was told it "takes a whole number"
        raise UsageError(
            LIMIT_RANGE if key == "limit" else f"{key}: takes a whole number from {lowest}"
        )
    n = int(value)
    if key == "limit":
        if n < 1:
            raise UsageError(LIMIT_RANGE)
        q.limit = min(MAX_LIMIT, n)  # README: "more than 40 shows 40"
    elif key == "page":
        if n < 1:
            raise UsageError("page: takes a whole number from 1")
    else:
        q.offset = n
    return n


# What limit: accepts, said as it is: any count from 1; a page shows at most MAX_LIMIT.
LIMIT_RANGE = f"limit: takes a whole number from 1 (a page shows at most {MAX_LIMIT})"


def repeated(key: str, first: str, second: str) -> str:
    """The answer to a filter given twice with different values."""
    shown = f"{key}:{first[:30]} and {key}:{second[:30]}"
    if key in ("brand", "source"):
        return f"{shown}: a search takes one {key}; search for each in turn"
    return f"{shown} disagree: give {key}: once"


def known_sources(config: Config) -> list[str]:
    """The source names mentions can carry: the config's sources, the inbound endpoint's
    (`inbound.source`) and `import` (what `bot.py import` files rows under by default)."""
    names = [s.name for s in config.sources]
    if config.inbound is not None:
        names.append(config.inbound.source)
    names.append(IMPORT_SOURCE)
    unique: dict[str, str] = {}
    for name in names:
        unique.setdefault(name.casefold(), name)
    return list(unique.values())


# Chinese units, as a DingTalk user types them after a Chinese command word: 暂停 A8 1小时,
# 静默 品牌 Acme 30分钟, 日报 since:3天 (个 as in 2个小时).
_CHINESE_UNITS = (
    ("个", ""),
    ("小时", "h"),
    ("钟头", "h"),
    ("分钟", "m"),
    ("分", "m"),
    ("天", "d"),
    ("秒", "s"),
)


def chat_duration(value: str) -> timedelta:
    """parse_duration() of a duration typed in chat, Chinese units too; its message as is."""
    text = value
    for chinese, unit in _CHINESE_UNITS:
        text = text.replace(chinese, unit)
    try:
        return parse_duration(text)
    except ValueError as err:
        raise type(err)(str(err).replace(repr(text), repr(value), 1)) from None


def since_arg(value: str, allowed: tuple[timedelta, timedelta]) -> timedelta:
    """A `since:` value within `allowed`, or a UsageError a person can act on: the value is
    no duration, or it is out of the range (said with the range)."""
    low, high = allowed
    shown = f"since:{value[:20]}"
    takes = f"since: takes between {format_duration(low)} and {format_duration(high)}"
    try:
        since = chat_duration(value)
    except DurationTooLong:
        raise UsageError(f"{shown} is too long; {takes}") from None
    except ValueError:
        raise UsageError(f"{shown} is not a duration; try since:24h or since:7d") from None
    if since < low:
        raise UsageError(f"{shown} is too short; {takes}")
    if since > high:
        raise UsageError(f"{shown} is too long; {takes}")
    return since


def unknown_name(kind: str, name: str, known: Iterable[str]) -> UsageError:
    """The one wording for a brand, source or route a command names and the config has not:
    `Unknown brand 'x'; brands: Acme, Beta`."""
    return UsageError(f"Unknown {kind} {name[:40]!r}; {kind}s: {', '.join(known) or 'none'}")


def alert_id(args: list[str], usage: str) -> str:
    """The alert id a command's first argument names (A12), or a UsageError."""
    if not args:
        raise UsageError(f"usage: {usage}")
    # `[A4]` as an alert's first line shows it (copied from there), `#A4` as in a tracker.
    found = args[0].strip().removeprefix("#").removeprefix("[").removesuffix("]").upper()
    if (
        not found.startswith("A")
        or not (found.isascii() and found[1:].isdigit())
        or len(found) > 10
    ):
        raise UsageError(f"{args[0][:20]!r} is not an alert id (they look like A12)")
    return found


def one_alert(args: list[str], usage: str, tail: str = "") -> str:
    """alert_id() for a command that changes one alert: `resolve A8 A9` resolved A8 and said
    nothing of A9, which the person believed closed too. A second id changes nothing."""
    found = alert_id(args, usage)
    for word in args[1:]:
        try:
            other = alert_id([word], usage)
        except UsageError:
            continue
        if other == found:
            continue
        name = usage.split()[0]
        then = f" {tail}" if tail else ""  # assign's person
        raise UsageError(
            f"{name} takes one alert: nothing was changed. Type `{name} {found}{then}`, then "
            f"`{name} {other}{then}`"
        )
    return found


def report_args(
    config: Config, args: list[str], default: timedelta
) -> tuple[str | None, timedelta]:
    """`digest`/`stats` arguments: an optional brand (`acme` or `brand:acme`) and `since:`."""
    brand, since = None, default
    given: dict[str, tuple[str, timedelta]] = {}  # as in a mentions query: no second since:
    for arg in args:
        key, sep, value = arg.partition(":")
        if sep and key.lower() == "since":
            # Read at call time: the range is one setting for chat and `bot.py digest`.
            read = since_arg(value, durations.REPORT_SINCE)
            typed, before = given.setdefault("since", (value, read))
            if before != read:
                raise UsageError(repeated("since", typed, value))
            since = read
            continue
        name = value if sep and key.lower() == "brand" else arg
        found = config.brand(name)
        if found is None:
            raise unknown_name("brand", name, (b.name for b in config.brands))
        if brand is not None and brand != found.name:
            raise UsageError(
                f"brand {brand} and brand {found.name}: a report is about one brand, or all "
                "of them with none named"
            )
        brand = found.name
    return brand, since
