"""Embeddings of the training texts, cached outside the repo while iterating.

    python tools/embed_cache.py            # fills $BUZZWATCH_EMB_CACHE (default /tmp/buzzwatch-emb)

Embedding ~20k texts takes several minutes on 2 cores, so the training tool reads them from
here instead of re-embedding on every run.  One .npz per set: the encoder inputs (exactly
``rules.encoder.encoder_input``) and their vectors; texts already cached are skipped.
"""

from __future__ import annotations

import os
import random
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tools"))

from social_data import load_all  # noqa: E402

from rules.encoder import embed, encoder_input  # noqa: E402

CACHE = Path(os.environ.get("BUZZWATCH_EMB_CACHE", Path(tempfile.gettempdir()) / "buzzwatch-emb"))

# Training rows embedded per set: enough for a 384-dim linear head, small enough to embed
# in minutes.  The complaint tweets are the core task, so all of them.
PER_SET = {
    "complaints_preotiuc2019": 10_000,
    "apple_twitter": 1500,
    "sxsw_brands": 1200,
    "sanders": 1500,
    "tweeteval": 2000,
    "cesamard_amazon": 800,
    "nlpcc2013_weibo": 2500,
    "nlpcc2014_weibo": 1500,
    "smp2020_weibo": 3000,
    "weibo_senti_2400": 10_000,
    "car_forum": 1200,
}


def sample(rows, n: int, seed: int = 7):
    rows = list(rows)
    random.Random(seed).shuffle(rows)
    return rows[:n]


def load_cached(name: str):
    path = CACHE / f"{name}.npz"
    if not path.exists():
        return None
    data = np.load(path, allow_pickle=False)
    return list(data["inputs"]), data["labels"], data["vectors"]


def main() -> int:
    CACHE.mkdir(parents=True, exist_ok=True)
    for name, (lang, train, _held) in load_all().items():
        rows = sample(train, PER_SET.get(name, 1000))
        inputs = [encoder_input(t, lang) for t, _ in rows]
        labels = np.array([y for _, y in rows], dtype=np.int8)
        have = load_cached(name)
        if have is not None and have[0] == inputs:
            print(f"{name}: cached ({len(inputs)})", flush=True)
            continue
        vecs = embed(inputs)
        np.savez(CACHE / f"{name}.npz", inputs=np.array(inputs), labels=labels, vectors=vecs)
        print(f"{name}: embedded {len(inputs)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
