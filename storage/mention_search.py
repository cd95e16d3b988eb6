"""The search column and the row of a stored mention, shared by the SQL stores (SQLite and
PostgreSQL): the same rows, so the same answers, whichever store holds them.

The search column is the normalized title, text and author with MARK before every Latin word
start, so a query's "word start" rule is an exact substring test; Chinese 1- and 2-character
grams (shorter than a trigram) are kept beside it for an index of their own.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from rules.text import normalize
from storage.common import dumps

SEP = "\x1f"  # between the casefolded brands/flags of a mention: '\x1fa\x1fb\x1f'
MARK = "\x01"  # before every Latin word start in the search column
_WORD_START = re.compile(r"(?<![a-z0-9])(?=[a-z0-9])")
# Supplementary private-use characters: the SQLite index's filter tags are made of them, so
# stored text never holds one (each becomes U+FFFD, in queries too).
_PRIVATE = re.compile("[\U000f0000-\U0010ffff]")
CJK_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ffff]+")


def scrub(text: str) -> str:
    """Text without supplementary private-use characters (each becomes U+FFFD)."""
    return _PRIVATE.sub("\ufffd", text)


def mark_words(text: str) -> str:
    """Text with MARK before every Latin word start: "(?<![a-z0-9])word" in the text is then
    MARK+word in the marked text, a plain substring test SQL and FTS can run. A stored MARK
    or private-use character cannot fake a mark or a filter tag: each becomes U+FFFD."""
    return _WORD_START.sub(MARK, scrub(text.replace(MARK, "\ufffd")))


def search_column(doc: dict[str, Any]) -> str:
    return mark_words(
        normalize(f"{doc.get('title', '')}\n{doc.get('text', '')}\n{doc.get('author', '')}")
    )


def cjk_grams(search: str) -> str:
    """Every Chinese 1- and 2-character substring, space-separated: Chinese words are often
    one or two characters, shorter than a trigram."""
    grams: dict[str, None] = {}
    for run in CJK_RUN.findall(search):
        for i in range(len(run)):
            grams[run[i]] = None
            if i + 1 < len(run):
                grams[run[i : i + 2]] = None
    return " ".join(grams)


def tags(values: Iterable[str]) -> str:
    return SEP + SEP.join(v.casefold() for v in values) + SEP if values else ""


def said(doc: dict[str, Any]) -> str:
    """When a record was said (its `at` column): published, else fetched. Every mention
    query, and iter_mentions, goes by it: a backfilled mention is stored by it."""
    return str(doc.get("published") or doc.get("fetched_at") or "")


def mention_row(doc: dict[str, Any]) -> tuple[Any, ...]:
    search = search_column(doc)
    return (
        doc["id"],
        doc["fetched_at"],
        said(doc),
        str(doc.get("source", "")).casefold(),
        tags(doc.get("brands") or ()),
        tags(doc.get("flags") or ()),
        float(doc.get("sentiment", 0.0) or 0.0),
        search,
        cjk_grams(search),
        dumps(doc),
    )
