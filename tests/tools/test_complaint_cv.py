"""The training tool's cross-validated choices (tools/complaint_cv.py) on synthetic margins."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

np = pytest.importorskip("numpy")
pytest.importorskip("sklearn")  # a training dependency (requirements-dev.txt)

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))

import complaint_cv  # noqa: E402


def synthetic(seed: int = 3):
    """Fast margins in [-4, 4); the fast model calls everything from 0 a complaint, but in
    [0, 2) only a fifth are; the blend knows which (margin +-1), elsewhere it is the fast one."""
    rng = np.random.default_rng(seed)
    fast = rng.uniform(-4, 4, 4000)
    y = ((fast >= 2) | ((fast >= 0) & (rng.random(4000) < 0.2))).astype(int)
    fused = np.where((fast >= 0) & (fast < 2), np.where(y == 1, 1.0, -1.0), fast)
    return fast, fused, y


def accuracy(y):
    return lambda final: float(((final > 0) == (y == 1)).mean())


def test_the_gate_is_the_narrowest_band_where_the_blend_pays() -> None:
    fast, fused, y = synthetic()
    band, table = complaint_cv.choose_gate(fast, fused, accuracy(y), 1.0, 0.0)
    assert (band["low"], band["high"]) == (0.0, 2.0)  # not centred on the cut-off
    assert band["shift"] == 0.0
    best = max(t[4] for t in table)
    assert accuracy(y)(np.where((fast >= 0) & (fast < 2), fused, fast)) == best


def test_the_gate_respects_the_encoder_share() -> None:
    fast, fused, y = synthetic()
    band, table = complaint_cv.choose_gate(fast, fused, accuracy(y), 0.15, 0.0)
    assert all(share <= 0.15 for _lo, _hi, share, _d, _obj in table)
    share = ((fast >= band["low"]) & (fast < band["high"])).mean()
    assert 0 < share <= 0.15
    assert band["low"] >= 0.0  # the part of [0, 2) it can afford, not the useless side


def test_the_blend_cut_off_is_chosen_per_band() -> None:
    fast, fused, y = synthetic()
    # A blend that ranks right but whose cut-off is off by +1.5 (its +-1 is now 2.5 / 0.5):
    # the band's shift takes it back below 0.5, and no further than it must.
    band, _table = complaint_cv.choose_gate(fast, fused + 1.5, accuracy(y), 1.0, 0.0)
    assert (band["low"], band["high"]) == (0.0, 2.0)
    assert -1.0 < band["shift"] <= -0.5


def test_out_of_fold_margins_never_see_their_own_row() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 5))
    y = rng.integers(0, 2, 200)  # labels unrelated to X: in-sample would fit noise
    folds = np.arange(200) % complaint_cv.FOLDS
    m = complaint_cv.oof_head(X, y, np.ones(200), folds, C=1e4)
    in_sample_acc = 0.6  # well above chance only when a row's own label is seen
    assert ((m > 0) == (y == 1)).mean() < in_sample_acc


def test_gate_ends_become_probabilities() -> None:
    assert complaint_cv.to_prob(0.0) == 0.5
    assert complaint_cv.to_prob(float("inf")) == 1.0
    assert complaint_cv.to_prob(float("-inf")) == 0.0
    assert complaint_cv.to_prob(2.0) == pytest.approx(0.8808, abs=1e-4)
