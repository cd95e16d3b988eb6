"""How fast Slack payloads are built and sent: Block Kit rendering (validated by slack_sdk)
and chat.postMessage round trips to a local Web API stand-in. Prints figures; not a test.

    python bench/slack_render.py [N]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.domain.notifier import Outgoing
from listeners.slack.notifier import SlackNotifier, make_client
from tests.slack.helpers import make_alert
from tests.standin.slack import CHANNEL, TOKEN, SlackAPI


def main(n: int) -> None:
    alerts = [make_alert(f"A{i}", title=f"complaint {i} <!channel> " + "x" * 200) for i in range(n)]
    offline = SlackNotifier("slack", CHANNEL, None)
    started = time.perf_counter()
    for a in alerts:
        offline.render(Outgoing("post", {"kind": "alert"}, alert=a))
    took = time.perf_counter() - started
    print(f"render alert: {n} in {took:.3f}s = {took / n * 1000:.2f} ms each")
    big = make_alert("A0", title="y" * 100_000, text="z" * 100_000)
    started = time.perf_counter()
    offline.render(Outgoing("post", {"kind": "alert"}, alert=big))
    print(f"render a 100 KB alert: {(time.perf_counter() - started) * 1000:.2f} ms")
    started = time.perf_counter()
    offline.render(Outgoing("post", {"kind": "batch"}, alerts=alerts[:200]))
    print(f"render a 200-alert batch: {(time.perf_counter() - started) * 1000:.2f} ms")
    with SlackAPI() as api:
        notifier = SlackNotifier("slack", CHANNEL, make_client(TOKEN, api.api_url))
        sends = min(n, 200)
        started = time.perf_counter()
        for a in alerts[:sends]:
            out = Outgoing("post", {"kind": "alert"}, alert=a)
            assert notifier.send(out, notifier.render(out)).ok
        took = time.perf_counter() - started
        print(
            f"render+send to a 127.0.0.1 stand-in: {sends} in {took:.3f}s = {took / sends * 1000:.2f} ms each"
        )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)
