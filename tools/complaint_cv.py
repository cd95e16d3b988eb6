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
from complaint_scoring import fit_blend, objective, pick_shift, set_scores, weights
from sklearn.linear_model import LogisticRegression
from social_data import hash_bucket

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


def train_head_cv(
    lang: str, rows, fast_oof: dict, curve: bool, head_cs, max_share: float, tolerance: float
) -> tuple[float, dict, dict, dict]:
    """Head C, blend, cut-off and gate band on out-of-fold margins of every cached row
    ((text, label, vector, set) rows); returns (C, fusion, gate, notes)."""
    X = np.array([r[2] for r in rows])
    y = np.array([r[1] for r in rows])
    names = np.array([r[3] for r in rows])
    w = weights(rows)
    folds = np.array([fold_of(hash_bucket(r[0])) for r in rows])
    fast_by_text = dict(zip(fast_oof["texts"], fast_oof["margins"], strict=True))
    fast_m = np.array([fast_by_text[r[0]] for r in rows])
    best = None
    for C in head_cs:
        m = oof_head(X, y, w, folds, C)
        obj = objective(set_scores(m, y, names, pick_shift(m, y, names)))
        print(f"  {lang} head C={C}: out-of-fold objective {obj:.4f}")
        if best is None or obj > best[0] + 1e-4:
            best = (obj, C, m)
    _o, C, enc = best
    # The blend's own weights are fitted on out-of-fold margins (two numbers on ~10k rows).
    fusion, fused = fit_blend(fast_m, enc, y, w, names)
    print(f"  {lang} blend {fusion}")

    def score(final: np.ndarray) -> float:
        return objective(set_scores(final, y, names))

    band, table = choose_gate(fast_m, fused, score, max_share, tolerance)
    for label, final in (("fast", fast_m), ("blend everywhere", fused)):
        sc = set_scores(final, y, names)
        detail = " ".join(f"{n[:12]}={a:.3f}/{r:.3f}" for n, (a, r) in sc.items())
        print(f"  {lang} out-of-fold {label}: obj {score(final):.4f}  {detail}")
    fusion["bias"] = round(fusion["bias"] + band["shift"], 4)
    fused = fused + band["shift"]
    use = (fast_m >= band["low"]) & (fast_m < band["high"])
    sc = set_scores(np.where(use, fused, fast_m), y, names)
    detail = " ".join(f"{n[:12]}={a:.3f}/{r:.3f}" for n, (a, r) in sc.items())
    print(
        f"  {lang} gate {band} share {use.mean():.2f} obj {score(np.where(use, fused, fast_m)):.4f}"
    )
    print(f"    {detail}")
    if curve:
        for lo, hi, share, d, obj in sorted(table, key=lambda t: -t[4])[:15]:
            print(f"    band [{lo}, {hi}) share {share:.2f} shift {d:+.2f} obj {obj:.4f}")
    gate = {"low": to_prob(band["low"]), "high": to_prob(band["high"])}
    notes = {"C": C, "gate_margin": [band["low"], band["high"]], "share": float(use.mean())}
    return C, fusion, gate, notes


def to_prob(margin: float) -> float:
    """A gate end in log-odds as the probability the run-time gate compares with."""
    return round(1 / (1 + math.exp(-margin)), 4) if abs(margin) < math.inf else float(margin > 0)
