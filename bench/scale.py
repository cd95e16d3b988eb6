"""Several Buzzwatch processes on one PostgreSQL database, one of them killed mid-cycle.

    python bench/scale.py [--feeds 2000] [--processes 3] [--entries 5] [--every 60]

Starts a throwaway PostgreSQL cluster (as tests/postgres_server.py does: initdb and pg_ctl
needed), local RSS feeds on 127.0.0.1 (one entry in ten names the brand) and a chat
stand-in (a webhook on 127.0.0.1), then N real `python bot.py` processes sharing the
database. Once a third of the items are seen, the first process gets SIGKILL. Prints:
items seen against items served, mentions stored (those naming the brand: the others are
only remembered as seen) and the mentions counted on alerts,
alerts posted (and posted twice: only the killed process's send in flight may be), how long
its sources took to be taken over against the poll interval, digests sent, and the time
until every feed had been polled once by the processes together.
"""

from __future__ import annotations

import argparse
import os
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

from bench.polling import feed_items  # noqa: E402
from tests.chatserver import ChatServer  # noqa: E402
from tests.conftest import BASE_CONFIG  # noqa: E402
from tests.feedserver import FeedServer, Route, rss  # noqa: E402
from tests.postgres_server import Cluster, find_bin  # noqa: E402

LOGS: list[Path] = []


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
    args = ap.parse_args()
    bin_dir = find_bin()
    if bin_dir is None:
        sys.exit("needs pg_ctl and initdb: apt-get install postgresql")

    cluster = Cluster(bin_dir)
    feeds, chat = FeedServer(), ChatServer()
    procs: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory() as tmp, feeds, chat:
        try:
            with psycopg.connect(cluster.start(), autocommit=True) as admin:
                admin.execute("CREATE DATABASE buzzwatch")
            dsn = cluster.dsn("buzzwatch")
            sources, served, brand_items = [], 0, 0
            for n in range(args.feeds):
                items = feed_items(n, args.entries)
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
            wait_for("a third of the items", lambda: one(conn, "SELECT count(*) FROM seen") >= served // 3, args.timeout)  # fmt: skip
            victim = procs[0]
            mine = f"%:{victim.pid}:%"
            held = one(conn, "SELECT count(*) FROM source_leases WHERE owner LIKE %s", mine)
            last = conn.execute(
                "SELECT max(until) FROM source_leases WHERE owner LIKE %s", (mine,)
            ).fetchone()[0]
            expires = (datetime.fromisoformat(last) - datetime.now(UTC)).total_seconds()
            victim.send_signal(signal.SIGKILL)
            victim.wait()
            killed_at = time.monotonic()
            print(f"SIGKILL to pid {victim.pid} while it held {held} source lease(s)")
            takeover = wait_for("the takeover", lambda: one(conn, "SELECT count(*) FROM source_leases WHERE owner LIKE %s", mine) == 0, args.timeout)  # fmt: skip
            wait_for("every item", lambda: one(conn, "SELECT count(*) FROM seen") >= served, args.timeout)  # fmt: skip
            cycle = wait_for("every feed polled once", lambda: one(conn, "SELECT count(*) FROM state WHERE key LIKE 'source:%%' AND value::json->>'polls' IS NOT NULL") >= args.feeds, args.timeout)  # fmt: skip
            cycle += killed_at - started
            wait_for("an empty outbox", lambda: one(conn, "SELECT count(*) FROM outbox") == 0, args.timeout)  # fmt: skip
            seen = one(conn, "SELECT count(*) FROM seen")
            stored = one(conn, "SELECT count(*) FROM mentions")
            alerts = [r[0] for r in conn.execute("SELECT doc::json->>'id' FROM alerts")]
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
        posts: Counter[str] = Counter()
        digests = 0
        for body in chat.received:
            if body.get("kind") == "text":  # (no storms, no failing sources here)
                digests += 1
            elif body.get("action") == "post" and body.get("kind") == "alert":
                posts[body["alert"]["id"]] += 1
            elif body.get("action") == "post" and body.get("kind") == "batch":
                posts.update(body.get("alert_ids", []))
    print(f"items seen / served:                {seen} / {served}")
    print(
        f"brand items / stored / on alerts:   {brand_items} / {stored} / {counted} ({len(alerts)} alerts)"
    )
    print(
        f"alerts posted / posted twice:       {sum(1 for a in alerts if posts[a])} of "
        f"{len(alerts)} / {sum(1 for n in posts.values() if n > 1)}; dead letters {dead}"
    )
    print(
        f"killed process's leases ran out after {max(0.0, expires):.1f} s, its sources were "
        f"all polled by the others after {takeover:.1f} s (poll interval {args.every} s)"
    )
    print(f"digest messages sent:               {digests}")
    print(f"every feed polled once after start:  {cycle:.1f} s with {args.processes} processes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
