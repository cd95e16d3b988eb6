"""Do two versions of the rules analyse posts the same?  A dev tool for fast-path work.

    python tools/compare_analysis.py dump before.json      # in a checkout of the old code
    python tools/compare_analysis.py dump after.json       # in this one
    python tools/compare_analysis.py compare before.json after.json

``dump`` runs, on up to 400 posts of every labelled set in ../shared/data/social
(``$BUZZWATCH_SOCIAL_DATA``), 2,000 bench mentions and a few edge cases: the sentiment score
(with and without the example brand's words), the brand-word value, the fast engine's
complaint probability, the question flag, and ``Analyzer.analyze`` of each as a mention
(brands matched, and forced with ``brand=``: language, sentiment, complaint, flags,
aspects, severity, reach, KOL tier).  ``compare`` reports every difference; floats count as
equal within 1e-9 (the same code differs by ~1e-15 between two runs: n-gram weights are
summed in set order, which follows the string hash seed).  Without ../shared it still
compares the bench mentions and edge cases.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tools"))

from social_data import load_all  # noqa: E402

import sources.kinds  # noqa: E402, F401  (source kinds' config sections, before a config is read)
from bench.corpus import make_mentions  # noqa: E402
from core.config import load_config  # noqa: E402
from core.domain.models import Mention  # noqa: E402
from rules import analyze, complaint, question, sentiment  # noqa: E402

TOLERANCE = 1e-9
EDGE_CASES = [
    "",
    "   ",
    "Never got food poisoning at Acme",
    "喝了两年从来没有拉肚子",
    "远离艾克米",
    "stay away from Acme!!!",
    "charged my card twice and support won't answer",
    "Love that for me",
    "客服效率真高啊，三天了还没回[微笑]",
    "请问艾克米会员积分怎么兑换？",
    "不是不好吃",
    "一点都不贵",
    "没有想象中好吃",
    "😡😡😡 Acme",
    "RT @x: Acme sucks http://t.co/x",
    "转发微博//@甲:艾克米翻车了",
    "İS THERE an Acme near me",
]


def texts() -> list[tuple[str, str]]:
    rng = random.Random(7)
    out: list[tuple[str, str]] = []
    for _name, (lang, train, held) in sorted(load_all().items()):
        rows = train + held
        out += [(t, lang) for t, _y in rng.sample(rows, min(400, len(rows)))]
    out += [(m.text, "und") for m in make_mentions(2000, seed=3)]
    out += [(t, lang) for t in EDGE_CASES for lang in ("zh", "en", "und")]
    return out


def dump(path: Path) -> None:
    config, _ = load_config(REPO / "examples" / "config.yaml")
    analyzer = analyze.Analyzer(config)
    words = dict(config.brands[0].domain_words)
    rows = texts()
    results: list[dict[str, Any]] = []
    when = datetime(2026, 11, 1, tzinfo=UTC)
    for i, (text, lang) in enumerate(rows):
        r: dict[str, Any] = {
            "s": sentiment.sentiment_score(text, lang),
            "sd": sentiment.sentiment_score(text, lang, words),
            "dv": sentiment.domain_value(text, lang, words),
            "c": complaint.complaint_probability(text, lang, "fast"),
            "q": question.is_question(text, lang),
        }
        for mode in ("match", "brand"):
            m = Mention(
                id=f"x{i}",
                source="s",
                url="u",
                title=text[:30],
                text=text,
                author="foodie_jane" if i % 7 == 0 else "u",
                published=when,
                fetched_at=when,
                metrics={"followers": [10, 50_000, 2_000_000][i % 3]},
                lang="" if lang == "und" else lang,
            )
            brand = "Acme" if mode == "brand" else None
            analyzer.analyze(m, brand=brand, only_brands=mode == "match", encode=False)
            r[mode] = [
                m.brands,
                m.lang,
                m.sentiment,
                m.complaint,
                m.flags,
                m.aspects,
                m.severity,
                m.reach,
                m.kol_tier,
            ]
        results.append(r)
    path.write_text(json.dumps({"texts": rows, "results": results}, ensure_ascii=False))
    print(f"{len(rows)} texts -> {path}")


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return a is not None and b is not None and abs(a - b) <= TOLERANCE
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def compare(before: Path, after: Path) -> int:
    a, b = json.loads(before.read_text()), json.loads(after.read_text())
    if a["texts"] != b["texts"]:
        print("the two dumps are of different texts (was ../shared there for both?)")
        return 2
    diffs = 0
    for (text, lang), ra, rb in zip(a["texts"], a["results"], b["results"], strict=True):
        for key, value in ra.items():
            if not _equal(value, rb[key]):
                diffs += 1
                if diffs <= 20:
                    print(f"{key}: {text[:70]!r} ({lang}): {value} -> {rb[key]}")
    print(f"{len(a['texts'])} texts, {diffs} differences")
    return 1 if diffs else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("dump").add_argument("out", type=Path)
    cmp = sub.add_parser("compare")
    cmp.add_argument("before", type=Path)
    cmp.add_argument("after", type=Path)
    args = parser.parse_args()
    if args.command == "dump":
        dump(args.out)
    else:
        sys.exit(compare(args.before, args.after))


if __name__ == "__main__":
    main()
