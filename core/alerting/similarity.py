"""Near-duplicate text: the same story syndicated across sites, reposts with small edits.

SimHash fingerprints over shingles of normalised text: Chinese as character trigrams, other
scripts as word pairs. A fingerprint is a cheap filter (unrelated texts differ in ~32 of 64
bits); the shingles' overlap decides, because on short posts SimHash alone both merges
unrelated texts and misses one-word edits.
"""

from __future__ import annotations

import hashlib
import re
from itertools import pairwise

from rules.text import normalize

_NOISE = re.compile(r"https?://\S+|@[\w\-\u4e00-\u9fff]+|#|\[[^\]]{1,8}\]|//")
_CJK_RUN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+")
_WORD = re.compile(r"[0-9a-z\u00c0-\u024f']+")


def shingles(text: str) -> list[str]:
    text = _NOISE.sub(" ", normalize(text))
    features: list[str] = []
    for run in _CJK_RUN.findall(text):  # its trigrams; a shorter run as it is
        if len(run) > 3:
            features += [run[i : i + 3] for i in range(len(run) - 2)]
        else:
            features.append(run)
    words = _WORD.findall(text)  # word pairs; a lone word as it is
    if len(words) > 1:
        features += [f"{a} {b}" for a, b in pairwise(words)]
    elif words:
        features.append(words[0])
    return features


# " - Daily News" / " | City Times": news searches append the publisher to a syndicated title.
_PUBLISHER = re.compile(r"\s+[-|–—]\s+[^-|–—]{1,40}$")


def strip_publisher(title: str) -> str:
    return _PUBLISHER.sub("", title.strip())


def fingerprint(text: str) -> int:
    return simhash(shingles(text))


# Each recently seen feature's hash, its bits spread one to a 16-bit lane (bit i of the
# hash at bit 16*i): summing them counts every bit position at once in one integer. Word
# pairs and trigrams recur across posts (a brand's name, its products, everyday phrases),
# and a look-up is some 30 times cheaper than hashing. Emptied when full (a few MB).
_SPREAD: dict[str, int] = {}
_SPREAD_MAX = 1 << 15
_LANE = 16
_LANES = sum(1 << (_LANE * i) for i in range(64))  # 1 in every lane
_TO_01 = {ord("0"): 0, ord("1"): 1}
_HIGH_BIT = bytes(ord("1") if b >= 0x80 else ord("0") for b in range(256))


def _spread(feature: str) -> int:
    """The last 8 bytes of the feature's MD5, as a big-endian 64-bit number, bit i moved
    to bit 16*i."""
    value = int.from_bytes(hashlib.md5(feature.encode("utf-8")).digest()[-8:], "big")
    ones = format(value, "064b")[::-1].translate(_TO_01)  # chr(bit i) at i
    spread = int.from_bytes(ones.encode("utf-16-le"), "little")  # each char: 2 bytes
    if len(_SPREAD) >= _SPREAD_MAX:
        _SPREAD.clear()
    _SPREAD[feature] = spread
    return spread


def simhash(features: list[str]) -> int:
    """The 64-bit SimHash of unweighted features, 0 for none: bit i is set when more than
    half the features' hashes (the last 8 bytes of MD5) have it set. The value the `simhash`
    package's Simhash(features).value gives (stored alerts keep theirs; a test holds the
    two equal), counted in one integer sum instead of its per-feature batches."""
    n = len(features)
    if not n:
        return 0
    known = _SPREAD.get
    spreads = [known(f) or _spread(f) for f in features]
    room = 1 << (_LANE - 1)  # counts a lane holds with room for the lift below
    if n >= room:  # (a rare long text: sum in parts whose counts fit their lanes)
        mask, bits = (1 << _LANE) - 1, [0] * 64
        for start in range(0, n, room):
            part = sum(spreads[start : start + room])
            for i in range(64):
                bits[i] += (part >> (_LANE * i)) & mask
        return sum(1 << i for i, count in enumerate(bits) if count > n / 2)
    counts = sum(spreads)  # bit i's count in lane i
    # Lifted so that a lane reaches 2**15, its top bit, exactly when its count > n/2.
    lifted = counts + ((1 << (_LANE - 1)) - n // 2 - 1) * _LANES
    tops = lifted.to_bytes(_LANE * 8 + 1, "little")[1 : _LANE * 8 : 2]  # lane i's high byte
    return int(tops.translate(_HIGH_BIT)[::-1], 2)


def distance(a: int, b: int) -> int:
    return (a ^ b).bit_count()


def overlap(a: frozenset[str] | set[str], b: frozenset[str] | set[str]) -> float:
    """Jaccard similarity of two shingle sets, 0.0 to 1.0."""
    return len(a & b) / len(a | b) if a or b else 0.0
