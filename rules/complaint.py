"""Does a post need a person?  ``complaint_probability`` for both languages and every engine.

Engines (``analysis.engine`` in the config):

- ``fast``: a logistic regression per language over n-grams (English word 1-2-grams,
  Chinese character 1-3-grams of ``rules.social.clean`` text), the polarity score of
  ``rules.sentiment`` (VADER / the Chinese review model) and the cue kinds of
  ``rules.cues`` (factual complaint, boycott, crisis news, sarcasm) as features.  Trained
  on labelled social posts by ``tools/train_complaint.py``; pure Python at run time.
  A Chinese post that reads like a hotel / food-delivery review (``REVIEW_GATE``) is judged
  by the review model's polarity instead, in every engine but ``snownlp``; a plain question
  (``plain_question``) never is: the review model reads questions as negative.
- ``default``: ``fast``, and where it is unsure (probability inside the shipped band) the
  multilingual-e5 encoder's head (``rules.encoder``) is blended in with weights fitted on
  validation rows.  Outside the band the fast model decides alone: that is what keeps
  throughput at hundreds of posts per second.
- ``snownlp``: SnowNLP's sentiment for Chinese (optional package, imported lazily) and the
  fast model for English: for teams who asked for it; measured worse.

The probability's cut-off is 0.5 (the trained models fold their chosen cut-off into the
bias).
"""

from __future__ import annotations

import gzip
import json
import math
import re
import threading
import time
from collections.abc import Callable
from functools import lru_cache
from itertools import pairwise
from pathlib import Path
from typing import Any

from rules import encoder
from rules.cues import CUE_NAMES, asks_the_crowd, cue_features, denied_concern, verdict
from rules.question import asks_only, is_question
from rules.sentiment import (
    NEGATIVE_THRESHOLD,
    _score_cleaned,
    ngrams,
    resolve_lang,
    zh_score_and_share,
)
from rules.social import clean_cached

MODEL_PATH = Path(__file__).resolve().parent / "models" / "complaint.json.gz"
MODEL_FORMAT = "buzzwatch-complaint-lr/1"
ENGINES = ("default", "fast", "snownlp")
ZH_NMAX = 3
_EN_TOKEN = re.compile(r"[a-z0-9']+|[!?.,;:]+|[^\sa-z0-9'!?.,;:\"()\-]")
_EN_CLAUSE = re.compile(r"[!?.,;:]+")
_EN_CLAUSE_END = frozenset({"but", "though", "although", "however"})
_EN_DENIAL = frozenset(
    {"never", "no", "not", "without", "nothing", "dont", "didnt", "cant", "wont"}
)
DENSE = ("sent", "sent_neg", *CUE_NAMES, "praise_fact")
# An explicit verdict (再也不买, "never again", 被曝, "love that for me": rules.cues.verdict)
# makes a post a complaint at least this sure, whatever the models say.
VERDICT_FLOOR = 0.75
# A Chinese post the review model's gate takes for a hotel / food-delivery review at least
# this surely is judged by that model's polarity (trained on 19k such reviews; the complaint
# model saw none): on the social sets' training rows 0-1% of Weibo posts (3% of car-forum
# posts) pass it, against 89-94% of the review corpora's.
REVIEW_GATE = 0.95
# Praise that denies a concern ("never had a problem", 从来没有拉肚子) and has no complaint
# cue is at most this sure: the models see the concern word, not the denial.
DENIED_CAP = 0.3
# A plain question to other people ("Does anyone know if Acme still does the late-night
# menu?": ``plain_question`` and ``rules.cues.asks_the_crowd``) is at most this sure: on
# the training rows 6 of 73 such posts are complaints, and the n-grams misread their topic
# words ("late", "still") as one.
CROWD_QUESTION_CAP = 0.3

_lock = threading.Lock()
_model: dict[str, Any] | None = None  # the fast models, as rules/models/ stores them


