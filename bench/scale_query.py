"""`mentions` queries and acks on 10M stored mentions: PostgreSQL next to the embedded store
(SQLite) in the same run. Run by `python bench/scale.py --query-mentions N` (its phase of the
issue's "Done when"), or alone:

    python bench/scale_query.py [--mentions 10000000] [--sqlite-mentions N] [--alerts 20000]
                                [--repeat 5] [--clients 2]

Filling: real rows (storage/mention_search.py's mention_row of bench/corpus.py's mentions,
brands, flags and sentiment set as the rules would) for a pool of distinct mentions, then
N rows cycling through the pool, each with its own id and time (spread over 30 days, in
the order they would have been polled). PostgreSQL: one COPY with the mentions' indexes
dropped and made again afterwards; SQLite: executemany in transactions of 100,000 rows
into its tables (its triggers fill its FTS5 indexes). Then alerts (10% open) through the
repository.

Measured with the repository the bot uses (CommandService, as chat and the CLI run it):
- the 30-day `mentions` query set (bench/storage.py's WARM), each `--repeat` times:
  p50 / p95 / max over all of them, and per query;
- `ack` of open alerts, quiet and under load: a writer storing poll cycles (500 new
  mentions each, the bot's save_cycle) and `--clients` threads running `mentions` queries
  at the same time: p50 / p95 / max (the thread switch interval the bot runs with).
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import os
import random
import shutil
import sqlite3
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402

import sources.kinds  # noqa: F401, E402  (every source kind's config section)
from bench.corpus import make_mentions  # noqa: E402
from bench.storage import END, WARM, add_alerts  # noqa: E402
from core.alerting.lifecycle import AlertService  # noqa: E402
from core.commands.context import Actor  # noqa: E402
from core.commands.service import CommandService  # noqa: E402
from core.config import StorageConfig, load_config  # noqa: E402
from core.domain.clock import FakeClock  # noqa: E402
from core.domain.models import Mention, Status  # noqa: E402
from core.intake.pipeline import SWITCH_INTERVAL  # noqa: E402
from storage.factory import open_repository  # noqa: E402
from storage.mention_search import mention_row  # noqa: E402
from storage.sqlite_mentions import index_rows  # noqa: E402

DAYS = 30
POOL = 50_000
# The 16 queries of bench/storage.py: Chinese and English words, common and rare, with and
# without filters, a filter alone, a word nowhere.
QUERIES = WARM


def as_stored(m: Mention, rng: random.Random) -> dict[str, Any]:
    """A mention as the rules would have left it (brand, flags, sentiment)."""
    m.brands = ["Acme"]
    m.flags = ["negative"] if "差" in m.text or "rude" in m.text else []
    m.sentiment = -0.5 if m.flags else rng.choice([0.2, 0.2, 0.7])
    return m.to_dict()


def pool_docs(n: int) -> list[dict[str, Any]]:
    rng = random.Random(16)
    start = END - timedelta(days=DAYS)
    return [as_stored(m, rng) for m in make_mentions(n, seed=16, start=start, days=DAYS)]


def stamps(n: int) -> Iterator[str]:
    """n times over the 30 days, oldest first (as a bot polls them), a little shuffled."""
    rng = random.Random(17)
    span = DAYS * 86400
    start = END - timedelta(days=DAYS)
    for i in range(n):
        off = min(span - 1.0, max(0.0, span * i / n + rng.uniform(-600, 600)))
        yield (start + timedelta(seconds=off)).isoformat()


def rows(n: int, pool: list[dict[str, Any]]) -> Iterator[tuple[Any, ...]]:
    """n stored rows: the pool's, each with its own id and time (doc changed to match)."""
    base = [mention_row(doc) for doc in pool]
    for i, when in enumerate(stamps(n)):
        doc, row = pool[i % len(pool)], base[i % len(pool)]
        new_id = f"m{i}"
        text = row[9].replace(f'"id":"{doc["id"]}"', f'"id":"{new_id}"', 1)
        text = text.replace(doc["published"], when).replace(doc["fetched_at"], when)
        yield (new_id, when, when, *row[3:9], text)


# --- filling the stores ---------------------------------------------------------------------

_ESC = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _array(grams: str) -> str:
    """The grams as a PostgreSQL text[] literal (grams are CJK characters: no quoting)."""
    return "{" + ",".join(f'"{g}"' for g in grams.split()) + "}"


