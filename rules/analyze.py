"""Mention -> findings: which brands, language, sentiment, flags, aspects, severity, reach.

Everything here is a pure function of the mention and the configuration, so the same
analysis runs in the pipeline, in `bot.py classify` and in the benchmarks.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

from core.config import BrandConfig, Config
from core.domain.models import Flag, Mention
from rules import complaint, question, sentiment, titles
from rules.complaint import (
    VERDICT_FLOOR,
    EncoderBudget,
    check_engine,
    complaint_probability,
    prefetch,
)
from rules.cues import asserted, boycotts_brand
from rules.kol import KolBook
from rules.lang import detect_lang
from rules.matching import KeywordMatcher
from rules.question import is_question
from rules.sentiment import domain_value, sentiment_score
from rules.severity import severity_of
from rules.text import cap, normalize

# Sentiment and question cues live in the first part of a post; long articles are capped
# so one 50 KB page cannot stall a poll cycle.
ANALYSED_CHARS = 1500

# prepare() and analyze() read the same text (the whole post when it is under
# ANALYSED_CHARS): its normal form and language are worked out once per cycle.
_normalize = lru_cache(maxsize=4096)(normalize)
_detect_lang = lru_cache(maxsize=4096)(detect_lang)


def cache_clear() -> None:
    """Forget every analysis cache (the benchmarks pay for every text)."""
    _normalize.cache_clear()
    _detect_lang.cache_clear()
    sentiment.cache_clear()
    complaint.cache_clear()
    question.cache_clear()
    titles.cache_clear()


@dataclass
class _Brand:
    config: BrandConfig
    keywords: KeywordMatcher
    exclude: KeywordMatcher
    aspects: dict[str, KeywordMatcher]
    critical_aspects: frozenset[str]


# A fan asking for information: "请问…怎么兑换？", "有人知道…吗", "does anyone know…".
_ASKING = re.compile(
    r"请问|求问|想问一下|问一下|请教|有没有人知道|有人知道|谁知道|求助|"
    r"\b(?:does|do) (?:anyone|anybody|someone) know\b|\banyone know\b|\bhow (?:do|can) i\b|"
    r"\bcan (?:someone|anyone) (?:tell|help)\b"
)
# Each poll cycle earns at least this much encoder time (a quiet feed's few posts all get
# it); a burst earns posts / analysis.encoder_rate (rules.complaint.EncoderBudget).
MIN_CYCLE_BUDGET_S = 1.0
# Beyond this the complaint model is sure the text is a complaint, question or not.
_SURE_COMPLAINT = 0.85


def asks_for_information(normalized: str, complaint: float, domain: dict[str, float]) -> bool:
    """A polite question for information, with no complaint words in it.

    Models trained on reviews and complaints read a fan's question ("请问…怎么兑换？") as
    a grumble.  Its tone is neutral, unless the brand's own words (退款, food poisoning...)
    or the model's certainty say otherwise.
    """
    if complaint >= _SURE_COMPLAINT or not _ASKING.search(normalized):
        return False
    return not any(normalize(w) in normalized for w, score in domain.items() if score < 0)


def with_domain(complaint: float, d: float | None) -> float:
    """The brand's own word (value d in [-1, 1]) weighs on P(complaint) as it does on the
    sentiment score: |d| >= 0.5 decides the side, |d| == 1 fixes it."""
    if d is None:
        return complaint
    return (1.0 - abs(d)) * complaint + abs(d) * (d < 0)


def reconcile(sentiment: float, complaint: float, negative: float, cutoff: float) -> float:
    """The sentiment score, made to agree with the complaint decision.

    The rest of the product reads "negative" as ``sentiment < negative_threshold``; the
    complaint model decides it.  A complaint the polarity model scored positive ("charged
    my card twice" +0.57) gets 1 - 2P, at least just below the threshold; a post that is no
    complaint keeps its score, or reads neutral (0) if that score was negative ("never got
    sick", a sad post that blames no one).
    """
    if complaint >= cutoff:
        return min(sentiment, 1.0 - 2.0 * complaint, negative - 0.01)
    return sentiment if sentiment >= negative else max(0.0, negative)


class Inputs(NamedTuple):
    """What the analysis of a brand-matched mention reads (all it needs: a worker process
    is sent this, not the mention)."""

    body: str  # title and text, capped at ANALYSED_CHARS
    lang: str
    brands: list[str]
    author: str
    metrics: Mapping[str, int]
    normalized: str  # the body's normal form (rules.text.normalize)


class Findings(NamedTuple):
    """What the analysis of a brand-matched mention finds (beyond its brands and language)."""

    complaint: float
    sentiment: float
    flags: list[str]
    aspects: list[str]
    severity: str
    reach: int
    kol_tier: str

    def apply(self, mention: Mention) -> None:
        mention.complaint, mention.sentiment = self.complaint, self.sentiment
        mention.flags, mention.aspects, mention.severity = self.flags, self.aspects, self.severity
        mention.reach, mention.kol_tier = self.reach, self.kol_tier


class Analyzer:
    def __init__(self, config: Config) -> None:
        self.config = config  # an analysis worker process builds its own Analyzer from it
        self.rules = config.rules
        self.analysis = config.analysis
        check_engine(self.analysis.engine)  # a missing optional package says so at start-up
        rate = self.analysis.encoder_rate
        self._budget = EncoderBudget(rate, MIN_CYCLE_BUDGET_S) if rate else None
        self._brands = [
            _Brand(
                config=b,
                keywords=KeywordMatcher(b.keywords),
                exclude=KeywordMatcher(b.exclude),
                aspects={name: KeywordMatcher(a.keywords) for name, a in b.aspects.items()},
                critical_aspects=frozenset(n for n, a in b.aspects.items() if a.critical),
            )
            for b in config.brands
        ]
        self._by_name = {b.config.name: b for b in self._brands}
        self.kols = KolBook(
            ((k.name, k.followers) for k in config.kols),
            min_followers=config.rules.kol_followers,
            tiers=((t.name, t.min_followers) for t in config.rules.kol_tiers),
        )

    def match_brands(self, normalized: str) -> list[str]:
        """Brands whose keywords occur and none of whose exclusions do."""
        return [
            b.config.name
            for b in self._brands
            if b.keywords.matches(normalized) and not b.exclude.matches(normalized)
        ]

    def match(self, mentions: list[Mention]) -> list[list[str]]:
        """Each mention's matched brands (title and text), without the encoder."""
        return [self.match_brands(_normalize(f"{m.title}\n{m.text}".strip())) for m in mentions]

    def prepare(self, mentions: list[Mention]) -> list[list[str]]:
        """Batch the slow part (the encoder) for the brand-matched mentions of a poll cycle,
        within the encoder's time budget (``analysis.encoder_rate``); ``analyze(...,
        encode=False)`` then uses what it read.  Changes no mention; returns each one's
        matched brands (``analyze(..., matched=...)`` takes them, so no text is matched twice)."""
        found = self.match(mentions)
        items = []
        for m, brands in zip(mentions, found, strict=True):
            if brands:
                body = cap(f"{m.title}\n{m.text}".strip(), ANALYSED_CHARS)
                items.append((body, m.lang or _detect_lang(body)))
        if self._budget is not None:
            self._budget.grant(len(items))
        prefetch(items, self.analysis.engine, self._budget)
        return found

    def analyze(
        self,
        mention: Mention,
        brand: str | None = None,
        only_brands: bool = False,
        encode: bool = True,
        matched: list[str] | None = None,
    ) -> Mention:
        """Fill the mention's analysis fields in place and return it.

        With `brand`, that brand's words and aspects apply even if its keywords are absent
        (as `bot.py classify --brand` wants); otherwise the matched brands' do (`matched`:
        what prepare() found for this mention, else they are looked for here). With
        `only_brands`, a mention that names no brand is left at that (the pipeline drops it,
        so sentiment and the rest would be wasted on it).
        """
        full = f"{mention.title}\n{mention.text}".strip()
        # Brands are looked for in the whole text (an article may name one in its fifth
        # paragraph); the rest of the analysis reads the first part only.
        if brand:
            mention.brands = [brand]
        else:
            mention.brands = (
                list(matched) if matched is not None else self.match_brands(_normalize(full))
            )
        if only_brands and not mention.brands:
            return mention
        self.findings(self.inputs(mention, full), encode).apply(mention)
        return mention

    def inputs(self, mention: Mention, full: str | None = None) -> Inputs:
        """What findings() reads of a mention whose brands are set; fills its language if
        not given (`full`: its title and text, if already joined)."""
        if full is None:
            full = f"{mention.title}\n{mention.text}".strip()
        body = cap(full, ANALYSED_CHARS)
        mention.lang = mention.lang or _detect_lang(body)
        return Inputs(
            body, mention.lang, mention.brands, mention.author, mention.metrics, _normalize(body)
        )

    def findings(self, inputs: Inputs, encode: bool = True) -> Findings:
        """The analysis of a brand-matched mention: a pure function of its inputs and the
        configuration (the same in a worker process)."""
        body, lang, normalized = inputs.body, inputs.lang, inputs.normalized
        brands = [self._by_name[name] for name in inputs.brands if name in self._by_name]

        domain: dict[str, float] = {}
        for b in brands:
            domain.update(b.config.domain_words)
        sentiment = sentiment_score(body, lang, domain or None)
        complaint = complaint_probability(body, lang, self.analysis.engine, encode)
        complaint = with_domain(complaint, domain_value(body, lang, domain))
        if any(
            boycotts_brand(normalized, i) for b in brands for i, _kw in b.keywords.spans(normalized)
        ):
            complaint = max(complaint, VERDICT_FLOOR)  # 远离X / "stay away from X"
        question = is_question(body, lang)
        if question and asks_for_information(normalized, complaint, domain):
            sentiment, complaint = 0.0, min(complaint, 0.1)
        sentiment = reconcile(
            sentiment, complaint, self.rules.negative_threshold, self.analysis.complaint_threshold
        )

        flags: list[str] = []
        if sentiment < self.rules.negative_threshold:
            flags.append(Flag.NEGATIVE.value)
        elif sentiment >= self.rules.positive_threshold:
            flags.append(Flag.POSITIVE.value)
        if question:
            flags.append(Flag.QUESTION.value)

        reach = self.kols.reach(inputs.author, inputs.metrics)
        if self.kols.is_kol(reach):
            flags.append(Flag.KOL.value)

        aspects: list[str] = []
        critical = False
        for b in brands:
            for name, matcher in b.aspects.items():
                spans = matcher.spans(normalized)
                if name not in aspects and spans:
                    aspects.append(name)
                # A critical aspect needs the concern said, not denied ("never got sick").
                if name in b.critical_aspects and not critical:
                    critical = any(asserted(normalized, i, kw) for i, kw in spans)
        if critical:
            flags.append(Flag.CRITICAL.value)
        severity = severity_of(flags, sentiment, reach.followers, self.rules.positive_threshold)
        return Findings(
            complaint, sentiment, flags, aspects, severity.value, reach.followers, reach.tier
        )