def en_grams(lowered: str) -> set[str]:
    """Word 1-2-grams; words after a denial in the same clause are marked ("never had a
    problem" -> never, ~had, ~a, ~problem), so a denied problem does not weigh as one."""
    toks: list[str] = []
    denied = False
    for tok in _EN_TOKEN.findall(lowered):
        if tok in _EN_CLAUSE_END or _EN_CLAUSE.fullmatch(tok):
            denied = False
            toks.append(tok if tok[0] in "!?" else "|")  # "|": no bigram across clauses
            continue
        toks.append("~" + tok if denied else tok)
        if tok in _EN_DENIAL or tok.endswith("n't"):
            denied = True
    out = set(toks)
    out.update(f"{a} {b}" for a, b in pairwise(toks) if a != "|" != b)
    out.discard("|")
    return out


def features(text: str, lang: str) -> tuple[set[str], dict[str, float]]:
    """(sparse n-grams, dense features) of a raw text -- the same for training and scoring."""
    cleaned = clean_cached(text, lang)
    lowered = cleaned.lower()
    grams = ngrams(lowered, ZH_NMAX) if lang == "zh" else en_grams(lowered)
    sent = _score_cleaned(cleaned, lang)
    dense: dict[str, float] = {"sent": sent, "sent_neg": min(sent, 0.0)}
    dense.update(cue_features(lowered, lang))
    return grams, dense


def _get_model() -> dict[str, Any]:
    global _model
    if _model is None:
        with _lock:
            if _model is None:
                with gzip.open(MODEL_PATH, "rt", encoding="utf-8") as fh:
                    data = json.load(fh)
                if data.get("format") != MODEL_FORMAT:
                    raise ValueError(f"{MODEL_PATH}: unknown format {data.get('format')!r}")
                _model = data
    return _model


def linear_margin(part: dict[str, Any], grams: set[str], dense: dict[str, float]) -> float:
    weights: dict[str, float] = part["weights"]
    dense_weights: dict[str, float] = part["dense"]
    hits = grams & weights.keys()
    scale = 1.0 / math.sqrt(len(grams)) if grams else 0.0
    m: float = part["bias"] + scale * sum(weights[g] for g in hits)
    return m + sum(dense_weights.get(k, 0.0) * v for k, v in dense.items())


@lru_cache(maxsize=8192)
def fast_margin(text: str, lang: str) -> float:
    """Log-odds of complaint from the fast model (cached by raw text)."""
    grams, dense = features(text, lang)
    if not grams:
        bias: float = _get_model()["lang"][lang]["bias"]
        return bias
    return linear_margin(_get_model()["lang"][lang], grams, dense)


@lru_cache(maxsize=8192)
def review_margin(text: str, lang: str) -> float | None:
    """Log-odds of complaint from the review polarity model when a Chinese post looks like
    a review (``REVIEW_GATE``), else None (cached by raw text).  Its own cut-off maps to 0.

    Not for a post that only asks and has no complaint cue (``asks_only``, ``plain_question``:
    请问门店几点关门？ 0.78, 请问外卖可以送到学校吗？ 0.83 as complaints): the model reads
    questions as negative. On the training rows of the Chinese social sets the gate gave
    it, 80 plain questions, it was right on 31%, the fast model on 80%; a review with a
    question in it (…但怎么感觉第二次量没头回多了？) stays with it, and the food-delivery
    complaints that only ask (饭凉了，咋吃啊？) the fast model still reads as complaints."""
    if lang != "zh":
        return None
    sent, share = zh_score_and_share(clean_cached(text, lang))
    if share < REVIEW_GATE or (asks_only(text, lang) and plain_question(text, lang)):
        return None
    sent = max(-0.999999, min(0.999999, sent))
    return 2.0 * (math.atanh(NEGATIVE_THRESHOLD) - math.atanh(sent))  # sent = tanh(m / 2)


