"""Near-duplicate text: the same story syndicated across sites, reposts with small edits.

SimHash fingerprints over shingles of normalised text: Chinese as character trigrams, other
scripts as word pairs. A fingerprint is a cheap filter (unrelated texts differ in ~32 of 64
bits); the shingles' overlap decides, because on short posts SimHash alone both merges
unrelated texts and misses one-word edits.
"""

from __future__ import annotations

import hashlib
import re

import numpy as np

from rules.text import normalize

_NOISE = re.compile(r"https?://\S+|@[\w\-\u4e00-\u9fff]+|#|\[[^\]]{1,8}\]|//")
_CJK_RUN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+")
_WORD = re.compile(r"[0-9a-z\u00c0-\u024f']+")


def shingles(text: str) -> list[str]:
    text = _NOISE.sub(" ", normalize(text))
    features: list[str] = []
    for run in _CJK_RUN.findall(text):
        features += [run[i : i + 3] for i in range(max(1, len(run) - 2))]
    words = _WORD.findall(text)
    features += [" ".join(words[i : i + 2]) for i in range(max(1, len(words) - 1))] if words else []
    return features


# " - Daily News" / " | City Times": news searches append the publisher to a syndicated title.
_PUBLISHER = re.compile(r"\s+[-|–—]\s+[^-|–—]{1,40}$")


def strip_publisher(title: str) -> str:
    return _PUBLISHER.sub("", title.strip())


def fingerprint(text: str) -> int:
    return simhash(shingles(text))


# The 8-byte MD5 tail of recently seen features: word pairs and character trigrams recur
# across posts (a brand's name, its products, everyday phrases), and a dict look-up is some
# 30 times cheaper than hashing. Emptied when full, so it stays a few MB.
_DIGESTS: dict[str, bytes] = {}
_DIGESTS_MAX = 1 << 16


def _digest(feature: str) -> bytes:
    d = hashlib.md5(feature.encode("utf-8")).digest()[-8:]
    if len(_DIGESTS) >= _DIGESTS_MAX:
        _DIGESTS.clear()
    _DIGESTS[feature] = d
    return d


def simhash(features: list[str]) -> int:
    """The 64-bit SimHash of unweighted features, 0 for none: bit i is set when more than
    half the features' hashes (the last 8 bytes of MD5) have it set. The value the `simhash`
    package's Simhash(features).value gives (stored alerts keep theirs), in one numpy sum
    instead of its per-feature batches (a test holds the two equal)."""
    if not features:
        return 0
    known = _DIGESTS.get
    digests = b"".join([known(f) or _digest(f) for f in features])
    bits = np.unpackbits(np.frombuffer(digests, dtype=np.uint8)).reshape(-1, 64)
    return int.from_bytes(np.packbits(bits.sum(0) > len(features) / 2).tobytes(), "big")


def distance(a: int, b: int) -> int:
    return (a ^ b).bit_count()


def overlap(a: frozenset[str] | set[str], b: frozenset[str] | set[str]) -> float:
    """Jaccard similarity of two shingle sets, 0.0 to 1.0."""
    return len(a & b) / len(a | b) if a or b else 0.0
