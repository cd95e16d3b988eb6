"""Sentiment of a social post, one function for both languages: ``sentiment_score``.

Chinese: a linear model over character 1-4-grams trained by ``tools/train_zh_sentiment.py``
(NB-weighted logistic regression on Weibo posts, hotel and food-delivery reviews: shared
weights plus per-corpus corrections mixed by a small text-kind classifier), shipped as
``rules/models/zh_sentiment.json.gz`` and scored here in pure Python -- no numpy, sklearn,
jieba or snownlp at run time, so importing and scoring stay fast and light.
English: VADER's compound score on socially cleaned text.

Scores are in [-1, 1]; a text counts as negative when ``score < NEGATIVE_THRESHOLD``.
"""

from __future__ import annotations

import gzip
import json
import math
import re
import threading
import unicodedata
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.config.analysis import NEGATIVE_THRESHOLD
from rules.cues import asserted
from rules.social import clean, clean_cached, has_cjk

if TYPE_CHECKING:
    from functools import _CacheInfo

    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer  # loaded on first use

__all__ = [
    "MODEL_FORMAT",
    "MODEL_PATH",
    "NEGATIVE_THRESHOLD",
    "NGRAM_MAX",
    "ZhModel",
    "cache_clear",
    "cache_info",
    "domain_value",
    "ngrams",
    "prepare_zh",
    "resolve_lang",
    "sentiment_score",
]

MODEL_PATH = Path(__file__).resolve().parent / "models" / "zh_sentiment.json.gz"
MODEL_FORMAT = "buzzwatch-zh-ngram-lr/2"
NGRAM_MAX = 4


# Texts' scores remembered (a batch reads each text more than once: prepare, analyze, the
# question and complaint models). 8,192 covers two of the biggest batches; 65,536 made a
# long-running bot ~70 MB bigger per 60k distinct posts for no measurable speed.
_CACHE_SIZE = 8192


def prepare_zh(text: str) -> str:
    """The exact text the Chinese model sees: social cleanup, then lower case."""
    return clean(text, "zh").lower()


def ngrams(text: str, nmax: int = NGRAM_MAX) -> set[str]:
    """Distinct character 1..nmax-grams of each space-separated chunk of ``text``.

    Chunks (cleaned text separates emoticon tokens, topics and removed URLs by spaces) are
    not bridged: an n-gram across a removed URL would be an artefact.
    """
    out: set[str] = set()
    for chunk in text.split():
        size = len(chunk)
        if nmax >= 1:
            out.update(chunk)  # the 1-grams: its characters
        # One list per chunk for the 2..nmax-grams (a generator per n was 25% slower).
        out.update(
            [chunk[i : i + n] for n in range(2, min(nmax, size) + 1) for i in range(size - n + 1)]
        )
    return out


def _dot(weights: dict[str, float], grams: set[str]) -> float:
    # Set intersection runs in C; only the (few hundred) matching weights are summed.
    return sum(weights[g] for g in grams & weights.keys())