@lru_cache(maxsize=8192)
def plain_question(text: str, lang: str) -> bool:
    """A question with no complaint cue and, in English, no negative polarity ("Does anyone
    know if Acme still does the late-night menu?").  No polarity test in Chinese: the review
    model reads plain questions as negative (请问…怎么兑换？ -0.70).  On the complaint
    tweets' training rows such posts are as often complaints as the rest (36% against 35%),
    but the n-grams read them worst (out-of-fold AUC 0.80 against 0.89 on the other posts,
    the encoder head 0.85); asking the encoder about every one of them gained nothing on
    validation (objective +0.001), so only a question to the crowd is capped."""
    if not is_question(text, lang):
        return False
    cleaned = clean_cached(text, lang)
    if any(cue_features(cleaned.lower(), lang).values()):
        return False
    return lang == "zh" or _score_cleaned(cleaned, lang) >= NEGATIVE_THRESHOLD


def sigmoid(m: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, m))))


def blend(fast: float, enc: float, lang: str, fusion: dict[str, Any]) -> float:
    f = fusion[lang]
    blended: float = f["bias"] + f["fast"] * fast + f["encoder"] * enc
    return blended


def _in_gate(head: dict[str, Any], lang: str, fast: float) -> bool:
    gate = head["gate"][lang]
    return bool(gate["low"] <= sigmoid(fast) <= gate["high"])


def _snownlp_margin(text: str) -> float:
    try:
        from snownlp import SnowNLP
    except ImportError as exc:
        raise encoder.EncoderUnavailable(
            "analysis.engine: snownlp needs the 'snownlp' package (pip install snownlp==0.12.3)"
        ) from exc
    p = SnowNLP(text).sentiments if text.strip() else 0.5
    p = min(max(1.0 - p, 1e-6), 1 - 1e-6)  # SnowNLP says P(positive)
    return math.log(p / (1.0 - p))


def complaint_probability(
    text: str, lang: str, engine: str = "default", encode: bool = True
) -> float:
    """P(the post is a complaint / needs attention), in [0, 1]; 0.5 is the cut-off.

    ``encode=False``: use the encoder only if ``prefetch`` already read this text (the
    pipeline's budgeted path); otherwise the fast model decides."""
    if not text or not text.strip():
        return 0.0
    if engine not in ENGINES:
        raise ValueError(f"unknown analysis engine {engine!r} (one of {', '.join(ENGINES)})")
    code = resolve_lang(text, lang)
    if engine == "snownlp" and code == "zh":
        return sigmoid(_snownlp_margin(text))  # SnowNLP as the teams asked for: no cues
    m = review_margin(text, code)
    if m is None:
        m = fast_margin(text, code)
        head = encoder.head() if engine == "default" else None
        if head is not None and _in_gate(head, code, m):
            enc = encoder.margins([text], code)[0] if encode else encoder.cached(text, code)
            if enc is not None:
                m = blend(m, enc, code, head["fusion"])
    p = sigmoid(m)
    lowered = clean_cached(text, code).lower()
    if p < VERDICT_FLOOR and verdict(lowered, code):
        return VERDICT_FLOOR
    if p > DENIED_CAP and denied_concern(lowered, code):
        return DENIED_CAP
    if p > CROWD_QUESTION_CAP and asks_the_crowd(lowered, code) and plain_question(text, code):
        return CROWD_QUESTION_CAP
    return p


# The floor (min_s) is earned at most once per this many seconds: a quiet feed's cycle still
# gets its few posts encoded, and 2,000 feeds polled together earn one floor per 10 s, not
# 2,000 floors (which let the encoder take 2,000 s of one cold cycle: no budget at all).
FLOOR_EVERY_S = 10.0


# Of the time since the last cycle, the share the encoder may spend on the next (when that
# is more than its posts earn): polls a minute apart leave the machine idle most of that
# minute, and a post the encoder reads is judged better. In a burst (cycles back to back)
# the posts' share is the larger, so the burst's throughput is what encoder_rate says.
IDLE_SHARE = 0.5


