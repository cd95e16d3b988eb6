"""Ack latency while the daily digest is built, with the build under the storage lock (as
before issue 16's lockfix) and outside it (now), alternating in one run.

    python bench/digest_ack.py --store /tmp/lockfix-bench/store [--rounds 2] [--every 0.1]

`--store`: a data folder holding a big SQLite store (buzzwatch.sqlite3), e.g. a COPY of
bench/scale_query.py's 1M store: the bench acks its open alerts and queues digests there.
The clock is set to 01:05 UTC the day after the newest stored mention, the digest time to
01:00 UTC, so the digest of the last stored day is due (a week of mentions read). Each
round clears the "sent for" mark, starts run_due in a thread ("locked": run_due inside
repo.locked(), the lock's extent before the change; "unlocked": run_due as it is), and
acks one open alert every `--every` seconds, each in a thread of its own (open loop, as
people type), through CommandService (`ack A12`, as typed in chat) until the digest is
queued. Prints each round's build time and ack p50 / p95 / max.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sources.kinds  # noqa: F401  (every source kind's config section)
from core.alerting.lifecycle import AlertService
from core.commands.context import Actor
from core.commands.service import CommandService
from core.config import StorageConfig, load_config
from core.config.reports import DigestConfig
from core.domain.clock import FakeClock
from core.domain.models import Status
from core.intake.pipeline import SWITCH_INTERVAL
from core.reports.digest_service import STATE_KEY, DigestService
from storage.factory import open_repository

ROOT = Path(__file__).resolve().parent.parent


def newest_day(store: Path) -> datetime:
    import sqlite3

    db = sqlite3.connect(f"file:{store / 'buzzwatch.sqlite3'}?mode=ro", uri=True)
    try:
        (at,) = db.execute("SELECT max(at) FROM mentions").fetchone()
    finally:
        db.close()
    return datetime.fromisoformat(at).astimezone(UTC)


def p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--store", type=Path, required=True)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--every", type=float, default=0.1)
    args = ap.parse_args()
    last = newest_day(args.store)
    now = datetime.combine(last.date() + timedelta(days=1), datetime.min.time(), UTC)
    clock = FakeClock(now + timedelta(hours=1, minutes=5))
    config, _ = load_config(ROOT / "examples" / "config.yaml")
    config = config.model_copy(
        update={
            "data_dir": args.store,
            "storage": StorageConfig(backend="sqlite"),
            "digest": DigestConfig(time="01:00", timezone="UTC"),
        }
    )
    sys.setswitchinterval(SWITCH_INTERVAL)  # as the running bot does
    repo = open_repository("sqlite", args.store, clock=clock)
    commands = CommandService(config, repo, AlertService(repo, clock), clock)
    actor = Actor("u", "bench", "console")
    digests = DigestService(config, repo, clock, charts=False)
    open_ids = iter([a.id for a in repo.active_alerts() if a.status == Status.OPEN])
    print(f"store {args.store}: {repo.count_mentions():,} mentions; clock {clock.now():%F %H:%M}Z")
    try:
        for n in range(args.rounds):
            for mode in ("locked", "unlocked"):
                repo.set_state(STATE_KEY, {})
                lock = repo.locked() if mode == "locked" else contextlib.nullcontext()
                took: list[float] = []

                def build(
                    lock: contextlib.AbstractContextManager = lock, took: list = took
                ) -> None:
                    t0 = time.perf_counter()
                    with lock:
                        assert digests.run_due() is not None
                    took.append(time.perf_counter() - t0)

                builder = threading.Thread(target=build)
                builder.start()
                acks: list[float] = []

                def ack(alert_id: str, acks: list[float] = acks) -> None:
                    t0 = time.perf_counter()
                    assert commands.run(f"ack {alert_id}", actor).ok
                    acks.append(time.perf_counter() - t0)

                # Open loop, as people type: one ack every `every` s, whether or not the
                # ones before it were answered.
                typed = []
                while builder.is_alive():
                    typed.append(threading.Thread(target=ack, args=(next(open_ids),)))
                    typed[-1].start()
                    time.sleep(args.every)
                builder.join()
                for t in typed:
                    t.join()
                ms = [a * 1000 for a in acks]
                print(
                    f"round {n + 1} {mode:8}: digest built and queued in {took[0]:.1f} s; "
                    f"{len(ms)} acks meanwhile: p50 {statistics.median(ms):.1f} ms, "
                    f"p95 {p(ms, 0.95):.1f} ms, max {max(ms):.1f} ms",
                    flush=True,
                )
    finally:
        repo.close()


if __name__ == "__main__":
    main()
