"""Several Buzzwatch processes on one PostgreSQL database, one of them killed mid-cycle.

    python bench/scale.py [--feeds 2000] [--processes 3] [--entries 5] [--every 60]
                          [--query-mentions 10000000 [--sqlite-mentions N]]

Starts a throwaway PostgreSQL cluster (as tests/postgres_server.py does: initdb and pg_ctl
needed), local RSS feeds on 127.0.0.1 and a chat stand-in (a webhook on 127.0.0.1), then N
real `python bot.py` processes sharing the database.

1. The first cycle: the time until every feed's items are seen (the processes together).
2. Every feed then gets new items (one in ten naming the brand, each a different story);
   once a third of them are seen, the first process gets SIGKILL.

Prints: items seen against items served, brand mentions stored and counted on alerts,
the new stories' alerts posted and posted twice (only the killed process's send in flight
may be: one copy before the kill, one after), when the killed process's leases ran out
and how long after each ran out another process claimed that source (all against the poll
interval), and digests sent.

--query-mentions N first fills a PostgreSQL store with N mentions and an SQLite store with
--sqlite-mentions (default N) and prints, side by side, the `mentions` query's p50/p95 and
an ack's, quiet and under load (bench/scale_query.py); --feeds 0 skips the processes.
A server in BUZZWATCH_DATABASE_URL already filled (`bench/scale_query.py --fill-only`) is
measured as it is, and --keep DIR keeps the SQLite store built for later runs.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.polling import WORDS, feed_items  # noqa: E402
from tests.conftest import BASE_CONFIG  # noqa: E402
from tests.postgres_server import Cluster, find_bin  # noqa: E402
from tests.standin.chat import ChatServer  # noqa: E402
from tests.standin.feeds import FeedServer, Route, rss  # noqa: E402

LOGS: list[Path] = []


def new_items(feed: int, entries: int, rng: random.Random) -> list[dict[str, str]]:
    """Items of a second cycle; a brand one is its own story (words no other item has)."""
    items = []
    for i in range(entries):
        words = " ".join(f"{rng.choice(WORDS)}{rng.randrange(10**6)}" for _ in range(40))
        brand = "Acme " if rng.random() < 0.1 else ""
        link = f"https://news.example.com/{feed}/new{i}"
        items.append(
            {
                "title": f"{brand}{words[:60]}",
                "description": f"{brand}{words}",
                "link": link,
                "guid": link,
                "pubDate": "Sat, 28 Nov 2026 08:00:00 GMT",
                "author": f"writer{i}",
            }
        )
    return items


def wait_for(what: str, test, timeout: float, every: float = 0.5) -> float:
    """Seconds until `test()` is true; exits the bench if it never is."""
    start = time.monotonic()
    while not test():
        if time.monotonic() - start > timeout:
            tails = [p.read_text(errors="replace")[-1500:] for p in LOGS if p.exists()]
            sys.exit(f"gave up waiting for {what} after {timeout:.0f} s\n" + "\n".join(tails))
        time.sleep(every)
    return time.monotonic() - start


def one(conn: psycopg.Connection, sql: str, *params: object) -> int:
    return conn.execute(sql, params).fetchone()[0]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--feeds", type=int, default=2000)
    ap.add_argument("--processes", type=int, default=3)
    ap.add_argument("--entries", type=int, default=5)
    ap.add_argument("--every", type=int, default=60, help="poll interval, seconds")
    ap.add_argument("--timeout", type=float, default=900)
    ap.add_argument("--query-mentions", type=int, default=0, help="see above (0: no query phase)")
    ap.add_argument("--sqlite-mentions", type=int, help="SQLite's, next to it (default: the same)")
    ap.add_argument("--keep", type=Path, help="keep the built SQLite store here, reuse it later")
    ap.add_argument("--logs", type=Path, help="copy the processes' logs into this folder")
    args = ap.parse_args()
    if args.query_mentions:
        from bench.scale_query import run

        sqlite_n = args.query_mentions if args.sqlite_mentions is None else args.sqlite_mentions
        run(args.query_mentions, sqlite_n, alerts=20_000, keep=args.keep)
        if not args.feeds:
            return 0
    bin_dir = find_bin()
    if bin_dir is None:
        sys.exit("needs pg_ctl and initdb: apt-get install postgresql")

    cluster = Cluster(bin_dir)
    feeds, chat = FeedServer(), ChatServer()
    procs: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory() as tmp, feeds, chat:
        try:
            cluster.start()
            dsn = cluster.create_database()
            sources, served, brand_items = [], 0, 0
            first = [feed_items(n, args.entries) for n in range(args.feeds)]
            for n, items in enumerate(first):
                served += len(items)
                brand_items += sum("Acme" in it["title"] for it in items)
                feeds.routes[f"/f{n}.xml"] = Route(rss(items, title=f"feed {n}"), etag=f'"v{n}"')
                sources.append(
                    {
                        "name": f"f{n}",
                        "type": "rss",
                        "url": f"{feeds.base}/f{n}.xml",
                        "every": f"{args.every}s",
                    }
                )
            due = datetime.now(UTC) - timedelta(minutes=1)  # today's digest is due at start
            config = dict(
                BASE_CONFIG,
                data_dir=str(Path(tmp) / "data"),
                timezone="UTC",
                storage={"backend": "postgres"},
                sources=sources,
                fetch={"allow_hosts": ["127.0.0.1"], "workers": 8, "per_host": 8},
                destinations={"chat": {"type": "webhook", "url": chat.url}},
                routes=[{"name": "all", "to": ["chat"], "burst": None}],
                digest={"time": due.strftime("%H:%M"), "timezone": "UTC"},
                storms={"enabled": False},
            )
            path = Path(tmp) / "scale.yaml"
            path.write_text(yaml.safe_dump(config, allow_unicode=True), "utf-8")
            env = {**os.environ, "BUZZWATCH_DATABASE_URL": dsn}
            started = time.monotonic()
            for i in range(args.processes):
                LOGS.append(Path(tmp) / f"bot{i}.log")
                with LOGS[-1].open("wb") as log:
                    procs.append(
                        subprocess.Popen(
                            [sys.executable, str(ROOT / "bot.py"), "--config", str(path), "-q"],
                            env=env,
                            stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL,
                            stderr=log,
                        )
                    )
            print(
                f"{args.processes} processes, {args.feeds} feeds ({served} items, {brand_items} "
                f"naming the brand), poll every {args.every} s, one PostgreSQL {cluster.port}"
            )
            conn = psycopg.connect(dsn, autocommit=True)
            wait_for("the schema", lambda: one(conn, "SELECT count(*) FROM pg_tables WHERE tablename = 'mentions'"), 120)  # fmt: skip
            wait_for("the first cycle", lambda: one(conn, "SELECT count(*) FROM seen") >= served, args.timeout)  # fmt: skip
            cycle = time.monotonic() - started  # (from the processes' start: imports included)
            rng = random.Random(16)
            stories = set()
            for n, items in enumerate(first):
                new = new_items(n, args.entries, rng)
                served += len(new)
                stories |= {it["guid"] for it in new if "Acme" in it["title"]}
                body = rss(new + items, title=f"feed {n}")
                feeds.routes[f"/f{n}.xml"] = Route(body, etag=f'"w{n}"')
            brand_items += len(stories)
            third = served - (served - one(conn, "SELECT count(*) FROM seen")) * 2 // 3
            wait_for("a third of the new items", lambda: one(conn, "SELECT count(*) FROM seen") >= third, args.timeout)  # fmt: skip
            victim = procs[0]
            mine = f"%:{victim.pid}:%"
            leases: dict[str, str] = dict(
                conn.execute("SELECT name, until FROM source_leases WHERE owner LIKE %s", (mine,))
            )
            victim.send_signal(signal.SIGKILL)
            victim.wait()
            killed, sent_before = time.monotonic(), len(chat.received)
            # when each of its leases ends (the last renewal's end: it renews no more)
            due_in: dict[str, float] = {
                name: (datetime.fromisoformat(until) - datetime.now(UTC)).total_seconds()
                for name, until in leases.items()
            }
            print(f"SIGKILL to pid {victim.pid} while it held {len(leases)} source lease(s)")
            taken: dict[str, float] = {}  # seconds after the kill another process claimed it

            def taken_over() -> bool:
                rows = conn.execute(
                    "SELECT name FROM source_leases WHERE name = ANY(%s) AND owner NOT LIKE %s",
                    (sorted(set(leases) - set(taken)), mine),
                )
                for (name,) in rows:
                    taken[name] = time.monotonic() - killed
                return len(taken) == len(leases)

            takeover = wait_for("the takeover", taken_over, args.timeout, every=0.2)
            late = sorted(taken[name] - due_in[name] for name in leases)
            wait_for("every item", lambda: one(conn, "SELECT count(*) FROM seen") >= served, args.timeout)  # fmt: skip
            wait_for("an empty outbox", lambda: one(conn, "SELECT count(*) FROM outbox") == 0, args.timeout)  # fmt: skip
            seen = one(conn, "SELECT count(*) FROM seen")
            stored = one(conn, "SELECT count(*) FROM mentions")
            alerts = [r[0] for r in conn.execute("SELECT doc::json->>'id' FROM alerts")]
            story_alerts = [
                r[0]
                for r in conn.execute(
                    "SELECT doc::json->>'id' FROM alerts WHERE doc::json->'summary'->>'url' = ANY(%s)",
                    (sorted(stories),),
                )
            ]
            counted = one(conn, "SELECT coalesce(sum((doc::json->>'count')::int), 0) FROM alerts")
            dead = one(conn, "SELECT count(*) FROM dead_letters")
            conn.close()
        finally:
            for p in procs:
                if p.poll() is None:
                    p.send_signal(signal.SIGTERM)
            for p in procs:
                try:
                    p.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    p.kill()
            cluster.stop()
            logs = "".join(f.read_text(errors="replace") for f in LOGS if f.exists())
            if args.logs:
                args.logs.mkdir(parents=True, exist_ok=True)
                for f in LOGS:
                    if f.exists():
                        shutil.copy(f, args.logs / f.name)
        missed = logs.count("was missed by")  # APScheduler: a job that ran later than its grace
        skipped = logs.count("maximum number of running instances")
        posts: Counter[str] = Counter()
        before: set[str] = set()  # posted before the kill
        digests = 0
        for n, msg in enumerate(chat.received):
            ids: list[str] = []
            if msg.get("kind") == "text":  # (no storms, no failing sources here)
                digests += 1
            elif msg.get("action") == "post" and msg.get("kind") == "alert":
                ids = [msg["alert"]["id"]]
            elif msg.get("action") == "post" and msg.get("kind") == "batch":
                ids = list(msg.get("alert_ids", []))
            posts.update(ids)
            if n < sent_before:
                before.update(ids)
        twice = [a for a, n in posts.items() if n > 1]
        # The killed process's send in flight: sent before the kill, its record lost with the
        # process, sent again by another once the claim ran out (one copy each side of it).
        in_flight = [a for a in twice if a in before and posts[a] == 2]
    print(f"items seen / served:                {seen} / {served}")
    print(
        f"brand items / stored / on alerts:   {brand_items} / {stored} / {counted} ({len(alerts)} alerts)"
    )
    print(
        f"new stories / their alerts:         {len(stories)} / {len(story_alerts)} "
        f"({len(alerts)} alerts in all)"
    )
    print(
        f"alerts posted / posted twice:       {sum(1 for a in alerts if posts[a])} of "
        f"{len(alerts)} / {len(twice)} ({len(in_flight)} of them the killed process's send in "
        f"flight: one copy before the kill, one after); dead letters {dead}"
    )
    print(
        f"killed process's leases ran out after {max(0.0, max(due_in.values())):.1f} s; each of its "
        f"sources was claimed by another process {late[0]:.1f}-{late[-1]:.1f} s after its lease "
        f"ran out (median {late[len(late) // 2]:.1f} s), all by {takeover:.1f} s after the kill "
        f"(poll interval {args.every} s)"
    )
    print(f"digest messages sent:               {digests}")
    print(f"scheduled runs missed / skipped:    {missed} / {skipped} (in the processes' logs)")
    print(f"first cycle (every feed, cold):     {cycle:.1f} s with {args.processes} processes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