class EncoderBudget:
    """Encoder time a stream of poll cycles may spend: each cycle earns ``posts / rate``
    seconds, or ``idle_share`` of the time since the cycle before when that is more, and at
    least ``min_s`` once per ``floor_every`` seconds; unspent time carries over up to
    ``cap_s``, and a call that overruns is a debt the next cycles repay.  So the encoder's
    share of time holds on average however slow one call is (a 64-text call takes 0.5-3 s
    with the machine's load), and however many sources poll at once.
    """

    def __init__(
        self,
        rate: int,
        min_s: float = 1.0,
        cap_s: float = 5.0,
        floor_every: float = FLOOR_EVERY_S,
        clock: Callable[[], float] = time.monotonic,
        idle_share: float = IDLE_SHARE,
    ) -> None:
        self.rate, self.min_s, self.cap_s = rate, min_s, cap_s
        self.floor_every, self.clock, self.idle_share = floor_every, clock, idle_share
        self._floor_at: float | None = None
        self._granted_at: float | None = None
        self.credit = 0.0

    def grant(self, posts: int) -> None:
        earned = posts / self.rate
        now = self.clock()
        if self._granted_at is not None:
            earned = max(earned, self.idle_share * (now - self._granted_at))
        self._granted_at = now
        due = self._floor_at is None or now - self._floor_at >= self.floor_every
        if due and self.min_s > earned:
            earned = self.min_s
            self._floor_at = now
        self.credit = min(self.cap_s, self.credit + earned)


def prefetch(
    items: list[tuple[str, str]], engine: str = "default", budget: EncoderBudget | None = None
) -> int:
    """Run the encoder, batched, for the (text, lang) pairs the default engine is unsure of,
    so the per-post calls that follow are cache hits; returns how many it encoded.

    With a ``budget``, the most unsure posts go first, and only as many as the budget's
    credit covers at the encoder's recent speed; the posts left out are decided by the fast
    model alone."""
    if engine != "default":
        return 0
    head = encoder.head()
    unsure: list[tuple[float, str, str]] = []
    for text, lang in items:
        if not text or not text.strip():
            continue
        code = resolve_lang(text, lang)
        if review_margin(text, code) is not None:
            continue  # judged by the review model, never by the encoder
        m = fast_margin(text, code)
        if _in_gate(head, code, m) and encoder.cached(text, code) is None:
            unsure.append((abs(m), code, text))
    unsure.sort()
    done = 0
    while done < len(unsure):
        take = encoder.BATCH
        if budget is not None:
            if budget.credit <= 0:
                break
            # As many as the credit covers at the encoder's recent speed (a smaller batch
            # rather than none: on a loaded machine a whole batch can cost more than the
            # credit's cap, and the encoder would never run). Before the first call the speed
            # is unknown: any credit pays for one batch.
            per_text = encoder.seconds_per_text()
            if per_text > 0:
                take = min(take, int(budget.credit / per_text + 1e-9))
            if take < 1:
                break
        chunk = unsure[done : done + take]
        clock = budget.clock if budget is not None else time.monotonic
        t0 = clock()
        for code in {c for _m, c, _t in chunk}:
            encoder.margins([t for _m, c, t in chunk if c == code], code)
        if budget is not None:
            budget.credit -= clock() - t0
        done += len(chunk)
    return done


def check_engine(engine: str) -> None:
    """Fail early (at start-up, not at the first mention) when the engine cannot run."""
    if engine not in ENGINES:
        raise ValueError(f"unknown analysis engine {engine!r} (one of {', '.join(ENGINES)})")
    if engine == "default":
        encoder.require()
    elif engine == "snownlp":
        try:
            import snownlp  # noqa: F401
        except ImportError as exc:
            raise encoder.EncoderUnavailable(
                "analysis.engine: snownlp needs the 'snownlp' package (pip install snownlp==0.12.3)"
            ) from exc


def cache_clear() -> None:
    fast_margin.cache_clear()
    plain_question.cache_clear()
    review_margin.cache_clear()
    encoder.cache_clear()
