"""Digest, storm check and export on a large store of mentions (one pass each).

    python bench/digest.py [--n 100000] [--days 8]

Writes n synthetic analysed mentions spread over `days` into a temporary data dir through
the real repository, then times: the daily digest (figures + text), the chart, one storm
check over every brand, and a CSV export. The first digest reads the day files from disk;
the second finds them in the repository's memory, as a running bot does.
"""

from __future__ import annotations

import argparse
import io
import random
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from datetime import time as time_of_day
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sources.kinds  # noqa: F401  (every source kind's config section)
from core.config import load_config
from core.domain.clock import FakeClock
from core.domain.models import Mention
from core.reports import export
from core.reports.chart import render_chart
from core.reports.digest import daily_period
from core.reports.digest_service import DigestService
from core.reports.digest_text import digest_text
from core.reports.storms import StormWatch
from storage.tinydb_repo import TinyDBRepository

WORDS = [
    "taste",
    "price",
    "service",
    "delivery",
    "refund",
    "好吃",
    "太贵",
    "外卖",
    "服务",
    "退款",
    "排队",
    "新品",
]


def make(n: int, days: int, end: datetime, brand: str, rng: random.Random) -> list[Mention]:
    out = []
    for i in range(n):
        when = end - timedelta(seconds=rng.uniform(0, days * 86400))
        out.append(
            Mention(
                id=f"b{i}",
                source=rng.choice(["weibo", "reddit", "news", "xhs"]),
                url=f"https://example.com/{i}",
                title=" ".join(rng.sample(WORDS, 3)),
                text=" ".join(rng.sample(WORDS, 5)),
                author=f"user{rng.randrange(5000)}",
                published=when,
                fetched_at=when + timedelta(minutes=2),
                brands=[brand],
                sentiment=rng.uniform(-1, 1),
                flags=["kol"] if rng.random() < 0.01 else [],
                aspects=rng.sample(["taste", "price", "service", "delivery"], rng.randrange(3)),
                reach=rng.randrange(1_000_000) if rng.random() < 0.05 else 0,
            )
        )
    return out


def timed(label: str, fn):
    t = time.perf_counter()
    result = fn()
    print(f"{label:<34} {time.perf_counter() - t:8.3f} s")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=8)
    args = parser.parse_args()
    config, _ = load_config()
    end = datetime(2026, 11, 29, 1, 0, tzinfo=UTC)
    clock = FakeClock(end)
    with tempfile.TemporaryDirectory() as tmp:
        config.data_dir = Path(tmp)
        repo = TinyDBRepository(Path(tmp), clock=clock)
        mentions = make(args.n, args.days, end, config.brands[0].name, random.Random(7))
        for i in range(0, len(mentions), 5000):
            batch = mentions[i : i + 5000]
            repo.save_cycle(batch, [m.id for m in batch], [], [])
        repo.close()
        print(f"{args.n:,} mentions over {args.days} days")
        repo = TinyDBRepository(Path(tmp), clock=clock)
        service = DigestService(config, repo, clock, charts=False)
        period = daily_period(date(2026, 11, 29), time_of_day(9), config.digest_tz)
        d = timed("digest, files read from disk", lambda: service.compute(period, None))
        d = timed("digest, files in memory", lambda: service.compute(period, None))
        timed("digest text", lambda: digest_text(d))
        print(f"  period holds {d.total:,} mentions, 7-day baseline {d.baseline_total:,}")
        timed("chart (matplotlib import + PNG)", lambda: render_chart(d, Path(tmp) / "c.png"))
        timed("chart again", lambda: render_chart(d, Path(tmp) / "c.png"))
        watch = StormWatch(config, repo, clock)
        timed("storm check (all brands)", watch.check)
        since = end - timedelta(days=7)
        docs = timed("export select (7d)", lambda: export.select(repo.iter_mentions(since), since))
        sink = io.StringIO()
        timed(
            f"export csv ({len(docs):,} rows)",
            lambda: export.write(
                docs, "csv", sink, negative_threshold=-0.2, positive_threshold=0.5
            ),
        )
        repo.close()


if __name__ == "__main__":
    main()
