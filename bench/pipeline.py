"""Whole-pipeline throughput per analysis engine, next to the models alone, on the same texts.

    python bench/pipeline.py [--n 20000] [--n-slow 3000] [--batch 500]

Engines side by side: fast, default (fast + the encoder where unsure; "encoded" is the share
of posts the encoder read) and snownlp; VADER and SnowNLP alone for scale.

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

import sources.kinds  # noqa: F401  (every source kind's config section, before a config is read)
from bench.corpus import make_mentions
from core.alerting.routing import Router
from core.config import AnalysisConfig, load_config
from core.domain.clock import FakeClock
from core.intake.pipeline import Pipeline
from rules import complaint, encoder, sentiment
from rules.analyze import Analyzer
from rules.lang import detect_lang
from storage.tinydb_repo import TinyDBRepository


def clear_caches() -> None:
    sentiment.cache_clear()
    complaint.cache_clear()


def pipeline_rate(config, engine: str, n: int, batch: int) -> tuple[float, int, float]:
    """(mentions/s, alerts, share of analysed posts the encoder read) for one engine."""
    clear_caches()
    mentions = make_mentions(n)
    with tempfile.TemporaryDirectory() as tmp:
        cfg = config.model_copy(
            update={"data_dir": Path(tmp), "analysis": AnalysisConfig(engine=engine)}
        )
        clock = FakeClock(mentions[-1].fetched_at)
        repo = TinyDBRepository(Path(tmp), clock=clock)
        pipeline = Pipeline(cfg, repo, Analyzer(cfg), Router(cfg.routes), clock)
        alerts = 0
        t0 = time.perf_counter()
        for i in range(0, n, batch):
            alerts += len(pipeline.process("bench", mentions[i : i + batch]).alerts)
        elapsed = time.perf_counter() - t0
        repo.close()
    return n / elapsed, alerts, len(encoder._cache) / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=20000, help="mentions for the fast engine")
    parser.add_argument("--n-slow", type=int, default=3000, help="for default and snownlp")
    parser.add_argument("--batch", type=int, default=500)
    args = parser.parse_args()
    config, _ = load_config(Path(__file__).resolve().parent.parent / "examples" / "config.yaml")

    texts = [(f"{m.title}\n{m.text}", detect_lang(m.text)) for m in make_mentions(args.n)]
    complaint.complaint_probability("预热", "zh", "fast")  # load the models before timing
    complaint.complaint_probability("warm up", "en", "fast")
    clear_caches()
    t0 = time.perf_counter()
    for text, lang in texts:
        complaint.complaint_probability(text, lang, "fast")
    fast_alone = args.n / (time.perf_counter() - t0)
    en = [t for t, lang in texts if lang == "en"][:2000]
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    vader = SentimentIntensityAnalyzer()
    t0 = time.perf_counter()
    for text in en:
        vader.polarity_scores(text)
    vader_rate = len(en) / (time.perf_counter() - t0)
    snow_rate = snownlp_rate([t for t, lang in texts if lang == "zh"][:500])

    print(f"mentions in batches of {args.batch} (60% Chinese, 40% English), all brand-matched")
    print(f"{'engine':<10}{'mentions':>9}{'pipeline/s':>12}{'alerts':>8}{'encoded':>9}")
    for engine, n in (("fast", args.n), ("default", args.n_slow), ("snownlp", args.n_slow)):
        if engine == "snownlp" and snow_rate is None:
            print(f"{engine:<10}  (not installed: pip install snownlp==0.12.3)")
            continue
        rate, alerts, share = pipeline_rate(config, engine, n, args.batch)
        print(f"{engine:<10}{n:>9,}{rate:>12,.0f}{alerts:>8,}{share:>9.0%}")
    print(
        f"models alone: fast engine {fast_alone:,.0f} texts/s; VADER alone (English) "
        f"{vader_rate:,.0f} texts/s"
        + (f"; SnowNLP alone (Chinese) {snow_rate:,.0f} texts/s" if snow_rate else "")
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