class ZhModel:
    """Pure-Python scorer for a shared linear model plus gated per-domain corrections.

    With ``x`` the distinct n-grams of the text and ``s = 1 / sqrt(len(x))``::

        gate   = softmax(gate_bias[d] + s * sum(gate_weights[d][g] for g in x))  over domains
        margin = bias + s * sum(weights[g] for g in x)
                 + sum(gate[d] * (domain_bias[d] + s * sum(domain_weights[d][g] for g in x)))

    The domains are the training corpora (Weibo posts, hotel reviews, food-delivery
    reviews).  The gate is a small text-kind classifier, so a hotel review gets the hotel
    corrections and a Weibo post the Weibo ones without the caller saying which is which;
    a text like none of them gets a blend.  With no domains the model is one linear model.
    """

    __slots__ = (
        "_table",
        "bias",
        "domain_bias",
        "domain_weights",
        "domains",
        "gate_bias",
        "gate_weights",
        "negative_threshold",
        "nmax",
        "weights",
    )

    def __init__(
        self,
        bias: float,
        weights: dict[str, float],
        nmax: int = NGRAM_MAX,
        negative_threshold: float = 0.0,
        domains: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        self.bias = bias
        self.weights = weights
        self.nmax = nmax
        self.negative_threshold = negative_threshold
        domains = domains or {}
        self.domains = tuple(domains)
        self.domain_bias = tuple(float(d["bias"]) for d in domains.values())
        self.domain_weights = tuple(d["weights"] for d in domains.values())
        self.gate_bias = tuple(float(d["gate_bias"]) for d in domains.values())
        self.gate_weights = tuple(d["gate_weights"] for d in domains.values())
        # Scoring table: n-gram -> (shared, domain..., gate...) weights, so one set
        # intersection and a few C-level column sums score a text (5 dicts were 4x slower).
        tables = (weights, *self.domain_weights, *self.gate_weights)
        keys = set().union(*tables)
        self._table = {g: tuple(t.get(g, 0.0) for t in tables) for g in keys}

    @classmethod
    def load(cls, path: str | Path = MODEL_PATH) -> ZhModel:
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            data = json.load(fh)
        if data.get("format") != MODEL_FORMAT:
            raise ValueError(f"{path}: unknown model format {data.get('format')!r}")
        return cls(
            float(data["bias"]),
            data["weights"],
            int(data["ngram_max"]),
            float(data.get("negative_threshold", 0.0)),
            data.get("domains"),
        )

    def gate(self, grams: set[str], scale: float) -> list[float]:
        """Softmax weights of the domains for a text's n-grams (empty without domains)."""
        logits = [
            b + _dot(w, grams) * scale
            for b, w in zip(self.gate_bias, self.gate_weights, strict=True)
        ]
        if not logits:
            return []
        top = max(logits)
        exps = [math.exp(v - top) for v in logits]
        total = sum(exps)
        return [e / total for e in exps]

    def empty_margin(self) -> float:
        """The margin of a text with no known n-grams (the model's prior)."""
        return self.bias + sum(
            p * b for p, b in zip(self.gate(set(), 0.0), self.domain_bias, strict=True)
        )

    def margin_prepared(self, prepared: str) -> float | None:
        """Log-odds of positive for already-prepared text; None when there is no text."""
        return self.margin_and_share(prepared)[0]

    def margin_and_share(
        self, prepared: str, domains: tuple[str, ...] = ()
    ) -> tuple[float | None, float]:
        """``margin_prepared`` and the gate's total weight on ``domains`` (how much the
        text looks like those corpora; 0.0 without text), from one pass over the n-grams."""
        grams = ngrams(prepared, self.nmax)
        if not grams:
            return None, 0.0
        scale = 1.0 / math.sqrt(len(grams))
        table = self._table
        hits = list(filter(None, map(table.get, grams)))  # one look-up per n-gram
        nd = len(self.domains)
        sums = (
            [sum(col) * scale for col in zip(*hits, strict=True)] if hits else [0.0] * (1 + 2 * nd)
        )
        margin = self.bias + sums[0]
        share = 0.0
        if nd:
            logits = [b + v for b, v in zip(self.gate_bias, sums[1 + nd :], strict=True)]
            top = max(logits)
            exps = [math.exp(v - top) for v in logits]
            total = sum(exps)
            for d, e, b, v in zip(
                self.domains, exps, self.domain_bias, sums[1 : 1 + nd], strict=True
            ):
                margin += e / total * (b + v)
                if d in domains:
                    share += e / total
        return margin, share

    def score(self, text: str) -> float:
        """Score in [-1, 1]: tanh(margin / 2) == 2 * P(positive) - 1.  Empty text: 0.0."""
        m = self.margin_prepared(prepare_zh(text))
        return 0.0 if m is None else math.tanh(m / 2.0)


_lock = threading.Lock()
_zh_model: ZhModel | None = None
_vader: SentimentIntensityAnalyzer | None = None


def _get_zh_model() -> ZhModel:
    global _zh_model
    if _zh_model is None:
        with _lock:
            if _zh_model is None:
                _zh_model = ZhModel.load(MODEL_PATH)
    return _zh_model


def _get_vader() -> SentimentIntensityAnalyzer:
    global _vader
    if _vader is None:
        with _lock:
            if _vader is None:
                # Imported lazily: only English scoring pays for it (~0.1 s, a few MB).
                from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

                _vader = SentimentIntensityAnalyzer()
    return _vader


def resolve_lang(text: str, lang: str | None) -> str:
    """'zh' or 'en': trust an explicit zh/en (zh-CN, en_US ... too), else look for CJK."""
    code = (lang or "").lower()[:2]
    if code in ("zh", "en"):
        return code
    return "zh" if has_cjk(text) else "en"


_DOUBLE_NEG = re.compile(r"(?:不是|并不是|也不是|并非)不")

# A small hand-written layer for what a character model trained on reviews and 2018 Weibo
# gets wrong.  Matched spans are cut out of the text before scoring (their n-grams point
# the wrong way), then a fixed log-odds nudge is added.
#   negated negatives: 不难吃 / 一点都不贵 read as mildly positive, not as 难吃 / 贵;
_NEGATED_NEG = re.compile(
    r"(?:不|没|没有|并不|一点也不|一点都不|也不|都不)"
    r"(?:难吃|难喝|难闻|难用|差|贵|坑|慢|咸|腻|油腻|失望|后悔|踩雷|麻烦|坑人|卡)(?![了的吧])"
)
#   downtoned positives: 没有想象中好 / 不如以前 / 不怎么样 are complaints.
_DOWNTONED_POS = re.compile(
    r"没有?(?:想象|预期|传说|宣传|广告|说)中?的?(?:那么|那样)?(?:好吃|好用|好喝|好|棒|香|值)"
    r"|不如(?:以前|从前|之前|预期|想象|宣传)|大不如前|不怎么(?:样|好|好吃|好用)"
    r"|名不副实|一言难尽|不值(?:这个价|得)"
)
_NEGATION_NUDGE = 1.0  # log-odds units; the rest of the post still counts
#   brand-complaint and praise slang newer than the training data (2018 Weibo, reviews).
_SLANG_NEG = re.compile(
    r"避雷|踩雷|踩坑|避坑|翻车|拔草|智商税|割韭菜|差评|投诉|维权|曝光|骗子|塌房|劝退|跑路"
    r"|吐了|无语|恶心|退钱|黑心|坑爹|被坑"
)
#   short complaints the review-trained model misreads (in hotel reviews 贵 mostly comes with
#   praise, "贵但值", so 太贵了 alone scored positive).  Only in short posts: a long review
#   weighs "房间太小" against the rest, and there the model is right more often than not.
_SHORT_COMPLAINT = re.compile(
    r"太(?:贵|甜|咸|辣|油|腻|淡|硬|少|小|慢|差|坑|难吃|难喝|敷衍|离谱)|涨价|[吃买用]不起"
)
_SHORT_POST_CHARS = 30
_SLANG_POS = re.compile(r"yyds|绝绝子|种草|回购|宝藏|好评|安利|吹爆|真香|狠狠爱|封神")
_SLANG_NUDGE = 2.5  # per distinct word, capped at two: 避雷 / 翻车 are explicit verdicts

# English: VADER scores words, and misses social phrasing; a matched phrase weighs like a
# brand domain word of strength _EN_PHRASE (see sentiment_score), per direction.
_EN_NEG = re.compile(
    r"\bnever again\b|\bhung up on\b|\b(?:was|were|is|are|arrived|came)\s+(?:stone\s+)?cold\b"
    r"|\b(?:so|too|way too|super)\s+(?:expensive|pricey|slow)\b|\boverpriced\b|\brip-?off\b"
    r"|\bscam(?:med)?\b|\bwaste of (?:money|time)\b|\b(?:do not|don't|dont) (?:buy|order|go)\b"
)
_EN_POS = re.compile(
    r"\bcan'?t recommend\b.{0,40}?\benough\b|\b(?:is|was|are|were|so)\s+(?:fire|lit)\b"
    r"|\bslaps\b|\bgoated\b|\b10/10\b|🔥"
)
_EN_PHRASE = 0.5


@lru_cache(maxsize=_CACHE_SIZE)
def _score_cleaned(cleaned: str, lang: str) -> float:
    """Model score of cleaned text (second cache level: reposts and copies that differ only
    in @handles, URLs or emoticon repeats share this entry)."""
    if not cleaned:
        return 0.0
    if lang == "en":
        compound = float(_get_vader().polarity_scores(cleaned)["compound"])
        lowered = cleaned.lower()
        d = _EN_PHRASE * (bool(_EN_POS.search(lowered)) - bool(_EN_NEG.search(lowered)))
        return d + (1.0 - abs(d)) * compound
    return zh_score_and_share(cleaned)[0]


REVIEW_DOMAINS = ("hotel", "waimai")


@lru_cache(maxsize=_CACHE_SIZE)
def zh_score_and_share(cleaned: str) -> tuple[float, float]:
    """(score of cleaned Chinese text, how much it looks like a product / service review:
    the review model's gate weight on its review corpora, hotel and food delivery)."""
    if not cleaned:
        return 0.0, 0.0
    model = _get_zh_model()
    lowered = cleaned.lower()
    nudge = 0.0
    negated = _NEGATED_NEG.findall(lowered)
    downtoned = _DOWNTONED_POS.findall(lowered)
    if negated or downtoned:
        nudge += _NEGATION_NUDGE * (bool(negated) - bool(downtoned))
        lowered = _DOWNTONED_POS.sub(" ", _NEGATED_NEG.sub(" ", lowered))
    neg_slang = len(set(_SLANG_NEG.findall(lowered)))
    if len(lowered) <= _SHORT_POST_CHARS:
        neg_slang += len(set(_SHORT_COMPLAINT.findall(lowered)))
    pos_slang = len(set(_SLANG_POS.findall(lowered)))
    nudge += _SLANG_NUDGE * (min(pos_slang, 2) - min(neg_slang, 2))
    m, share = model.margin_and_share(lowered, REVIEW_DOMAINS)
    if m is None:
        if not nudge:
            return 0.0, share
        m = model.empty_margin()
    m += nudge
    if _DOUBLE_NEG.search(lowered):
        # 不是不好 / 并非不满意: a character model sees the negative "不好"; a double
        # negation is at most mildly positive, so keep its strength but not its sign.
        m = abs(m) * 0.5
    return math.tanh(m / 2.0), share


@lru_cache(maxsize=_CACHE_SIZE)
def _clean_and_score(text: str, lang: str) -> tuple[float, str]:
    """First cache level, keyed by the raw text: an exact repost costs one dict lookup."""
    cleaned = clean_cached(text, lang)
    return _score_cleaned(cleaned, lang), cleaned


@lru_cache(maxsize=256)
def _domain_matcher(
    items: tuple[tuple[str, float], ...],
) -> tuple[re.Pattern[str], dict[str, float]]:
    """One compiled alternation per brand vocabulary (cached: brands reuse theirs)."""
    values: dict[str, float] = {}
    parts = []
    for word, value in items:
        key = unicodedata.normalize("NFKC", word).lower().strip()
        if not key:
            continue
        values[key] = max(-1.0, min(1.0, float(value)))
        # Latin words must start at a word boundary ("refund" matches "refunded" but
        # "art" does not match "start"); CJK words match anywhere (no spaces in Chinese).
        # The start check follows the word's first character (r(?<![a-z0-9].)efund: the
        # same matches), so every branch opens with a literal and the engine skips to them.
        check = r"(?<![a-z0-9].)" if key[0].isascii() and key[0].isalnum() else ""
        parts.append(re.escape(key[0]) + check + re.escape(key[1:]))
    # Longest first, so 食物中毒 wins over a shorter overlapping word at the same place.
    parts.sort(key=len, reverse=True)
    pattern = re.compile("|".join(parts)) if parts else re.compile(r"(?!x)x")
    return pattern, values


def _domain_value(text: str, domain_words: Mapping[str, float]) -> float | None:
    return _domain_value_of(text, tuple(sorted(domain_words.items())))


@lru_cache(maxsize=4096)
def _domain_value_of(text: str, items: tuple[tuple[str, float], ...]) -> float | None:
    """Remembered for the last few thousand texts: a post's sentiment score and its
    complaint probability both ask (``sentiment_score``, ``domain_value``)."""
    pattern, values = _domain_matcher(items)
    # A denied concern ("never got food poisoning", 从来没有拉肚子) does not count.
    found = {
        m.group(0)
        for m in pattern.finditer(text)
        if values[m.group(0)] >= 0 or asserted(text, m.start(), m.group(0))
    }
    if not found:
        return None
    # Strongest word decides; on equal strength the negative one (missing a complaint is
    # worse than a false alarm).
    return min((values[f] for f in found), key=lambda v: (-abs(v), v))


def sentiment_score(text: str, lang: str, domain_words: Mapping[str, float] | None = None) -> float:
    """Sentiment of ``text`` in [-1.0, 1.0]: < 0 negative, > 0 positive, 0.0 for empty text.

    ``lang`` is "zh" or "en"; anything else is decided by the presence of CJK characters.
    Chinese uses the shipped n-gram model, English VADER's compound score; both on
    ``rules.social.clean`` text (emoticon codes and emoji are kept as sentiment tokens).

    ``domain_words`` (a brand's vocabulary, word -> value in [-1, 1], matched
    case-insensitively on the cleaned text; Latin words from a word start) dominate the
    model.  Combination rule, with ``d`` the value of the strongest matched word (largest
    ``|d|``; ties go to the more negative) and ``m`` the model score::

        score = d + (1 - |d|) * m

    So a word with ``|d| == 1`` (食物中毒: -1.0) fixes the score; with ``|d| >= 0.5`` the
    sign always follows ``d`` whatever the model says (退款: -0.6 and a glowing model +1.0
    still give -0.2); weak words (|d| < 0.5) only nudge.  A negative word that the post
    denies ("never got food poisoning", 从来没有拉肚子; ``rules.cues.asserted``) does not
    count: praise that mentions a bad thing is not a complaint.

    Results are cached (bounded LRU) by raw text and by cleaned text.
    """
    if not text:
        return 0.0
    code = resolve_lang(text, lang)
    model_score, cleaned = _clean_and_score(text, code)
    if domain_words:
        d = _domain_value(cleaned.lower(), domain_words)
        if d is not None:
            return max(-1.0, min(1.0, d + (1.0 - abs(d)) * model_score))
    return model_score


def domain_value(text: str, lang: str, domain_words: Mapping[str, float]) -> float | None:
    """Value of the strongest brand word the post asserts (see sentiment_score), or None."""
    if not text or not domain_words:
        return None
    _score, cleaned = _clean_and_score(text, resolve_lang(text, lang))
    return _domain_value(cleaned.lower(), domain_words)


def cache_info() -> tuple[_CacheInfo, _CacheInfo]:
    """(raw-text cache info, cleaned-text cache info) -- for tests and the bench."""
    return _clean_and_score.cache_info(), _score_cleaned.cache_info()


def cache_clear() -> None:
    _clean_and_score.cache_clear()
    _score_cleaned.cache_clear()
    zh_score_and_share.cache_clear()
    clean_cached.cache_clear()
    _domain_value_of.cache_clear()
