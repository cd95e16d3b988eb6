"""Train the Chinese sentiment model that ``rules/sentiment.py`` ships and loads.

    python tools/train_zh_sentiment.py [--data DIR] [--out rules/models/zh_sentiment.json.gz]

Data (read by path, never copied into the repo): ``--data`` or ``$BUZZWATCH_SENTIMENT_DATA``,
default ``../shared/data/sentiment`` next to the repo.  See that directory's README.md.

Method (chosen by measuring, see the commit log): NB-weighted logistic regression
("NB-LR", Wang & Manning 2012 style) on binary character 1-4-grams of
``rules.social.clean(text).lower()``.  Each text's feature vector is scaled by
1/sqrt(number of distinct n-grams in the text) -- computed over *all* its n-grams, not only
those the model keeps -- so the run-time scorer can prune small weights and still compute
exactly the same margin:

    margin = bias + sum(weight[g] for g in distinct_ngrams(text) if g in weight) / sqrt(n)
    score  = tanh(margin / 2)          # = 2 * P(positive) - 1, in [-1, 1]

The NB log-count ratios and the LR coefficients are folded into one weight per n-gram.

Training data: the three corpora together (Weibo posts generalise badly to reviews and vice
versa; the combined model is the one that holds up on both).  Honest evaluation:
weibo2018 trains on weibo2018_train.txt and is tested on weibo2018_test.txt; the hotel and
food-delivery sets are split by a hash of the review text (20% held out, identical texts
always land in the same fold, so no duplicate leaks).  The shipped model is trained on the
training parts only, so the held-out figures printed here and by bench/accuracy.py are the
shipped model's figures.  C and the negative threshold are chosen on a validation split
carved out of the training part (never on the test parts); the chosen threshold is folded
into the bias so that ``rules.sentiment.NEGATIVE_THRESHOLD`` (-0.05, VADER's convention)
is the cut-off for both languages.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import hashlib
import json
import math
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from rules import sentiment as rs  # noqa: E402  (after sys.path setup)

DATA_ENV = "BUZZWATCH_SENTIMENT_DATA"
DEFAULT_OUT = REPO / "rules" / "models" / "zh_sentiment.json.gz"

WEIBO_TRAIN = "weibo2018_train.txt"
WEIBO_TEST = "weibo2018_test.txt"
HOTEL = "ChnSentiCorp_htl_all.csv"
WAIMAI = "waimai_10k.csv"

Rows = list[tuple[str, int]]  # (text, label) with label 1 = positive, 0 = negative


def default_data_dir() -> Path:
    env = os.environ.get(DATA_ENV)
    return Path(env) if env else (REPO.parent / "shared" / "data" / "sentiment")


def load_weibo(path: Path) -> Rows:
    rows: Rows = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            line = line.rstrip("\n")
            if not line:
                continue
            # id,label,text -- the text may contain commas: split on the first two only
            _id, label, text = line.split(",", 2)
            rows.append((text, int(label)))
    return rows


def load_review_csv(path: Path) -> Rows:
    with open(path, encoding="utf-8", newline="") as fh:
        return [(r["review"] or "", int(r["label"])) for r in csv.DictReader(fh)]


def is_holdout(text: str, fold: int = 0, folds: int = 5) -> bool:
    """Deterministic fold of a text (md5 of the raw text): stable across runs and machines."""
    return int(hashlib.md5(text.encode("utf-8")).hexdigest()[:8], 16) % folds == fold


def split_holdout(rows: Rows) -> tuple[Rows, Rows]:
    """(train 80%, held-out 20%) by text hash."""
    train = [r for r in rows if not is_holdout(r[0])]
    test = [r for r in rows if is_holdout(r[0])]
    return train, test


def load_sets(data: Path) -> dict[str, tuple[Rows, Rows]]:
    """name -> (train rows, held-out rows) for every corpus that is present."""
    sets: dict[str, tuple[Rows, Rows]] = {}
    if (data / WEIBO_TRAIN).exists() and (data / WEIBO_TEST).exists():
        sets["weibo2018"] = (load_weibo(data / WEIBO_TRAIN), load_weibo(data / WEIBO_TEST))
    if (data / HOTEL).exists():
        sets["hotel"] = split_holdout(load_review_csv(data / HOTEL))
    if (data / WAIMAI).exists():
        sets["waimai"] = split_holdout(load_review_csv(data / WAIMAI))
    return sets


def features(texts: list[str]):
    """Sparse matrix of scaled binary n-gram features (same transform as the run-time scorer)."""
    import numpy as np
    from scipy import sparse

    vocab: dict[str, int] = {}
    indptr, indices, data = [0], [], []
    for t in texts:
        grams = rs.ngrams(rs.prepare_zh(t))
        scale = 1.0 / math.sqrt(max(1, len(grams)))
        for g in grams:
            indices.append(vocab.setdefault(g, len(vocab)))
            data.append(scale)
        indptr.append(len(indices))
    X = sparse.csr_matrix(
        (np.array(data), np.array(indices), np.array(indptr)), shape=(len(texts), len(vocab))
    )
    return X, vocab


def fit(texts: list[str], labels: list[int], C: float, alpha: float = 1.0, min_df: int = 2):
    """Fit NB-LR; returns (bias, {ngram: folded weight})."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    X, vocab = features(texts)
    y = np.array(labels)
    binary = (X > 0).astype(np.float64)
    df = np.asarray(binary.sum(axis=0)).ravel()
    keep = np.flatnonzero(df >= min_df)  # n-grams seen once are noise (names, typos)
    X = X[:, keep]
    binary = binary[:, keep]
    p = alpha + np.asarray(binary[y == 1].sum(axis=0)).ravel()
    q = alpha + np.asarray(binary[y == 0].sum(axis=0)).ravel()
    r = np.log((p / p.sum()) / (q / q.sum()))
    Xr = X.multiply(r).tocsr()
    # class_weight="balanced": the corpora have opposite majority classes (weibo/hotel
    # mostly positive, waimai mostly negative); we want a prior-free score around 0.
    clf = LogisticRegression(C=C, max_iter=5000, class_weight="balanced", solver="liblinear")
    clf.fit(Xr, y)
    w = clf.coef_.ravel() * r
    inv = {i: g for g, i in vocab.items()}
    weights = {inv[int(j)]: float(w[k]) for k, j in enumerate(keep)}
    return float(clf.intercept_[0]), weights


