"""Train the complaint models ``rules/complaint.py`` and ``rules/encoder.py`` ship.

    python tools/embed_cache.py          # once: encoder vectors of the training sample, in /tmp
    python tools/train_complaint.py [--out-dir rules/models] [--curve] [--langs en,zh]

Data: ``tools/social_data.py`` (../shared/data/social, labels mapped there); the
../shared/data/sentiment corpora enter through the polarity score feature (see
``training_rows``).  Held-out rows (20% by text hash, and
weibo2018_test) are never read here.  Inside the training part, rows whose hash bucket is in
VAL_BUCKETS are the validation rows: C, the cut-off, the blend of the encoder and the gate
band are chosen on them; then the fast model and the head are refitted on all training rows.

1. Fast model per language: L2 logistic regression (liblinear) over binary n-grams scaled by
   1/sqrt(n) plus dense features (polarity score, cue kinds; ``rules.complaint.features``).
   Every set weighs the same in total (so tweeteval's 11k general tweets do not drown the
   2.7k complaint tweets); the complaint tweets count four times: posts addressed to
   companies are the task.
2. Encoder head per language: logistic regression on multilingual-e5-small vectors of a
   sample of the training rows (``tools/embed_cache.py``).  English (CV_LANGS): the
   cut-offs, C, blend and gate on out-of-fold margins of all training rows instead
   (``tools/complaint_cv.py``).
3. Blend: on validation rows, a 2-feature logistic regression of (fast margin, encoder
   margin); the encoder is only consulted where the fast probability is inside the gate
   band.  ``--curve`` prints accuracy against the share of posts sent to the encoder.

Measured (validation rows, session 3; held-out figures are bench/accuracy.py's):
- The Chinese review corpora as training rows (REVIEW_WEIGHT 0.3-1) cost the Weibo sets 1-3
  points (their polarity feature is in-sample), so they are out.  At 0.2 (hotel, waimai,
  weibo2018 train parts): validation nlpcc2013 0.836 -> 0.802, smp2020 0.879 -> 0.867,
  weibo_senti 0.961 -> 0.953; it would win back held-out hotel / food-delivery accuracy
  (0.85 / 0.80 against the polarity model's 0.89 / 0.90) only by trusting a polarity model
  trained on those very corpora, which the issue measured at 0.83 on reviews of other
  categories: not shipped.
- English C 3 / 10 / 30: objective 0.784 / 0.794 / 0.797; Chinese 0.805 / 0.815 / 0.821.
- Head on the encoder alone: English 0.81-0.82 objective, Chinese 0.78 (below the fast
  model: the Chinese n-grams plus the review model are strong on Weibo).  Blended where
  |fast margin| < 1 (24-28% of rows) English rises 0.805 -> 0.820, Chinese 0.815 -> 0.824;
  the encoder on every row adds under half a point more.
- On the complaint tweets the best cut-off of this family gives about 0.82 accuracy at 0.85
  recall (frontier checked at weights 2 and 4 for that set); an MLP head (128 units) was no
  better than logistic regression (0.82 vs 0.83 at their best cut-offs).
- Negation marking for English ("never had a problem" -> ~had ~problem) raised the
  objective 0.789 -> 0.797.

Session 4 (reviews and the English complaint tweets):
- Shipped at run time, not here: ``rules.complaint.REVIEW_GATE`` sends Chinese posts the
  review model's gate takes for hotel / food-delivery reviews to that model's polarity.
  Chosen on training rows (the complaint model's margins there are in-sample, so the cost
  is if anything overstated): diverting every post with gate weight > 0.5 costs nlpcc2013
  0.907 -> 0.849, car forum 0.865 -> 0.733 (20% / 38% of their posts pass); > 0.95 passes
  0-1% of Weibo posts and 3% of car-forum posts (nlpcc2013 0.907 -> 0.905, car 0.865 ->
  0.855) and 89-94% of review rows.  A soft mix (gate weight x polarity + rest x complaint
  model) costs as much as > 0.5.
- English C 30 / 100 / 300: objective 0.797 / 0.788 / 0.783; Chinese 0.821 / 0.820 / 0.814
  (C = 30 stays).
- The cut-off on the complaint tweets (validation rows, blend of fast and encoder margins
  fitted by 5-fold CV there, encoder on every row): shift -0.25 / 0 / +0.5 / +1.0 gives
  0.827 / 0.814 / 0.803 / 0.774 accuracy at 0.759 / 0.791 / 0.869 / 0.921 recall, so 0.85 /
  0.85 is not reachable in this family; the balanced point (+0.5) would cost the other
  English sets 4-13 points of recall (tweeteval 0.81 -> 0.68, apple 0.80 -> 0.74) for about
  one point of mean accuracy: a trade, not a gain, so the shipped objective stays.
- Encoder head with the complaint tweets weighted 1 / 2 / 8 instead of 4 (same blend, same
  rows): complaint tweets 0.783-0.809 accuracy at 0.84-0.88 recall at the balanced shift,
  mean accuracy 0.863-0.867 -- within validation noise (544 rows) of weight 4.
- Blend features beyond (fast margin, encoder margin): + the polarity score, + fast x
  encoder, + the cue kinds: mean English validation accuracy 0.865 / 0.865 / 0.866 against
  0.867 at the balanced shift, complaint tweets 0.798-0.807: no gain.

Session 5 (issue #12, the English complaint tweets to 0.85 / 0.85):
- 5-fold CV on the complaint tweets' training rows (out-of-fold margins, the other sets
  always in training): n-gram model AUC 0.870 (0.764 accuracy at 0.85 recall); encoder head
  LR C 1 / 10: AUC 0.906 / 0.908, stacked with the n-grams 0.833 / 0.842 at 0.85 recall;
  RBF SVM 0.849 (megabytes of support vectors); MLP (64 units) 0.824; heads trained on the
  complaint tweets alone 0.85 (one file: not shipped).  Gate: the stacked blend where
  |fast margin| < 1 / 1.5 / 2 / 3 / everywhere (27 / 40 / 53 / 74 / 100% of posts) gives
  0.79 / 0.82 / 0.83 / 0.84 / 0.84 accuracy at 0.85 recall, so English may now send up to
  65% of posts to the encoder (the pipeline's time budget caps its time anyway).
- The English cut-off is now the best accuracy at task recall >= TASK_RECALL (was 0.75 acc
  + 0.25 recall, which put the complaint tweets at 0.93 recall).  Validation: complaint
  tweets 0.803 / 0.874, apple 0.857, sanders 0.889, tweeteval 0.832 (gate g = 2); held-out
  (bench/accuracy.py --no-budget): 0.845 / 0.917.
- Plain questions (rules.complaint.plain_question) always sent to the encoder with the
  post capped at head margin + offset: best offset +1.5 gained 0.0009 objective (English),
  Chinese lost 0.0014 at +2.25: not shipped.

Session 6 (issue #12: English choices out of fold, ``tools/complaint_cv.py``):
- English (CV_LANGS) now chooses the fast cut-off, the head's C, the blend, its cut-off and
  the gate band on 5-fold out-of-fold margins of every training row (2,714 complaint
  tweets, not the 544 of the validation buckets, whose cut-off at recall 0.87 gave 0.917
  held-out recall).  Out of fold: fast shift +1.15 (complaint tweets 0.752 / 0.878); head
  C 1 / 3 / 10 / 30 objective 0.836 / 0.839 / 0.841 / 0.837; blend everywhere 0.853
  (complaint tweets 0.827 / 0.871); gate band [-1.5, 2.0) log-odds, 56% of posts, 0.852.
  Held-out (bench/accuracy.py, looked at once): complaint tweets without the budget
  0.845 / 0.917 -> 0.862 / 0.896; the other English sets -0.2 to +1.0 points.
- Tried in a 5-fold harness on the 9,714 cached English rows (complaint tweets accuracy at
  recall 0.85 / mean accuracy of the other five sets at that cut-off; the shipped family,
  blend of fast and head C 1 / 3: 0.837 / 0.881, 0.840 / 0.880), none shipped:
  - e5 "passage: " instead of "query: ": head AUC 0.897 vs 0.905, blend 0.819 / 0.881;
    the two averaged 0.839 / 0.881; concatenated 0.841 / 0.882 for twice the encoder time.
  - one head on [embedding, fast margin] instead of the 2-step blend: 0.823-0.834.
  - + the dense features (polarity, cue kinds) and log length in the blend: 0.840 / 0.879.
  - kNN (top-k cosine to complaints minus to the rest, training rows) as a third blend
    feature: k 5 / 20: 0.842 / 0.885, 0.842 / 0.887 (AUC 0.916 -> 0.920-0.922): about half
    a point, for shipping ~10k training rows' vectors in the repo.
  - the head trained with 25 / 50 / 100% of the other sets' cached rows: complaint tweets
    AUC 0.902 / 0.906 / 0.907 (accuracy flat), the other sets 0.859 / 0.863 / 0.867: more
    rows of the other sets would help them a little, not the complaint tweets.
  - the head distilled into the n-gram model (soft targets 0.5 label + 0.5 head, teacher
    out of fold inside each fold): the fast model alone 0.765 / 0.849 (plain 0.759 / 0.841)
    but the blend 0.826 / 0.878 (plain 0.835 / 0.876).
  - where the encoder pays (blend against fast, both at recall 0.87, by fast margin):
    complaint tweets +9 / +74 / +61 / +45 / +17 rows right in [-0.5, 0) / [0, 0.5) /
    [0.5, 1) / [1, 1.5) / [1.5, 2), about 0 below -0.5: the false alarms are what it
    removes.  Yet a time budget that reads 10% of the posts outward from +0.5 instead of 0
    (most unsure first) scores 0.705 against 0.818: the recall falls under the task's, so
    the budget's order stays.
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np
from scipy.sparse import csr_matrix, hstack
from sklearn.linear_model import LogisticRegression

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tools"))

import complaint_cv  # noqa: E402
import embed_cache  # noqa: E402
from complaint_scoring import (  # noqa: E402
    REVIEW_WEIGHT,
    SET_WEIGHT,
    fit_blend,
    objective,
    pick_shift,
    set_scores,
    weights,
)
from social_data import hash_bucket, load_all  # noqa: E402
from train_zh_sentiment import default_data_dir as sentiment_dir  # noqa: E402
from train_zh_sentiment import load_sets as sentiment_sets  # noqa: E402

from rules import complaint, encoder  # noqa: E402

VAL_BUCKETS = range(20, 36)
CS = (3.0, 10.0, 30.0)
MIN_DF = 3
PRUNE = 0.01
GATES = (0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, math.inf)  # |fast margin| below this -> encoder
# Share of validation posts the gate may send to the encoder.  The pipeline's time budget
# (analysis.encoder_rate) caps the encoder's share of time whatever the band, so this only
# says where the encoder pays: English n-grams are the weak model (out-of-fold AUC on the
# complaint tweets 0.87 against the encoder head's 0.91-0.92), Chinese n-grams are not.
MAX_ENCODED_SHARE = {"en": 0.65, "zh": 0.35}
GATE_TOLERANCE = 0.001  # the narrowest band within this of the best objective
HEAD_CS = (1.0, 3.0, 10.0, 30.0)
# Languages whose cut-offs, head C, blend and gate are chosen on out-of-fold margins of every
# training row (tools/complaint_cv.py) rather than on the validation buckets.
CV_LANGS = ("en",)


def training_rows(lang: str) -> dict[str, list[tuple[str, int]]]:
    # Not ../shared/data/sentiment: the Chinese polarity model (a feature here) was trained
    # on those rows, so its score there is in-sample and the LR learned to trust it far too
    # much (validation 0.97 on them, weight -3.4).  They still count through that feature,
    # and bench/accuracy.py measures their held-out rows.
    sets = {name: train for name, (lg, train, _h) in load_all().items() if lg == lang}
    if lang == "zh" and REVIEW_WEIGHT:
        for name, (train, _held) in sentiment_sets(sentiment_dir()).items():
            sets[name] = [(t, 1 - y) for t, y in train]  # sentiment 0 = negative = complaint
    return sets


def is_val(text: str) -> bool:
    return hash_bucket(text) in VAL_BUCKETS


class Featurizer:
    def __init__(self, lang: str, texts: list[str]) -> None:
        self.lang = lang
        self.feats = [complaint.features(t, lang) for t in texts]

    def vocab(self, idx) -> dict[str, int]:
        df: dict[str, int] = {}
        for i in idx:
            for g in self.feats[i][0]:
                df[g] = df.get(g, 0) + 1
        keep = sorted(g for g, c in df.items() if c >= MIN_DF)
        return {g: j for j, g in enumerate(keep)}

    def matrix(self, idx, vocab: dict[str, int]):
        rows, cols, vals = [], [], []
        dense = np.zeros((len(idx), len(complaint.DENSE)))
        for r, i in enumerate(idx):
            grams, d = self.feats[i]
            s = 1.0 / math.sqrt(len(grams)) if grams else 0.0
            for g in sorted(grams):  # set order varies per process: same rows, same model
                j = vocab.get(g)
                if j is not None:
                    rows.append(r)
                    cols.append(j)
                    vals.append(s)
            # Rounded: the run-time scorers sum over sets, whose order (so the last bits of
            # a float sum) varies per process, and liblinear's stopping point follows them.
            dense[r] = [round(d[k], 9) for k in complaint.DENSE]
        sparse = csr_matrix((vals, (rows, cols)), shape=(len(idx), len(vocab)))
        return hstack([sparse, csr_matrix(dense)]).tocsr()


def fit_lr(X, y, w, C: float):
    lr = LogisticRegression(C=C, solver="liblinear", max_iter=2000, random_state=0)
    lr.fit(X, y, sample_weight=w)
    return lr


def train_fast(lang: str, sets) -> tuple[dict, dict]:
    texts, labels, names, weights = [], [], [], []
    for name, rows in sets.items():
        w = SET_WEIGHT.get(name, 1.0) * 1000.0 / max(1, len(rows))
        for t, y in rows:
            texts.append(t)
            labels.append(y)
            names.append(name)
            weights.append(w)
    y = np.array(labels)
    names_a = np.array(names)
    w = np.array(weights)
    fz = Featurizer(lang, texts)
    tr = [i for i, t in enumerate(texts) if not is_val(t)]
    va = [i for i, t in enumerate(texts) if is_val(t)]
    vocab = fz.vocab(tr)
    Xtr, Xva = fz.matrix(tr, vocab), fz.matrix(va, vocab)
    best = None
    for C in CS:
        lr = fit_lr(Xtr, y[tr], w[tr], C)
        m = lr.decision_function(Xva)
        shift = pick_shift(m, y[va], names_a[va])
        obj = objective(set_scores(m, y[va], names_a[va], shift))
        print(f"  {lang} C={C}: val objective {obj:.4f} (shift {shift:+.2f})")
        if best is None or obj > best[0] + 1e-4:
            best = (obj, C, shift, m)
    _obj, C, shift, val_margins = best
    for name, (a, r) in set_scores(val_margins, y[va], names_a[va], shift).items():
        print(f"    val {name:<26} acc {a:.3f} recall {r:.3f}")
    val_info = {"texts": [texts[i] for i in va], "margins": val_margins + shift}
    if lang in CV_LANGS:
        # The cut-off on out-of-fold margins of every training row (C as chosen above).
        folds = np.array([complaint_cv.fold_of(hash_bucket(t)) for t in texts])
        oof = np.zeros(len(texts))
        for k in range(complaint_cv.FOLDS):
            tr = [i for i in range(len(texts)) if folds[i] != k]
            te = [i for i in range(len(texts)) if folds[i] == k]
            vocab = fz.vocab(tr)
            oof[te] = fit_lr(fz.matrix(tr, vocab), y[tr], w[tr], C).decision_function(
                fz.matrix(te, vocab)
            )
        shift = pick_shift(oof, y, names_a)
        print(f"  {lang} out-of-fold cut-off shift {shift:+.2f}")
        for name, (a, r) in set_scores(oof, y, names_a, shift).items():
            print(f"    oof {name:<26} acc {a:.3f} recall {r:.3f}")
        val_info = {"texts": texts, "margins": oof + shift}
    # Refit on every training row with the chosen C; keep the validation cut-off.
    allidx = list(range(len(texts)))
    vocab = fz.vocab(allidx)
    lr = fit_lr(fz.matrix(allidx, vocab), y, w, C)
    coef = lr.coef_[0]
    nv = len(vocab)
    grams = {g: round(float(coef[j]), 4) for g, j in vocab.items() if abs(coef[j]) >= PRUNE}
    part = {
        "bias": round(float(lr.intercept_[0]) + shift, 4),
        "weights": grams,
        "dense": {k: round(float(coef[nv + i]), 4) for i, k in enumerate(complaint.DENSE)},
        "C": C,
        "cutoff_shift": round(shift, 3),
    }
    return part, val_info


def encoder_rows(lang: str):
    """Cached (original text, label, vector, set) rows of this language."""
    out = []
    for name, (lg, train, _h) in load_all().items():
        if lg != lang:
            continue
        cached = embed_cache.load_cached(name)
        if cached is None:
            print(f"  (no cached vectors for {name}: run tools/embed_cache.py)")
            continue
        rows = embed_cache.sample(train, embed_cache.PER_SET.get(name, 1000))
        inputs, _labels, vectors = cached
        if [encoder.encoder_input(t, lang) for t, _ in rows] != list(inputs):
            print(f"  (stale cache for {name}: rerun tools/embed_cache.py)")
            continue
        out.extend((t, int(y), v, name) for (t, y), v in zip(rows, vectors, strict=True))
    return out


def fit_final_head(rows, C: float) -> dict:
    final_head = LogisticRegression(C=C, max_iter=5000).fit(
        np.array([r[2] for r in rows]), np.array([r[1] for r in rows]), sample_weight=weights(rows)
    )
    return {
        "bias": round(float(final_head.intercept_[0]), 5),
        "weights": [round(float(v), 5) for v in final_head.coef_[0]],
    }


def train_head(lang: str, fast_val: dict, curve: bool) -> tuple[dict, dict, dict, dict]:
    rows = encoder_rows(lang)
    if lang in CV_LANGS:
        C, fusion, gate, notes = complaint_cv.train_head_cv(
            lang, rows, fast_val, curve, HEAD_CS, MAX_ENCODED_SHARE[lang], GATE_TOLERANCE
        )
        return fit_final_head(rows, C), fusion, gate, notes
    tr = [r for r in rows if not is_val(r[0])]
    va = [r for r in rows if is_val(r[0])]

    X = np.array([r[2] for r in tr])
    y = np.array([r[1] for r in tr])
    best = None
    Xv = np.array([r[2] for r in va])
    yv = np.array([r[1] for r in va])
    nv = np.array([r[3] for r in va])
    for C in HEAD_CS:
        lr = LogisticRegression(C=C, max_iter=5000).fit(X, y, sample_weight=weights(tr))
        m = lr.decision_function(Xv)
        obj = objective(set_scores(m, yv, nv, pick_shift(m, yv, nv)))
        print(f"  {lang} head C={C}: val objective {obj:.4f}")
        if best is None or obj > best[0] + 1e-4:
            best = (obj, C, m)
    _o, C, enc_val = best
    fast_by_text = dict(zip(fast_val["texts"], fast_val["margins"], strict=True))
    fast_m = np.array([fast_by_text[r[0]] for r in va])
    # Blend weights on the validation rows (fast margins there are out of sample too).
    fusion, fused = fit_blend(fast_m, enc_val, yv, weights(va), nv)
    print(f"  {lang} blend {fusion}")
    curve_rows = []
    for g in GATES:
        use = np.abs(fast_m) < g
        final = np.where(use, fused, fast_m)
        sc = set_scores(final, yv, nv)
        curve_rows.append((g, float(use.mean()), objective(sc), sc))
    ok = [c for c in curve_rows if c[1] <= MAX_ENCODED_SHARE[lang]]
    top = max(c[2] for c in ok)
    chosen = min((c for c in ok if c[2] >= top - GATE_TOLERANCE), key=lambda c: c[1])
    if curve:
        print(f"  {lang} gate |fast margin| < g: share to encoder, val objective")
        for g, share, obj, sc in curve_rows:
            mark = " <- shipped" if g == chosen[0] else ""
            detail = " ".join(f"{n[:12]}={a:.3f}/{r:.3f}" for n, (a, r) in sc.items())
            print(f"    g={g:<4} share {share:.2f} obj {obj:.4f}  {detail}{mark}")
    g = chosen[0]
    gate = {"low": round(1 / (1 + math.exp(g)), 4), "high": round(1 / (1 + math.exp(-g)), 4)}
    notes = {"C": C, "gate_margin": g, "share": chosen[1]}
    return fit_final_head(rows, C), fusion, gate, notes


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out-dir", type=Path, default=REPO / "rules" / "models")
    ap.add_argument("--curve", action="store_true", help="print the gate curve")
    ap.add_argument(
        "--langs",
        default="en,zh",
        help="languages to retrain; the others' parts are kept from the files in --out-dir",
    )
    args = ap.parse_args(argv)
    fast_out: dict[str, Any] = {"format": complaint.MODEL_FORMAT, "lang": {}}
    head_out: dict[str, Any] = {
        "format": encoder.HEAD_FORMAT,
        "bias": {},
        "weights": {},
        "fusion": {},
        "gate": {},
        "notes": {},
    }
    langs = [lang for lang in ("en", "zh") if lang in args.langs.split(",")]
    for lang in {"en", "zh"} - set(langs):
        with gzip.open(args.out_dir / "complaint.json.gz", "rt", encoding="utf-8") as fh:
            fast_out["lang"][lang] = json.load(fh)["lang"][lang]
        kept = encoder.load_head(args.out_dir / "complaint_encoder_head.json.gz")
        for key in ("bias", "weights", "fusion", "gate", "notes"):
            head_out[key][lang] = kept[key][lang]
    for lang in langs:
        print(f"{lang}: fast model")
        part, val = train_fast(lang, training_rows(lang))
        fast_out["lang"][lang] = part
        print(f"{lang}: encoder head")
        head, fusion, gate, notes = train_head(lang, val, args.curve)
        head_out["bias"][lang] = head["bias"]
        head_out["weights"][lang] = head["weights"]
        head_out["fusion"][lang] = fusion
        head_out["gate"][lang] = gate
        head_out["notes"][lang] = notes
    args.out_dir.mkdir(parents=True, exist_ok=True)
    for name, data in (
        ("complaint.json.gz", fast_out),
        ("complaint_encoder_head.json.gz", head_out),
    ):
        raw = json.dumps(data, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
        # mtime=0: the same training run gives the same bytes
        (args.out_dir / name).write_bytes(gzip.compress(raw.encode("utf-8"), 9, mtime=0))
        print(f"wrote {args.out_dir / name} ({(args.out_dir / name).stat().st_size:,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
