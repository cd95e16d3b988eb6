"""Cross-validated choices for ``tools/train_complaint.py`` (the languages in CV_LANGS).

The validation buckets hold 544 of the 2,714 complaint tweets' training rows: a cut-off at
recall 0.87 chosen there landed at 0.917 on the held-out rows.  Here every training row is
out of fold once (5 folds by text hash): the fast model's cut-off, the encoder head's C, the
blend, its cut-off and the encoder's gate band are chosen on out-of-fold margins of all of
them.

The gate band need not be centred on the fast model's cut-off (its low and high ends are
searched separately), and the blend's cut-off is chosen per band: a band that leaves out
posts the blend would flag needs a lower cut-off to keep the task recall.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from sklearn.linear_model import LogisticRegression

FOLDS = 5
LOWS = (-3.0, -2.5, -2.0, -1.5, -1.0, -0.75, -0.5, -0.25, 0.0)
HIGHS = (0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0, math.inf)
SHIFTS = tuple(np.arange(-1.0, 1.01, 0.05).round(2))  # the blend's cut-off, per band

Scores = Callable[[np.ndarray], float]  # final margins (validation rows) -> objective


def fold_of(bucket: int) -> int:
    return bucket % FOLDS


def oof_head(X, y, w, folds, C: float) -> np.ndarray:
    """Out-of-fold margins of a logistic regression on encoder vectors."""
    m = np.zeros(len(y))
    for k in range(FOLDS):
        tr, te = folds != k, folds == k
        lr = LogisticRegression(C=C, max_iter=5000).fit(X[tr], y[tr], sample_weight=w[tr])
        m[te] = lr.decision_function(X[te])
    return m


def choose_gate(
    fast: np.ndarray, fused: np.ndarray, score: Scores, max_share: float, tolerance: float
) -> tuple[dict[str, float], list[tuple[float, float, float, float, float]]]:
    """The narrowest band [low, high) of fast margins (within ``tolerance`` of the best
    objective, at most ``max_share`` of rows) where the blend decides, each band with the
    blend's best cut-off shift for it.

    Returns ({low, high, shift} in log-odds, [(low, high, share, shift, objective), ...])."""
    table = []
    for lo in LOWS:
        for hi in HIGHS:
            use = (fast >= lo) & (fast < hi)
            share = float(use.mean())
            if hi <= lo or share > max_share:
                continue
            # best objective, then the smallest shift
            obj, _small, shift = max(
                (score(np.where(use, fused + d, fast)), -abs(d), float(d)) for d in SHIFTS
            )
            table.append((lo, hi, share, shift, obj))
    top = max(t[4] for t in table)
    lo, hi, _share, shift, _obj = min(
        (t for t in table if t[4] >= top - tolerance), key=lambda t: t[2]
    )
    return {"low": lo, "high": hi, "shift": shift}, table
