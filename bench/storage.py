"""Storage at scale: ingest, a `mentions` query and an ack at 10k and 100k stored mentions.

    python bench/storage.py [--sizes 10000 100000] [--alerts 1000]

Mentions are spread over 30 days and written in poll-cycle batches of 500; the state file
holds `--alerts` alerts, as a busy team's would.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.corpus import make_mentions
from core.alerts import AlertService, new_alert, outbox_items
from core.clock import FakeClock
from core.commands import Actor, CommandService
from core.config import load_config
from storage.tinydb_repo import TinyDBRepository

END = datetime(2026, 12, 1, tzinfo=UTC)
DAYS = 30
BATCH = 500


def run(size: int, n_alerts: int) -> None:
    config, _ = load_config(Path(__file__).resolve().parent.parent / "examples" / "config.yaml")
    mentions = make_mentions(size, seed=size, start=END - timedelta(days=DAYS), days=DAYS)
    mentions.sort(key=lambda m: m.fetched_at)
    for m in mentions:  # as the rules would have left them
        m.brands = ["Acme"]
        m.flags = ["negative"] if "差" in m.text or "rude" in m.text else []
    with tempfile.TemporaryDirectory() as tmp:
        clock = FakeClock(END)
        repo = TinyDBRepository(Path(tmp), clock=clock)
        batch_times = []
        t0 = time.perf_counter()
        for i in range(0, size, BATCH):
            chunk = mentions[i : i + BATCH]
            tb = time.perf_counter()
            repo.save_cycle(chunk, [m.id for m in chunk], [], [])
            batch_times.append(time.perf_counter() - tb)
        ingest = time.perf_counter() - t0
        ids = repo.next_alert_ids(n_alerts)
        alerts = [
            new_alert(aid, m, "r", ["console"], END) for aid, m in zip(ids, mentions, strict=False)
        ]
        repo.save_cycle([], [], alerts, [o for a in alerts for o in outbox_items(a, "post", END)])
        repo.close()

        # A restart: the query pays for loading the day files once, then they stay in memory.
        t0 = time.perf_counter()
        repo = TinyDBRepository(Path(tmp), clock=clock)
        startup = time.perf_counter() - t0
        t0 = time.perf_counter()
        repo.unseen(["not-seen-yet"])  # the first poll checks the seen log against the mentions
        seen_check = time.perf_counter() - t0
        commands = CommandService(config, repo, AlertService(repo, clock), clock)
        actor = Actor("u", "bench", "console")
        query = "mentions 汉堡 since:30d limit:10"
        t0 = time.perf_counter()
        first = commands.run(query, actor)
        cold = time.perf_counter() - t0
        warm_times = []
        for words in (
            "汉堡",
            "rude",
            "退款 sentiment:neg",
            "burger flag:negative",
            "艾克米 source:weibo",
        ):
            t0 = time.perf_counter()
            commands.run(f"mentions {words} since:30d", actor)
            warm_times.append(time.perf_counter() - t0)
        ack_times = []
        for n in range(1, 21):
            t0 = time.perf_counter()
            reply = commands.run(f"ack A{n}", actor)
            ack_times.append(time.perf_counter() - t0)
            assert reply.ok, reply.text
        state_kb = (Path(tmp) / "state.json").stat().st_size // 1024
        repo.close()
    print(f"{size:>7,} mentions over {DAYS} days, {n_alerts:,} alerts (state.json {state_kb:,} KB)")
    print(
        f"   ingest: {size / ingest:10,.0f} mentions/s; one 500-mention batch median {statistics.median(batch_times) * 1000:6.1f} ms, max {max(batch_times) * 1000:6.1f} ms"
    )
    print(f"   start-up (open the store): {startup * 1000:7.1f} ms")
    print(f"   first poll's seen-log check (scans stored mention ids): {seen_check * 1000:7.1f} ms")
    print(
        f"   query over all {first.total:,} matches: first (loads day files) {cold * 1000:7.1f} ms; then median {statistics.median(warm_times) * 1000:6.1f} ms, max {max(warm_times) * 1000:6.1f} ms  (target < 300 ms)"
    )
    print(
        f"   ack: median {statistics.median(ack_times) * 1000:6.1f} ms, max {max(ack_times) * 1000:6.1f} ms  (target < 50 ms)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--alerts", type=int, default=1000)
    args = parser.parse_args()
    for size in args.sizes:
        run(size, args.alerts)


if __name__ == "__main__":
    main()