def prune(weights: dict[str, float], eps: float) -> dict[str, float]:
    return {g: round(w, 4) for g, w in weights.items() if abs(w) >= eps}


def accuracy_at(scores: list[float], labels: list[int], threshold: float) -> float:
    return sum((s >= threshold) == bool(y) for s, y in zip(scores, labels, strict=True)) / len(
        labels
    )


def neg_pr(scores: list[float], labels: list[int], threshold: float) -> tuple[float, float]:
    pred = [s < threshold for s in scores]
    tp = sum(p and y == 0 for p, y in zip(pred, labels, strict=True))
    fp = sum(p and y == 1 for p, y in zip(pred, labels, strict=True))
    fn = sum((not p) and y == 0 for p, y in zip(pred, labels, strict=True))
    return tp / max(1, tp + fp), tp / max(1, tp + fn)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=default_data_dir())
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--C", type=float, nargs="*", default=[3.0, 10.0, 30.0])
    ap.add_argument("--prune", type=float, default=0.05, help="drop |weight| below this")
    args = ap.parse_args(argv)

    sets = load_sets(args.data)
    if len(sets) < 3:
        print(f"missing data under {args.data}: found {sorted(sets)}", file=sys.stderr)
        return 2
    for name, (tr, te) in sets.items():
        print(f"{name}: train {len(tr)}  held-out {len(te)}")

    # Validation split inside the training parts, for choosing C and the threshold.
    val_fold = 1  # fold 0 is the held-out test fold of the review sets
    fit_rows: Rows = []
    val_rows: dict[str, Rows] = {}
    for name, (tr, _te) in sets.items():
        v = [r for r in tr if is_holdout(r[0], val_fold, 8)]
        val_rows[name] = v
        fit_rows += [r for r in tr if not is_holdout(r[0], val_fold, 8)]

    best = None
    for C in args.C:
        t0 = time.time()
        bias, w = fit([t for t, _ in fit_rows], [y for _, y in fit_rows], C)
        model = rs.ZhModel(bias, prune(w, args.prune))
        per = {}
        for name, rows in val_rows.items():
            scores = [model.score(t) for t, _ in rows]
            per[name] = (scores, [y for _, y in rows])
        macro = sum(accuracy_at(s, y, 0.0) for s, y in per.values()) / len(per)
        detail = "  ".join(f"{n}={accuracy_at(s, y, 0.0):.4f}" for n, (s, y) in per.items())
        print(f"validation C={C:g}: macro acc {macro:.4f}  {detail}  ({time.time() - t0:.0f}s)")
        if best is None or macro > best[0]:
            best = (macro, C, per)
    assert best is not None
    _macro, C, per = best
    # Threshold: maximise the mean of per-corpus accuracies (corpora weigh equally; their
    # class balances differ), on a coarse grid so it does not chase noise.
    grid = [x / 20 for x in range(-10, 11)]
    threshold = max(
        grid, key=lambda th: (sum(accuracy_at(s, y, th) for s, y in per.values()), -abs(th))
    )
    print(f"chosen C={C:g}, calibrated raw threshold {threshold:+.2f}")

    train_rows: Rows = [r for tr, _te in sets.values() for r in tr]
    bias, w = fit([t for t, _ in train_rows], [y for _, y in train_rows], C)
    pruned = prune(w, args.prune)
    # One NEGATIVE_THRESHOLD serves both languages, and it is VADER's own convention
    # (compound <= -0.05 is negative; neutral text scores exactly 0).  Fold the calibrated
    # Chinese cut-off into the bias so that zh score < GLOBAL  <=>  raw score < threshold:
    # tanh(m'/2) < G  <=>  m' < 2 atanh(G), with m' = m - 2 atanh(threshold) + 2 atanh(G).
    bias += 2 * math.atanh(rs.NEGATIVE_THRESHOLD) - 2 * math.atanh(threshold)
    print(f"n-grams: {len(w)} fitted, {len(pruned)} kept (|w| >= {args.prune})")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "format": "buzzwatch-zh-ngram-lr/1",
        "ngram_max": rs.NGRAM_MAX,
        "bias": round(bias, 4),
        "negative_threshold": rs.NEGATIVE_THRESHOLD,
        "calibrated_raw_threshold": threshold,
        "trained_on": {n: len(tr) for n, (tr, _te) in sets.items()},
        "C": C,
        "weights": pruned,
    }
    raw = json.dumps(payload, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    # mtime=0 keeps the file byte-identical across runs (reproducible builds).
    with open(args.out, "wb") as fh:
        fh.write(gzip.compress(raw.encode("utf-8"), compresslevel=9, mtime=0))
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.2f} MB)")

    # Held-out figures with the run-time scorer on the written file (what ships).
    model = rs.ZhModel.load(args.out)
    print("held-out (never trained on):")
    print(f"{'set':<12}{'n':>6}{'acc':>8}{'negP':>8}{'negR':>8}")
    for name, (_tr, te) in sets.items():
        scores = [model.score(t) for t, _ in te]
        labels = [y for _, y in te]
        acc = accuracy_at(scores, labels, rs.NEGATIVE_THRESHOLD)
        p, r = neg_pr(scores, labels, rs.NEGATIVE_THRESHOLD)
        print(f"{name:<12}{len(te):>6}{acc:>8.4f}{p:>8.4f}{r:>8.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