def fill_postgres(dsn: str, n: int, pool: list[dict[str, Any]]) -> float:
    """COPY n rows into the (empty) mentions table, its indexes made afterwards."""
    t0 = time.perf_counter()
    with psycopg.connect(dsn, autocommit=True) as conn:
        indexes = conn.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'mentions'"
            " AND indexname NOT IN ('mentions_pkey', 'mentions_id_key')"
        ).fetchall()
        for name, _ in indexes:
            conn.execute(f"DROP INDEX {name}")
        conn.execute("ALTER TABLE mentions DROP CONSTRAINT mentions_id_key")
        cols = "id, fetched_at, at, source_cf, brands_cf, flags, sentiment, search, grams, doc"
        with conn.cursor() as cur, cur.copy(f"COPY mentions({cols}) FROM STDIN") as copy:
            buf: list[str] = []
            for row in rows(n, pool):
                fields = [*row[:6], repr(row[6]), row[7], _array(row[8]), row[9]]
                buf.append("\t".join(f.translate(_ESC) for f in fields) + "\n")
                if len(buf) >= 10_000:
                    copy.write("".join(buf).encode())
                    buf.clear()
            copy.write("".join(buf).encode())
        loaded = time.perf_counter() - t0
    unique = "CREATE UNIQUE INDEX mentions_id_key ON mentions(id)"
    make_indexes(dsn, [unique, *(definition for _, definition in indexes)])
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            "ALTER TABLE mentions ADD CONSTRAINT mentions_id_key UNIQUE USING INDEX mentions_id_key"
        )
        conn.execute("VACUUM ANALYZE mentions")
    took = time.perf_counter() - t0
    print(f"   postgres: {n:,} mentions loaded in {loaded:.0f} s, indexed in {took - loaded:.0f} s")
    return took


def make_indexes(dsn: str, definitions: list[str]) -> None:
    """Each index built by a connection of its own, at the same time (CREATE INDEX allows
    that on one table): the GIN indexes take the longest; the others fit beside them."""
    errors: list[BaseException] = []

    def build(definition: str) -> None:
        try:
            with psycopg.connect(dsn, autocommit=True) as conn:
                conn.execute("SET maintenance_work_mem = '512MB'")
                conn.execute(definition)
        except BaseException as err:
            errors.append(err)

    threads = [threading.Thread(target=build, args=(d,)) for d in definitions]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


def fill_sqlite(path: Path, n: int, pool: list[dict[str, Any]]) -> float:
    t0 = time.perf_counter()
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA synchronous = OFF")
    batch = 100_000
    it = rows(n, pool)
    rid = 0
    while rid < n:
        chunk = [next(it) for _ in range(min(batch, n - rid))]
        db.execute("BEGIN")
        db.executemany(
            "INSERT INTO mentions(rid, id, fetched_at, at, source_cf, brands_cf, flags,"
            " sentiment, search) VALUES (?,?,?,?,?,?,?,?,?)",
            [(rid + k + 1, *r[:8]) for k, r in enumerate(chunk)],
        )
        db.executemany(
            "INSERT INTO mention_docs(rid, grams, doc) VALUES (?, '', ?)",
            [(rid + k + 1, r[9]) for k, r in enumerate(chunk)],
        )
        # the full-text indexes, as the store writes them (rid, at, search, filter columns,
        # grams): rows made here, without them, would not be found by a word
        index_rows(db, [(rid + k + 1, r[2], r[7], *r[3:7], r[8]) for k, r in enumerate(chunk)])
        db.execute("COMMIT")
        rid += len(chunk)
    db.execute("ANALYZE")
    took = time.perf_counter() - t0
    # every row is in the word index: the index finds what a scan of the rows finds
    word = "burger"
    indexed = db.execute("SELECT count(*) FROM mention_text WHERE mention_text MATCH ?", (word,))
    scanned = db.execute("SELECT count(*) FROM mentions WHERE instr(search, ?)", (word,))
    found, want = indexed.fetchone()[0], scanned.fetchone()[0]
    db.close()
    if found != want:
        sys.exit(f"sqlite fill: the index finds {found:,} mentions of {word!r}, the rows {want:,}")
    print(f"   sqlite: {n:,} mentions stored in {took:.0f} s")
    return took


# --- measuring ------------------------------------------------------------------------------


def pct(times: list[float], p: float) -> float:
    """The p-th percentile (nearest rank), in ms."""
    ordered = sorted(times)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))] * 1000


def spread(times: list[float]) -> str:
    return f"p50 {pct(times, 50):7.1f}  p95 {pct(times, 95):7.1f}  max {max(times) * 1000:7.1f} ms"


@dataclass
class Figures:
    mentions: int = 0
    build: float = 0.0
    per_query: dict[str, list[float]] = field(default_factory=dict)
    totals: dict[str, str] = field(default_factory=dict)
    quiet_acks: list[float] = field(default_factory=list)
    loaded_acks: list[float] = field(default_factory=list)
    loaded_queries: list[float] = field(default_factory=list)
    writes: int = 0
    loaded_seconds: float = 0.0  # how long the acks under load took, sleeps included

    @property
    def queries(self) -> list[float]:
        return [t for times in self.per_query.values() for t in times]


