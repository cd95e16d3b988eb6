"""CPU per mention by pipeline stage, fast engine: where the pipeline's time goes.

    python bench/pipeline_stages.py [--n 4000] [--batch 500] [--runs 3]

Runs bench/pipeline.py's pipeline (SQLite store) with the analysis in this process
(analysis.workers: 0, so every stage runs here) and times, in this process's CPU time,
the analysis (Analyzer.prepare and analyze), routing (AlertMaker.route: routes, dedup keys,
fingerprints), grouping (AlertMaker.make) and storage (save_cycle); "total" is the whole
run, the rest of it the pipeline's own bookkeeping. Best of --runs (by total). CPU time,
not wall time, so other work on the machine matters less; compare before/after in the
same minutes.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sources.kinds  # noqa: F401  (every source kind's config section, before a config is read)
from bench.corpus import make_mentions
from bench.pipeline import load_fast_models, pipeline_rate
from core.alerting.grouping import AlertMaker
from core.config import load_config
from rules.analyze import Analyzer
from storage.sqlite_repo import SQLiteRepository

STAGES: list[tuple[type, str, str]] = [
    (Analyzer, "prepare", "analysis"),
    (Analyzer, "analyze", "analysis"),
    (AlertMaker, "route", "routing"),
    (AlertMaker, "make", "grouping"),
    (SQLiteRepository, "save_cycle", "storage"),
]


def _timed(spent: dict[str, float], label: str, f: Callable[..., Any]) -> Callable[..., Any]:
    def run(*args: Any, **kwargs: Any) -> Any:
        start = time.process_time()
        try:
            return f(*args, **kwargs)
        finally:
            spent[label] = spent.get(label, 0.0) + time.process_time() - start

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=4000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    config, _ = load_config(Path(__file__).resolve().parent.parent / "examples" / "config.yaml")
    load_fast_models()
    spent: dict[str, float] = {}
    for cls, name, label in STAGES:
        setattr(cls, name, _timed(spent, label, getattr(cls, name)))
    best: dict[str, float] = {}
    for _ in range(args.runs):
        spent.clear()
        start = time.process_time()
        pipeline_rate(config, "fast", make_mentions(args.n), args.batch, workers=0)
        row = {**spent, "total": time.process_time() - start}
        if not best or row["total"] < best["total"]:
            best = row
    print(f"fast engine, {args.n:,} mentions in batches of {args.batch}, best of {args.runs}")
    print(
        "CPU µs per mention: " + ", ".join(f"{k} {v / args.n * 1e6:.0f}" for k, v in best.items())
    )


if __name__ == "__main__":
    main()
