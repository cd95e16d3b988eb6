"""DingTalk rendering and signed sending, measured.

    python bench/dingtalk.py [--n 2000] [--sends 200]

Prints: render time per alert (markdown, ActionCard with ack links, status update), the
body sizes that come out (hostile, maximal feed text included), a 500-alert batch's size,
and signed POSTs per second to a local stand-in robot on 127.0.0.1 (with its rate limit
lifted, so the figure is Buzzwatch's own cost, not DingTalk's 20 a minute).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.domain.clock import FakeClock, SystemClock
from core.domain.notifier import Outgoing
from listeners.dingtalk.ackpages import AckTokens
from listeners.dingtalk.notifier import DingTalkNotifier
from tests.dingtalk.helpers import INJECTIONS, make_alert
from tests.standin import dingtalk as robotserver


def size(payload: dict) -> int:
    return len(json.dumps(payload, ensure_ascii=False).encode())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--sends", type=int, default=200)
    args = parser.parse_args()

    clock = FakeClock(datetime.now(UTC))
    tokens = AckTokens("bench-key", clock, "https://buzz.example.com")
    alerts = [
        make_alert(
            f"A{i}",
            title=INJECTIONS[i % len(INJECTIONS)] + "标题" * 40,
            text=("正文" * 400) + INJECTIONS[(i + 1) % len(INJECTIONS)],
        )
        for i in range(args.n)
    ]
    for style in ("markdown", "actioncard"):
        n = DingTalkNotifier(
            "bench", "http://127.0.0.1:9/robot/send", "SECx", clock, style=style, links=tokens.link
        )
        for action in ("post", "update"):
            start = time.perf_counter()
            sizes = [size(n.render(Outgoing(action, {"kind": "alert"}, alert=a))) for a in alerts]
            per = (time.perf_counter() - start) / len(alerts) * 1e6
            print(
                f"render {style:10} {action:6}: {per:7.1f} µs/alert; body bytes "
                f"median {statistics.median(sizes):.0f}, max {max(sizes)}"
            )
    batch = n.render(Outgoing("post", {"kind": "batch"}, alerts=alerts[:500]))
    print(f"batch of 500 alerts: {size(batch)} bytes (cap 20,000)")

    robotserver.PER_MINUTE = 10**9  # measure our cost, not DingTalk's limit
    with robotserver.RobotServer("SECbench") as robot:
        n = DingTalkNotifier("bench", robot.webhook, "SECbench", SystemClock())
        n.rate_limit = (10**9, 60.0)
        out = Outgoing("post", {"kind": "alert"}, alert=alerts[0])
        payload = n.render(out)
        start = time.perf_counter()
        ok = sum(n.send(out, payload).ok for _ in range(args.sends))
        took = time.perf_counter() - start
        print(
            f"signed sends to the local stand-in: {ok}/{args.sends} ok, "
            f"{args.sends / took:.0f}/s ({took / args.sends * 1000:.2f} ms each)"
        )


if __name__ == "__main__":
    main()
