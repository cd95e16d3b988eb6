"""Socket Mode ack delay around Slack's `disconnect`: slack_sdk's built-in client (Bolt's
default handler) against the aiohttp client Buzzwatch uses (listeners/slack/socket_mode.py).

    python bench/socket_mode.py [--rounds 5]

Each round, against stand-ins on 127.0.0.1 (tests/slack/): one envelope on a settled
connection, then `disconnect` followed at once by an envelope on the old connection, as
Slack may send. Prints the milliseconds from sending each envelope to receiving its ack.
Slack's deadline for an ack is 3,000 ms.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from listeners.slack.app import build_app
from listeners.slack.socket_mode import SocketModeRunner
from tests.slack.socket_mode import SocketModeServer, slash_payload
from tests.standin.slack import APP_TOKEN, TOKEN, SlackAPI


def builtin(app, api):
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    handler = SocketModeHandler(app, app_token=APP_TOKEN)
    handler.connect()
    return handler.close


def aiohttp(app, api):
    return SocketModeRunner(app, APP_TOKEN, api.api_url).start().stop


def measure(connect, rounds: int) -> tuple[list[float], list[float]]:
    settled, after = [], []
    with SlackAPI() as api, SocketModeServer(api) as ws:
        app = build_app(TOKEN, "", api_url=api.api_url)
        app.command("/ping")(lambda ack: ack())
        stop = connect(app, api)
        try:
            ws.wait_connections(1)
            for n in range(1, rounds + 1):
                envelope_id, sent = ws.envelope("slash_commands", slash_payload(api, "/ping", ""))
                settled.append(ws.ack_of(envelope_id).at - sent)
                ws.disconnect()
                envelope_id, sent = ws.envelope(
                    "slash_commands", slash_payload(api, "/ping", ""), conn=n - 1
                )
                after.append(ws.ack_of(envelope_id, timeout=15).at - sent)
                ws.wait_connections(n + 1)
                time.sleep(0.3)
        finally:
            stop()
    return settled, after


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    print(f"{'client':<28} {'settled (ms)':>24} {'just after disconnect (ms)':>30}")
    for name, connect in (("slack_sdk built-in", builtin), ("slack_sdk aiohttp (ours)", aiohttp)):
        settled, after = measure(connect, args.rounds)

        def cell(xs: list[float]) -> str:
            ms = [x * 1000 for x in xs]
            return f"median {statistics.median(ms):7,.0f}  max {max(ms):7,.0f}"

        print(f"{name:<28} {cell(settled):>24} {cell(after):>30}")


if __name__ == "__main__":
    main()
