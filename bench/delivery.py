"""Delivery at volume: 10,000 mentions through routing, grouping and the outbox, sent to a
chat stand-in on 127.0.0.1. Prints messages sent against what a naive
one-message-per-mention bot would send, and how many alerts were lost or duplicated.

    python bench/delivery.py [--n 10000] [--faults]

Time is simulated (a fake clock): mentions arrive over an hour in 5-minute poll cycles,
and the destination keeps Slack's pace of about one message a second. With --faults the
stand-in answers 500 to one request in five and 429 to one in twenty.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sources.kinds  # noqa: F401  (every source kind's config section)
from bench.corpus import make_mentions
from core.alerting.routing import Router
from core.config import parse_config
from core.delivery.worker import Deliverer
from core.domain.clock import FakeClock
from core.intake.pipeline import Pipeline
from listeners.webhook import WebhookNotifier
from rules.analyze import Analyzer
from storage.tinydb_repo import TinyDBRepository
from tests.standin.chat import ChatServer

START = datetime(2026, 11, 28, 1, 0, tzinfo=UTC)
CYCLE = timedelta(minutes=5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--faults", action="store_true")
    args = parser.parse_args()
    rng = random.Random(5)
    with ChatServer() as chat, tempfile.TemporaryDirectory() as tmp:
        if args.faults:
            chat.respond = lambda body: (
                (500, {})
                if rng.random() < 0.2
                else (429, {"Retry-After": "2"})
                if rng.random() < 0.05
                else (200, {})
            )
        config = parse_config(
            {
                "data_dir": tmp,
                "brands": [{"name": "Acme", "keywords": ["Acme", "艾克米"]}],
                "destinations": {"chat": {"type": "webhook", "url": chat.url}},
                "routes": [
                    {
                        "name": "team",
                        "match": {"flags": ["negative", "question", "kol", "critical"]},
                        "to": ["chat"],
                    }
                ],
            },
            Path("bench"),
        )
        clock = FakeClock(START)
        repo = TinyDBRepository(Path(tmp), clock=clock)
        pipeline = Pipeline(config, repo, Analyzer(config), Router(config.routes), clock)
        notifier = WebhookNotifier(chat.url, None, (1, 1.0))
        deliverer = Deliverer(
            repo, {"chat": notifier}, clock, rng=random.Random(1), sleep=clock.advance
        )
        mentions = make_mentions(args.n, seed=42, start=START, days=1)
        cycles = 12
        per_cycle = -(-args.n // cycles)
        t0 = time.perf_counter()
        for c in range(cycles):
            batch = mentions[c * per_cycle : (c + 1) * per_cycle]
            for m in batch:
                m.fetched_at = clock.now()
            pipeline.process("bench", batch)
            deliverer.drain(max_wait=CYCLE.total_seconds())
            clock.set(START + CYCLE * (c + 1))
        deliverer.drain(max_wait=3600)
        wall = time.perf_counter() - t0

        routed = sum(
            1 for m in mentions if m.brands and Router(config.routes).destinations_for(m)[1]
        )
        alerts = repo.find_alerts(lambda a: True)
        delivered: Counter[str] = Counter()
        for body in chat.received:
            if body["action"] != "post":
                continue
            if body["kind"] == "alert":
                delivered[body["alert"]["id"]] += 1
            elif body["kind"] == "batch":
                delivered.update(body["alert_ids"])
        storms = {a.id for a in alerts if a.kind == "storm" and delivered[a.id]}
        lost = [
            a.id
            for a in alerts
            if a.kind == "mention" and not delivered[a.id] and a.storm_of not in storms
        ]
        duplicated = [aid for aid, n in delivered.items() if n > 1]
        counted = sum(a.count for a in alerts if a.kind == "mention")
        repo.close()
        notifier.client.close()
    print(f"mentions pushed:                {args.n:,} ({routed:,} routed to the team channel)")
    print(f"naive bot (one message each):   {routed:,} messages")
    print(
        f"Buzzwatch messages sent:        {len(chat.received):,} ({sum(1 for b in chat.received if b['action'] == 'post'):,} posts, {sum(1 for b in chat.received if b['action'] != 'post'):,} updates/notes)"
    )
    print(
        f"alerts: {len(alerts):,} ({sum(1 for a in alerts if a.kind == 'storm')} storms, {sum(1 for a in alerts if a.storm_of)} folded into storms); mentions counted on alerts: {counted:,} of {routed:,}"
    )
    print(
        f"lost: {len(lost) + (routed - counted)}   duplicated: {len(duplicated)}   requests: {chat.attempts:,}{' (with injected faults)' if args.faults else ''}"
    )
    print(f"wall time: {wall:.1f} s for {cycles} simulated poll cycles")


if __name__ == "__main__":
    main()
