from __future__ import annotations

import random

from simhash import Simhash

from bench.corpus import make_mentions
from core.alerting.similarity import fingerprint, shingles, simhash


def test_simhash_gives_the_simhash_packages_value() -> None:
    # Stored alerts keep fingerprints the simhash package computed: the same text must
    # give the same value, or near-duplicates of older alerts would no longer be found.
    rng = random.Random(7)
    cases = [shingles(f"{m.title}\n{m.text}") for m in make_mentions(300)]
    cases += [
        ["".join(rng.choice("ab c中文x") for _ in range(rng.randint(1, 6))) for _ in range(n)]
        for n in (1, 2, 3, 4, 50, 199, 200, 201, 450)
    ]
    cases += [["x"], ["x", "x"], ["a", "a", "b"], ["same"] * 7]
    for features in cases:
        assert simhash(features) == Simhash(features).value
    assert simhash([]) == 0 == fingerprint("")