def measure(
    backend: Literal["sqlite", "postgres"],
    folder: Path,
    n: int,
    build: float,
    repeat: int,
    clients: int,
) -> Figures:
    config, _ = load_config(ROOT / "examples" / "config.yaml")
    config = config.model_copy(
        update={"data_dir": folder, "storage": StorageConfig(backend=backend)}
    )
    sys.setswitchinterval(SWITCH_INTERVAL)  # as the running bot does (app/runloop.py)
    clock = FakeClock(END)
    repo = open_repository(backend, folder, clock=clock)
    commands = CommandService(config, repo, AlertService(repo, clock), clock)
    actor = Actor("u", "bench", "console")
    out = Figures(mentions=n, build=build)
    for words in QUERIES:
        commands.run(f"mentions {words} since:30d", actor)  # warm: the cache holds it
    for _ in range(repeat):
        for words in QUERIES:
            t0 = time.perf_counter()
            reply = commands.run(f"mentions {words} since:30d", actor)
            out.per_query.setdefault(words, []).append(time.perf_counter() - t0)
            out.totals[words] = reply.text.splitlines()[0][:48]
    open_ids = [a.id for a in repo.active_alerts() if a.status == Status.OPEN]
    for aid in open_ids[:50]:
        t0 = time.perf_counter()
        assert commands.run(f"ack {aid}", actor).ok
        out.quiet_acks.append(time.perf_counter() - t0)

    # The load: this process's poll cycles storing 500 new mentions each (made beforehand,
    # so the writer does what the bot's save_cycle does), and `clients` other processes
    # running `mentions` queries on the same store (read-only, as `bot.py mentions` does).
    rng = random.Random(5)
    batches = []
    for k in range(200):
        batch = make_mentions(500, seed=10_000 + k, start=END - timedelta(hours=1))
        for m in batch:
            as_stored(m, rng)
        batches.append(batch)
    stop = threading.Event()
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            for batch in batches:
                if stop.is_set():
                    break
                repo.save_cycle(batch, [m.id for m in batch], [], [])
                out.writes += len(batch)
        except BaseException as err:  # reported after the run
            errors.append(err)
            stop.set()

    spawn = multiprocessing.get_context("spawn")
    results = spawn.Queue()
    halt = spawn.Event()
    procs = [
        spawn.Process(target=query_client, args=(backend, folder, i, halt, results))
        for i in range(clients)
    ]
    for proc in procs:
        proc.start()
    for _ in procs:  # each says when it is running queries
        results.get(timeout=300)
    thread = threading.Thread(target=writer)
    thread.start()
    started = time.perf_counter()
    try:
        for aid in open_ids[50:250]:
            if stop.is_set() or not thread.is_alive():
                break
            t0 = time.perf_counter()
            assert commands.run(f"ack {aid}", actor).ok
            out.loaded_acks.append(time.perf_counter() - t0)
            time.sleep(0.02)
    finally:
        stop.set()
        halt.set()
        thread.join()  # (its cycle in progress finished: counted, and its time)
        out.loaded_seconds = time.perf_counter() - started
        for _ in procs:
            out.loaded_queries += results.get(timeout=300)
        for proc in procs:
            proc.join()
        repo.close()
    if errors:
        raise errors[0]
    return out


def query_client(
    backend: str, folder: Path, seed: int, halt: Any, results: multiprocessing.Queue[Any]
) -> None:
    """Another process running `mentions` queries on the store until `halt` is set."""
    config, _ = load_config(ROOT / "examples" / "config.yaml")
    config = config.model_copy(
        update={"data_dir": folder, "storage": StorageConfig(backend=backend)}
    )  # type: ignore[arg-type]
    clock = FakeClock(END)
    repo = open_repository(backend, folder, clock=clock, read_only=True)
    commands = CommandService(config, repo, AlertService(repo, clock), clock)
    actor = Actor(f"c{seed}", "client", "console")
    rng = random.Random(seed)
    times: list[float] = []
    results.put([])
    while not halt.is_set():
        t0 = time.perf_counter()
        commands.run(f"mentions {rng.choice(QUERIES)} since:30d", actor)
        times.append(time.perf_counter() - t0)
    repo.close()
    results.put(times)


