from __future__ import annotations

import random

import pytest
from simhash import Simhash

from bench.corpus import make_mentions
from core.alerting import similarity
from core.alerting.similarity import fingerprint, shingles, simhash
from rules.text import normalize


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
    cases += [["a", "b"] * 20000, [*"abc"] * 30000]  # more than a 16-bit lane counts
    for features in cases:
        assert simhash(features) == Simhash(features).value
    assert simhash([]) == 0 == fingerprint("")


def test_remembered_feature_hashes_give_the_same_values(monkeypatch: pytest.MonkeyPatch) -> None:
    # Features' hashes are remembered (a small table, emptied when full): a text seen
    # again, or sharing features with others, must still give the package's value.
    monkeypatch.setattr(similarity, "_SPREAD", {})
    monkeypatch.setattr(similarity, "_SPREAD_MAX", 40)
    cases = [shingles(f"{m.title}\n{m.text}") for m in make_mentions(60)]
    for _ in range(2):  # the second time round, much of it from the table
        for features in cases:
            assert simhash(features) == Simhash(features).value
            assert len(similarity._SPREAD) <= 40


def test_shingles_are_chinese_trigrams_and_word_pairs() -> None:
    rng = random.Random(5)
    for _ in range(3000):
        text = "".join(
            rng.choice("ab 中文艾克米x\n@#[]//http://Ａ") for _ in range(rng.randint(0, 30))
        )
        clean = similarity._NOISE.sub(" ", normalize(text))
        want: list[str] = []
        for run in similarity._CJK_RUN.findall(clean):  # a run of 3 or fewer: itself
            want += [run[i : i + 3] for i in range(max(1, len(run) - 2))]
        words = similarity._WORD.findall(clean)  # a lone word: itself
        want += [" ".join(words[i : i + 2]) for i in range(max(1, len(words) - 1))] if words else []
        assert shingles(text) == want
    assert shingles("艾克米 新品 Acme  Burger!") == ["艾克米", "新品", "acme burger"]
    assert shingles("艾克米新品") == ["艾克米", "克米新", "米新品"]
