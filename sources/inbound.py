"""Mentions pushed by other tools (the inbound endpoint) or loaded from a file (import).

One schema for both, checked with pydantic; every text field is cleaned and capped as a
feed entry's would be, and URLs must be http(s). A pushed mention is as untrusted as a
feed entry.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from core.domain.models import Mention, plausible_time
from rules.text import cap, one_line, strip_markup
from sources.records import MAX_AUTHOR, MAX_TEXT, MAX_TITLE, mention_id, safe_url

METRIC_KEYS = frozenset({"followers", "likes", "comments", "reposts", "points", "views"})
# Generous limits before cleaning and capping: beyond them the input is refused, not cut.
MAX_FIELD_CHARS = 100_000


class InboundMention(BaseModel):
    """One mention as another tool sends it. `title` or `text` is required."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    id: str | None = Field(default=None, max_length=500)
    url: str | None = Field(default=None, max_length=4000)
    title: str = Field(default="", max_length=MAX_FIELD_CHARS)
    text: str = Field(default="", max_length=MAX_FIELD_CHARS)
    author: str = Field(default="", max_length=1000)
    published: datetime | None = None
    metrics: dict[str, int] = {}

    @field_validator("metrics")
    @classmethod
    def _known_metrics(cls, metrics: dict[str, int]) -> dict[str, int]:
        unknown = sorted(set(metrics) - METRIC_KEYS)
        if unknown:
            known = ", ".join(sorted(METRIC_KEYS))
            raise ValueError(f"unknown metric(s) {', '.join(unknown)}; known: {known}")
        for key, value in metrics.items():
            if not 0 <= value < 10**12:
                raise ValueError(f"metric {key} must be between 0 and 10^12")
        return metrics

    @field_validator("url")
    @classmethod
    def _http_url(cls, url: str | None) -> str | None:
        if url and not safe_url(url):
            raise ValueError(
                "url must be an http:// or https:// URL (no spaces, quotes or control characters)"
            )
        return url or None


class InboundBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mentions: list[InboundMention] = Field(min_length=1)


class RejectedInput(ValueError):
    """Input that does not fit the schema; `problems` are readable one-liners."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def describe(err: ValidationError, prefix: str = "") -> list[str]:
    out = []
    for e in err.errors()[:20]:
        where = ".".join(str(p) for p in e["loc"]) or "(top level)"
        out.append(f"{prefix}{where}: {e['msg'].removeprefix('Value error, ')}")
    return out


def to_mention(item: InboundMention, source: str, now: datetime) -> Mention:
    """A checked inbound record -> a Mention, cleaned like a feed entry. Raises
    RejectedInput when nothing readable is left."""
    title = cap(one_line(strip_markup(item.title)), MAX_TITLE)
    text = cap(strip_markup(item.text), MAX_TEXT)
    if not title and not text:
        raise RejectedInput(["a mention needs a title or a text"])
    url = safe_url(item.url)
    published = plausible_time(item.published, now)  # 0001-01-01 etc. -> unknown
    return Mention(
        id=mention_id(item.id or "", url, title or text[:200], source, text),
        source=source,
        url=url,
        title=title,
        text=text,
        author=cap(one_line(strip_markup(item.author)), MAX_AUTHOR),
        published=published,
        fetched_at=now,
        metrics=dict(item.metrics),
    )


def parse_record(data: Any, source: str, now: datetime) -> Mention:
    """One JSON object (or CSV row as a dict) -> Mention. Raises RejectedInput."""
    if not isinstance(data, dict):
        raise RejectedInput([f"expected a JSON object, got {type(data).__name__}"])
    try:
        item = InboundMention.model_validate(data)
    except ValidationError as err:
        raise RejectedInput(describe(err)) from None
    return to_mention(item, source, now)


def parse_batch(data: Any, source: str, now: datetime, max_mentions: int) -> list[Mention]:
    """{"mentions": [...]} -> Mentions, all or nothing. Raises RejectedInput."""
    try:
        batch = InboundBatch.model_validate(data)
    except ValidationError as err:
        raise RejectedInput(describe(err)) from None
    if len(batch.mentions) > max_mentions:
        raise RejectedInput([f"at most {max_mentions} mentions per request"])
    problems: list[str] = []
    mentions: list[Mention] = []
    for i, item in enumerate(batch.mentions):
        try:
            mentions.append(to_mention(item, source, now))
        except RejectedInput as err:
            problems += [f"mentions.{i}: {p}" for p in err.problems]
    if problems:
        raise RejectedInput(problems)
    return mentions