def report(figures: dict[str, Figures], clients: int) -> None:
    names = list(figures)
    print(
        "\n`mentions <words> since:30d` (CommandService), ms; "
        + " | ".join(f"{b}: {f.mentions:,} mentions" for b, f in figures.items())
    )
    for b, f in figures.items():
        built = f"built in {f.build:,.0f} s" if f.build else "built by a run before"
        print(f"   {b:<9} all queries: {spread(f.queries)}   (target p95 < 200; {built})")
    print(f"   {'query':<26}" + "".join(f"{b + ' p50/p95':>22}" for b in names))
    for words in QUERIES:
        cells = "".join(
            f"{pct(f.per_query[words], 50):11.1f}/{pct(f.per_query[words], 95):9.1f}"
            for f in figures.values()
        )
        print(f"   {words:<26}{cells}   {figures[names[0]].totals[words]}")
    print("ack (CommandService), ms:")
    for b, f in figures.items():
        print(f"   {b:<9} quiet:      {spread(f.quiet_acks)}")
        print(
            f"   {b:<9} under load: {spread(f.loaded_acks)}   (target p95 < 20; a writer "
            f"stored {f.writes:,} mentions meanwhile, {f.writes / f.loaded_seconds:,.0f}/s, "
            f"{clients} clients ran "
            f"{len(f.loaded_queries)} queries: {spread(f.loaded_queries)})"
        )


@contextlib.contextmanager
def postgres_server() -> Iterator[str]:
    """BUZZWATCH_DATABASE_URL if set, else a throwaway cluster (as the tests start)."""
    if os.environ.get("BUZZWATCH_DATABASE_URL"):
        yield os.environ["BUZZWATCH_DATABASE_URL"]
        return
    from tests.postgres_server import Cluster, find_bin

    cluster = Cluster(find_bin() or sys.exit("postgres needs pg_ctl: apt-get install postgresql"))
    try:
        cluster.start()
        dsn = cluster.create_database()
        os.environ["BUZZWATCH_DATABASE_URL"] = dsn
        yield dsn
    finally:
        os.environ.pop("BUZZWATCH_DATABASE_URL", None)
        cluster.stop()


def sqlite_store(folder: Path, n: int, alerts: int, keep: Path | None) -> float:
    """An SQLite store of n mentions in `folder`: built there, or copied from `keep` (built
    there first if missing). Returns the build time (0 when copied)."""
    target = folder if keep is None else keep / f"sqlite-{n}-{alerts}"
    took = 0.0
    if keep is None or not (target / "BUILT").exists():
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        open_repository("sqlite", target).close()  # the schema
        took = fill_sqlite(target / "buzzwatch.sqlite3", n, pool_docs(min(POOL, n)))
        repo = open_repository("sqlite", target)
        add_alerts(repo, alerts)
        repo.close()
        (target / "BUILT").write_text(f"{took:.1f}\n")
    if target != folder:
        shutil.copytree(target, folder, ignore=shutil.ignore_patterns("BUILT", ".lock"))
    return took


def run(
    n: int,
    sqlite_n: int,
    alerts: int,
    repeat: int = 5,
    clients: int = 2,
    keep: Path | None = None,
    fill_only: bool = False,
) -> None:
    """Both stores filled and measured, one after the other, then side by side."""
    figures: dict[str, Figures] = {}
    with tempfile.TemporaryDirectory(prefix="bench-query-") as tmp:
        if n:
            folder = Path(tmp) / "postgres"
            folder.mkdir()
            with postgres_server() as dsn:
                repo = open_repository("postgres", folder)  # the schema
                stored = repo.count_mentions()
                repo.close()
                took = 0.0
                if stored:  # a server given in BUZZWATCH_DATABASE_URL, filled by a run before
                    print(f"   postgres: {stored:,} mentions already stored (a run before)")
                    n = stored
                else:
                    took = fill_postgres(dsn, n, pool_docs(min(POOL, n)))
                    repo = open_repository("postgres", folder)
                    add_alerts(repo, alerts)
                    repo.close()
                if not fill_only:
                    figures["postgres"] = measure("postgres", folder, n, took, repeat, clients)
        if sqlite_n:
            folder = Path(tmp) / "sqlite"
            took = sqlite_store(folder, sqlite_n, alerts, keep)
            if not fill_only:
                figures["sqlite"] = measure("sqlite", folder, sqlite_n, took, repeat, clients)
    if figures:
        report(figures, clients)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mentions", type=int, default=10_000_000, help="PostgreSQL's (0: none)")
    ap.add_argument("--sqlite-mentions", type=int, help="SQLite's (default: --mentions; 0: none)")
    ap.add_argument("--alerts", type=int, default=20_000)
    ap.add_argument("--repeat", type=int, default=5, help="runs of each query")
    ap.add_argument("--clients", type=int, default=2, help="query threads during the acks")
    ap.add_argument(
        "--fill-only",
        action="store_true",
        help="fill the server in BUZZWATCH_DATABASE_URL (and --keep) and stop",
    )
    ap.add_argument("--keep", type=Path, help="keep the built SQLite store here, reuse it later")
    args = ap.parse_args()
    sqlite_n = args.mentions if args.sqlite_mentions is None else args.sqlite_mentions
    run(args.mentions, sqlite_n, args.alerts, args.repeat, args.clients, args.keep, args.fill_only)


if __name__ == "__main__":
    main()
