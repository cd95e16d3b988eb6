from __future__ import annotations

import random
import re

import pytest

from core.domain.models import Severity
from rules.kol import KolBook
from rules.lang import detect_lang
from rules.matching import _WORDCHAR as WORDCHAR
from rules.matching import KeywordMatcher
from rules.severity import severity_of
from rules.text import has_cjk, normalize, strip_markup

ACME = KeywordMatcher(["Acme", "艾克米", "Acme Burger"])


@pytest.mark.parametrize(
    ("text", "hit"),
    [
        ("I love Acme", True),
        ("ACME is great", True),
        ("Ａｃｍｅ full-width", True),  # NFKC
        ("Acmeville fair", False),
        ("the acme-burger thing", True),  # hyphen is a boundary
        ("#acme rocks", True),
        ("Acme的汉堡", True),  # Han characters next to a Latin keyword
        ("我在艾克米吃饭", True),  # Chinese by substring
        ("艾克", False),
        ("subacme", False),
        ("acme_corp", False),  # underscore joins words in handles
    ],
)
def test_brand_keywords(text: str, hit: bool) -> None:
    assert ACME.matches(normalize(text)) is hit


def test_find_reports_longest_keyword() -> None:
    assert ACME.find(normalize("the Acme Burger was cold")) == ["acme burger"]


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("艾克米的薯条真的太好吃了", "zh"),
        ("Acme 的 burger 太难吃了", "zh"),
        ("Worst service at Acme", "en"),
        ("https://example.com/a?b=c 好", "zh"),
        ("ラーメンが美味しい", "ja"),
        ("", "und"),
    ],
)
def test_language(text: str, lang: str) -> None:
    assert detect_lang(text) == lang


def test_strip_markup_keeps_text_drops_scripts_and_controls() -> None:
    html = '<p>Hello <b>there</b></p><script>alert(1)</script><img alt="[怒]">\x1b[2J&amp;'
    # The escape character goes; what followed it is harmless text.
    assert strip_markup(html) == "Hello there\n[怒][2J&"


KOLS = KolBook(
    [("美食家小王", 1_200_000)],
    min_followers=100_000,
    tiers=[("mega", 1_000_000), ("micro", 10_000)],
)


@pytest.mark.parametrize(
    ("author", "metrics", "kol", "tier"),
    [
        ("美食家小王", {}, True, "mega"),
        ("nobody", {"followers": 50}, False, ""),
        ("nobody", {"followers": 20_000}, False, "micro"),
        ("big_account", {"followers": 150_000}, True, "micro"),
        ("", {}, False, ""),
    ],
)
def test_kol(author: str, metrics: dict[str, int], kol: bool, tier: str) -> None:
    reach = KOLS.reach(author, metrics)
    assert KOLS.is_kol(reach) is kol
    assert reach.tier == tier


@pytest.mark.parametrize(
    ("flags", "sentiment", "reach", "expected"),
    [
        ([], 0.1, 0, Severity.LOW),
        (["positive"], 0.8, 0, Severity.LOW),
        (["question"], 0.0, 0, Severity.MEDIUM),
        (["kol"], 0.3, 500_000, Severity.MEDIUM),
        (["negative"], -0.3, 0, Severity.MEDIUM),
        (["negative"], -0.9, 0, Severity.MEDIUM),  # a strong word from one person
        (["negative"], -0.3, 20_000, Severity.HIGH),  # widely seen
        (["negative", "kol"], -0.3, 200_000, Severity.HIGH),
        (["negative", "kol"], -0.3, 2_000_000, Severity.CRITICAL),
        (["critical"], 0.0, 0, Severity.CRITICAL),
        (["critical", "positive"], 0.8, 0, Severity.HIGH),
    ],
)
def test_severity(flags: list[str], sentiment: float, reach: int, expected: Severity) -> None:
    assert severity_of(flags, sentiment, reach, positive_threshold=0.5) == expected


def _plain_spans(keywords: list[str], text: str) -> list[tuple[int, str]]:
    """The reference: each Latin keyword wrapped in whole-word checks, longest first."""
    parts = []
    for kw in sorted(keywords, key=len, reverse=True):
        escaped = re.escape(kw).replace(r"\ ", r"\s+")
        parts.append(
            f"(?:{escaped})" if has_cjk(kw) else f"(?<![{WORDCHAR}])(?:{escaped})(?![{WORDCHAR}])"
        )
    regex = re.compile("|".join(parts))
    return [(m.start(), m.group(0)) for m in regex.finditer(text)]


def test_keyword_spans_equal_the_plain_whole_word_regex() -> None:
    rng = random.Random(12)
    alphabet = [*"ab acme-_.#@\n1é艾克米Ａ!", "  ", "acme", "艾克", "\u00ad"]
    checked = 0
    for _ in range(3000):
        keywords = ["".join(rng.choices(alphabet, k=rng.randint(1, 3))) for _ in range(3)]
        text = normalize("".join(rng.choices(alphabet, k=rng.randint(0, 14))))
        matcher = KeywordMatcher(keywords)
        if matcher.keywords:
            spans = matcher.spans(text)
            assert spans == _plain_spans(matcher.keywords, text), (keywords, text)
            checked += bool(spans)
    assert checked > 300  # the texts do contain keywords
