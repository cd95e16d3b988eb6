"""Whole-pipeline throughput next to the sentiment models alone, on the same texts.

    python bench/pipeline.py [--n 20000] [--batch 500]

The pipeline figure covers analysis (brands, language, sentiment, questions, KOLs, aspects,
severity), routing, grouping, alert creation and storage (mentions, alerts, outbox, seen
ids) in poll-cycle batches. Caches are cleared before each run so both figures pay for
every text.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.corpus import make_mentions
from core.clock import FakeClock
from core.config import load_config
from core.pipeline import Pipeline
from core.routing import Router
from rules import sentiment
from rules.analyze import Analyzer
from rules.lang import detect_lang
from storage.tinydb_repo import TinyDBRepository


def clear_caches() -> None:
    if hasattr(sentiment, "cache_clear"):
        sentiment.cache_clear()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=20000)
    parser.add_argument("--batch", type=int, default=500)
    args = parser.parse_args()
    config, _ = load_config(Path(__file__).resolve().parent.parent / "examples" / "config.yaml")

    texts = [(f"{m.title}\n{m.text}", detect_lang(m.text)) for m in make_mentions(args.n)]
    sentiment.sentiment_score("预热", "zh")  # load the models before timing
    sentiment.sentiment_score("warm up", "en")
    clear_caches()
    t0 = time.perf_counter()
    for text, lang in texts:
        sentiment.sentiment_score(text, lang)
    senti_rate = args.n / (time.perf_counter() - t0)

    snow_rate = snownlp_rate([t for t, lang in texts if lang == "zh"][:500])

    clear_caches()
    mentions = make_mentions(args.n)
    with tempfile.TemporaryDirectory() as tmp:
        config = config.model_copy(update={"data_dir": Path(tmp)})
        clock = FakeClock(mentions[-1].fetched_at)
        repo = TinyDBRepository(Path(tmp), clock=clock)
        pipeline = Pipeline(config, repo, Analyzer(config), Router(config.routes), clock)
        alerts = 0
        t0 = time.perf_counter()
        for i in range(0, args.n, args.batch):
            alerts += len(pipeline.process("bench", mentions[i : i + args.batch]).alerts)
        elapsed = time.perf_counter() - t0
        repo.close()
    pipe_rate = args.n / elapsed
    print(f"mentions: {args.n:,} in batches of {args.batch} (60% Chinese, 40% English)")
    print(f"sentiment models alone:  {senti_rate:10,.0f} mentions/s")
    print(f"whole pipeline:          {pipe_rate:10,.0f} mentions/s  ({alerts:,} alerts made)")
    print(f"pipeline / sentiment:    {pipe_rate / senti_rate:10.0%}  (target: at least 80%)")
    if snow_rate:
        print(
            f"SnowNLP alone (Chinese): {snow_rate:10,.0f} texts/s  (pipeline = {pipe_rate / snow_rate:.1f}x SnowNLP alone)"
        )
    print(
        "note: the 80% target assumed a SnowNLP-speed model, where sentiment is nearly all the\n"
        "work; Buzzwatch's own model is ~40x faster, so the rest of the pipeline now dominates."
    )


def snownlp_rate(texts: list[str]) -> float | None:
    """SnowNLP's rate on the same Chinese texts, when it is installed (requirements-dev)."""
    try:
        from snownlp import SnowNLP
    except ImportError:
        return None
    _ = SnowNLP("预热").sentiments  # loads its model
    t0 = time.perf_counter()
    for text in texts:
        _ = SnowNLP(text).sentiments
    return len(texts) / (time.perf_counter() - t0)


if __name__ == "__main__":
    main()
