"""Storage at scale, SQLite next to TinyDB in the same run.

    python bench/storage.py [--mentions 1000000] [--alerts 100000]
                            [--tinydb-mentions 100000] [--tinydb-alerts 100000]
                            [--backends sqlite tinydb] [--store DIR] [--repeat 3]

--store DIR keeps each backend's built store in DIR/<backend>-<mentions>-<alerts> and reuses
it in later runs (building 1M mentions takes minutes): every run measures a fresh copy, so
the kept store is never changed by the acks and the poll cycle.

Each backend gets mentions over 30 days (poll-cycle batches of 5,000) and alerts created over
the same 30 days: 10% open, 15% acked or assigned, 75% resolved; resolved alerts older than
14 days are archived as the running bot does every hour. Then a restart, and:
- the 30-day `mentions` query (CommandService, as chat and the CLI run it): first after the
  restart and warm (target < 1 s / < 300 ms), and the same warm queries over the last 7
  days (the default `since`: a time range inside the store);
- `python bot.py mentions ...` end to end in a fresh process, with its peak RSS (< 1.5 s),
  twice compiling every module and twice with the bytecode cached, each split into
  importing the command line and running it;
- an ack of an open alert (< 20 ms);
- a poll cycle of 10 new mentions that each become an alert, plus their delivery to a
  console destination (< 500 ms);
- the real bot (`python bot.py`, the bundled config's sample feeds, its clock set to the
  store's last day) on that store and on an empty one: how soon a `status` typed at start
  is answered, and its RSS once the first poll cycle and start-up work are done (< 300 MB,
  and flat as mentions grow). --rss-mentions adds store sizes measured for this alone.
TinyDB runs at a smaller size by default: at 1M mentions its first query alone takes ~45 s
and 3.7 GB (issue 15); pass --tinydb-mentions 1000000 to see it.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


import sources.kinds  # noqa: F401, E402  (every source kind's config section)
from bench.corpus import make_mentions  # noqa: E402
from bench.running_bot import bot_config, rss_line, running_bot  # noqa: E402
from core.alerting.lifecycle import AlertService, new_alert  # noqa: E402
from core.alerting.routing import Router  # noqa: E402
from core.commands.context import Actor  # noqa: E402
from core.commands.service import CommandService  # noqa: E402
from core.config import Config, StorageConfig, load_config  # noqa: E402
from core.delivery.worker import Deliverer  # noqa: E402
from core.domain.clock import FakeClock  # noqa: E402
from core.domain.models import Mention, Status  # noqa: E402
from core.domain.repository import Repository  # noqa: E402
from core.intake.pipeline import Pipeline  # noqa: E402
from listeners.console import ConsoleNotifier  # noqa: E402
from rules.analyze import Analyzer  # noqa: E402
from storage.factory import open_repository  # noqa: E402

END = datetime(2026, 12, 1, tzinfo=UTC)
DAYS = 30
BATCH = 5000
QUERY = "mentions 汉堡 since:30d limit:10"
# The warm query set: Chinese words of 1-2 characters (their own gram index) and longer
# (trigrams), common and rare English words, each with and without the filters.
WARM = [
    "汉堡",
    "rude",
    "退款 sentiment:neg",
    "burger flag:negative",
    "艾克米 source:weibo",
    "艾克米",
    "acme",
    "贵",
    "招牌汉堡",
    "sick all night",
    "refund sentiment:neg",
    "sentiment:pos",
    "flag:negative",
    "汉堡 flag:negative",
    "milkshake source:weibo",
    "no-such-word-anywhere",
]


PERIODS = ["30d", "7d"]


def mention_batches(n: int) -> Iterator[list[Mention]]:
    """n mentions spread over the 30 days, made and stored a batch at a time (memory)."""
    for seed, start in enumerate(range(0, n, BATCH), 1):
        batch = make_mentions(
            min(BATCH, n - start), seed=seed, start=END - timedelta(days=DAYS), days=DAYS
        )
        for m in batch:  # as the rules would have left them
            m.brands = ["Acme"]
            m.flags = ["negative"] if "差" in m.text or "rude" in m.text else []
            m.sentiment = -0.5 if m.flags else 0.2
        yield batch


def add_alerts(repo: Repository, n_alerts: int) -> None:
    """The alerts of a year-long store: 10% open, 15% acked or assigned, 75% resolved (those
    older than 14 days archived, as the bot's hourly job does)."""
    rng = random.Random(7)
    sample = make_mentions(50, seed=999)
    for start in range(0, n_alerts, BATCH):
        ids = repo.next_alert_ids(min(BATCH, n_alerts - start))
        alerts = []
        for aid in ids:
            # (none in the last hour: the measured poll's 10 alerts must not make a storm)
            created = END - timedelta(seconds=rng.uniform(3600, DAYS * 86400))
            alert = new_alert(aid, rng.choice(sample), "needs-a-person", ["console"], created)
            roll = rng.random()
            if roll >= 0.25:
                alert.status = Status.RESOLVED.value
                alert.resolved_at = (created + timedelta(hours=1)).isoformat()
            elif roll >= 0.10:
                alert.status = rng.choice([Status.ACKED, Status.ASSIGNED]).value
            alerts.append(alert)
        repo.save_cycle([], [], alerts, [])
    repo.archive_alerts(END - timedelta(days=14))


def build(backend: str, folder: Path, n_mentions: int, n_alerts: int) -> float:
    clock = FakeClock(END)
    repo = open_repository(backend, folder, clock=clock)
    t0 = time.perf_counter()
    for batch in mention_batches(n_mentions):
        repo.save_cycle(batch, [m.id for m in batch], [], [])
    add_alerts(repo, n_alerts)
    repo.close()
    return time.perf_counter() - t0


CLI_RUN = """
import runpy, sys, time
t0 = time.perf_counter()
import app.cli
imported = time.perf_counter() - t0
sys.argv = ['bot.py', 'mentions', '汉堡', 'since:30d', '--config', sys.argv[1], '-q']
try:
    runpy.run_path('bot.py', run_name='__main__')
except SystemExit:
    pass
# VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the (big) parent at fork
hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0]
print(imported, time.perf_counter() - t0 - imported, int(hwm.split()[1]), file=sys.stderr)
"""


def cli_mentions(config_path: Path, cached: bool) -> tuple[float, float, float, int]:
    """`python bot.py mentions ...` in a fresh process: wall time, of which importing the
    command line and running it (config, store, query, reply), and peak RSS (MB).
    `cached`: with the modules' bytecode cached, as Python keeps it after a first run (in
    a temporary folder); else compiled anew, as with PYTHONDONTWRITEBYTECODE set."""
    env = dict(os.environ)
    if cached:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(config_path.parent / "pycache")
    else:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    run = [sys.executable, "-c", CLI_RUN, str(config_path)]
    if cached:  # the first run writes the bytecode
        subprocess.run(run, cwd=ROOT, env=env, capture_output=True, check=True)
    t0 = time.perf_counter()
    done = subprocess.run(run, cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - t0
    imported, ran, hwm = done.stderr.strip().splitlines()[-1].split()
    return wall, float(imported), float(ran), int(hwm) // 1024


def rss_only(backend: str, n_mentions: int) -> str:
    """The running bot's figure on a store of n_mentions (and alerts a tenth of that)."""
    with tempfile.TemporaryDirectory(prefix=f"bench-rss-{backend}-") as tmp:
        folder = Path(tmp)
        if n_mentions:
            build(backend, folder, n_mentions, n_mentions // 10)
        return rss_line(backend, n_mentions, running_bot(bot_config(backend, folder), END))


def poll_cycle(config: Config, repo, clock: FakeClock) -> tuple[float, float, int]:
    """10 new negative mentions through the pipeline (10 alerts), then their delivery."""
    analyzer = Analyzer(config)
    pipeline = Pipeline(config, repo, analyzer, Router(config.routes), clock)
    deliverer = Deliverer(repo, {"console": ConsoleNotifier(io.StringIO())}, clock)
    texts = [  # unlike the stored alerts' texts, so none joins an existing alert
        "艾克米三里屯店的冰淇淋机又坏了，第三次了，差评",
        "Acme parking lot flooded, my car got stuck, terrible",
        "艾克米客服电话一直打不通，投诉无门",
        "Found a hair in my Acme salad, disgusting, manager shrugged",
        "艾克米会员卡余额莫名其妙被扣光了，要求解释",
        "Acme app charged my card twice, awful support, still no refund",
        "艾克米门口排队的人太多，保安推搡顾客",
        "Acme drive-thru speaker broken for weeks, nobody fixes it",
        "艾克米儿童乐园滑梯有钉子，孩子划伤了",
        "Acme coupon scam? Code rejected at every store, false advertising",
    ]
    fresh = [
        Mention(
            id=f"poll-{i}-{t}", source="weibo", url="", title="", text=t, fetched_at=clock.now()
        )
        for i, t in enumerate(texts)
    ]
    # The running bot's previous poll: a brand mention that makes no alert (models loaded,
    # the grouping's alerts read once). It is timed too: the first poll after a start.
    praise = "艾克米的新品汉堡真好吃，强烈推荐"
    t0 = time.perf_counter()
    pipeline.process("weibo", [Mention(id="w", source="w", url="", title="", text=praise)])
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    result = pipeline.process("weibo", fresh)
    deliverer.drain(max_wait=0)
    took = time.perf_counter() - t0
    return first, took, len(result.alerts)


def built_store(
    backend: str, folder: Path, n_mentions: int, n_alerts: int, keep: Path | None
) -> float:
    """Build the store in `folder`, or copy the one kept in `keep` (built there first if
    missing). Returns the build time (0 when reused)."""
    if keep is None or backend == "postgres":
        return build(backend, folder, n_mentions, n_alerts)
    kept = keep / f"{backend}-{n_mentions}-{n_alerts}"
    took = 0.0
    if not (kept / "BUILT").exists():
        shutil.rmtree(kept, ignore_errors=True)
        kept.mkdir(parents=True)
        took = build(backend, kept, n_mentions, n_alerts)
        (kept / "BUILT").write_text(f"{took:.1f}\n")
    else:
        # a store kept by an earlier release: upgraded in place once, not in every copy
        t0 = time.perf_counter()
        open_repository(backend, kept, clock=FakeClock(END)).close()
        if time.perf_counter() - t0 > 1:
            print(f"   (the kept store upgraded in {time.perf_counter() - t0:.0f} s)")
    shutil.copytree(kept, folder, dirs_exist_ok=True, ignore=shutil.ignore_patterns("BUILT"))
    # The copy's gigabytes on their way to the disk, not in the store's first fsync (which
    # "open the store after a restart" would otherwise be charged for: ~0.7 s)
    os.sync()
    return took


def measure(
    backend: str,
    n_mentions: int,
    n_alerts: int,
    rss_sizes: list[int],
    keep: Path | None = None,
    repeat: int = 3,
) -> None:
    config, _ = load_config(ROOT / "examples" / "config.yaml")
    with tempfile.TemporaryDirectory(prefix=f"bench-{backend}-") as tmp:
        folder = Path(tmp)
        build_s = built_store(backend, folder, n_mentions, n_alerts, keep)
        config = config.model_copy(
            update={"data_dir": folder, "storage": StorageConfig(backend=backend)}
        )
        size_mb = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 1e6

        clock = FakeClock(END)
        t0 = time.perf_counter()
        repo = open_repository(backend, folder, clock=clock)
        startup = time.perf_counter() - t0
        t0 = time.perf_counter()
        repo.unseen(["not-seen-yet"])  # the first poll checks the seen log against the mentions
        seen_check = time.perf_counter() - t0
        commands = CommandService(config, repo, AlertService(repo, clock), clock)
        actor = Actor("u", "bench", "console")
        t0 = time.perf_counter()
        first = commands.run(QUERY, actor)
        cold = time.perf_counter() - t0
        assert first.ok, first.text
        # over the whole store (30d), and the last week (7d, the default: a time range)
        per_query: dict[tuple[str, str], list[float]] = {(p, w): [] for p in PERIODS for w in WARM}
        totals: dict[tuple[str, str], str] = {}
        for _ in range(repeat):
            for period, words in per_query:
                t0 = time.perf_counter()
                reply = commands.run(f"mentions {words} since:{period}", actor)
                per_query[period, words].append(time.perf_counter() - t0)
                totals[period, words] = reply.text.splitlines()[0][:40] if reply.text else ""
        warm = [t for (p, _), times in per_query.items() if p == "30d" for t in times]
        warm7 = [t for (p, _), times in per_query.items() if p == "7d" for t in times]
        open_ids = [a.id for a in repo.active_alerts() if a.status == Status.OPEN][:20]
        acks = []
        for aid in open_ids:
            t0 = time.perf_counter()
            reply = commands.run(f"ack {aid}", actor)
            acks.append(time.perf_counter() - t0)
            assert reply.ok, reply.text
        first_poll, cycle, made = poll_cycle(config, repo, clock)
        repo.close()

        config_path = bot_config(backend, folder)
        cli = [cli_mentions(config_path, cached) for cached in (False, True, False, True)]
        bot = running_bot(config_path, END)  # (last: it stores the sample feeds' mentions)

    print(
        f"{backend}: {n_mentions:,} mentions over {DAYS} days, {n_alerts:,} alerts "
        f"(10% open, 15% acked/assigned, 75% resolved); {size_mb:,.0f} MB on disk; "
        + (f"built in {build_s:.0f} s" if build_s else "a kept store (--store)")
    )
    print(f"   open the store after a restart:      {startup * 1000:8.1f} ms")
    print(f"   first poll's seen-log check (scans stored mention ids): {seen_check * 1000:8.1f} ms")
    print(
        f"   30-day `{QUERY}` ({first.text.splitlines()[0][:50]}): first after restart "
        f"{cold * 1000:8.1f} ms (< 1000); warm median {statistics.median(warm) * 1000:7.1f} ms, "
        f"max {max(warm) * 1000:7.1f} ms (< 300)"
    )
    print(
        f"   the same queries over the last 7 days (the default since): warm median "
        f"{statistics.median(warm7) * 1000:7.1f} ms, max {max(warm7) * 1000:7.1f} ms"
    )
    print(f"   warm, per query (`mentions <words> since:...`, {repeat} runs each): median / max")
    for (period, words), times in per_query.items():
        print(
            f"      {words + ' since:' + period:<36} {statistics.median(times) * 1000:8.1f} / "
            f"{max(times) * 1000:8.1f} ms   {totals[period, words]}"
        )
    for cached, name in ((False, "compiling every module"), (True, "bytecode cached")):
        runs = cli[int(cached) :: 2]
        print(
            f"   `python bot.py mentions 汉堡 since:30d` end to end, {name}: "
            + ", ".join(f"{w:.2f} s (imports {i:.2f}, run {r:.2f})" for w, i, r, _ in runs)
            + f" (< 1.5), peak RSS {max(m for *_, m in runs):,} MB"
        )
    print(
        f"   ack: median {statistics.median(acks) * 1000:7.2f} ms, max {max(acks) * 1000:7.2f} ms"
        " (< 20)"
    )
    print(
        f"   poll cycle of 10 mentions making {made} alerts + their delivery: "
        f"{cycle * 1000:8.1f} ms (< 500); the first poll after start (loads the models, "
        f"reads the grouping's alerts): {first_poll * 1000:8.1f} ms"
    )
    for size in sorted(set(rss_sizes) - {n_mentions}):
        print(rss_only(backend, size))
        sys.stdout.flush()
    print(rss_line(backend, n_mentions, bot))
    sys.stdout.flush()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mentions", type=int, default=1_000_000)
    parser.add_argument("--alerts", type=int, default=100_000)
    parser.add_argument("--tinydb-mentions", type=int, default=100_000)
    parser.add_argument("--tinydb-alerts", type=int, default=100_000)
    parser.add_argument("--backends", nargs="+", default=["sqlite", "tinydb"])
    parser.add_argument(
        "--store", type=Path, help="keep built stores here and reuse them in later runs"
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs of each warm query")
    parser.add_argument(
        "--rss-mentions",
        type=int,
        nargs="*",
        default=[0],
        help="more store sizes to start the running bot on (default: an empty store)",
    )
    args = parser.parse_args()
    print(f"SQLite {__import__('sqlite3').sqlite_version}, {os.cpu_count()} CPU(s)")
    cluster = None
    if "postgres" in args.backends and not os.environ.get("BUZZWATCH_DATABASE_URL"):
        # no server given: a throwaway one (initdb and pg_ctl needed), as the tests start
        from tests.postgres_server import Cluster, find_bin

        cluster = Cluster(
            find_bin() or sys.exit("postgres needs pg_ctl: apt-get install postgresql")
        )
        cluster.start()
        os.environ["BUZZWATCH_DATABASE_URL"] = cluster.create_database()
    try:
        for backend in args.backends:
            if backend == "tinydb":
                measure(
                    backend,
                    args.tinydb_mentions,
                    args.tinydb_alerts,
                    args.rss_mentions,
                    args.store,
                    args.repeat,
                )
            else:
                measure(
                    backend, args.mentions, args.alerts, args.rss_mentions, args.store, args.repeat
                )
    finally:
        if cluster is not None:
            cluster.stop()


if __name__ == "__main__":
    main()
