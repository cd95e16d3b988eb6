"""`console`: an interactive prompt for chat commands."""

from __future__ import annotations

from typing import TextIO

from app.buzzwatch import Buzzwatch
from app.replies import print_reply


def cmd_console(app: Buzzwatch, out: TextIO) -> int:
    print("Buzzwatch console. Type `help`, or `quit` to leave.", file=out)
    while True:
        try:
            line = input("buzzwatch> ")
        except (EOFError, KeyboardInterrupt):
            print(file=out)
            return 0
        if line.strip().lower() in {"quit", "exit", "q"}:
            return 0
        if line.strip():
            print_reply(app.run_command(line), out)
            app.deliver_now()
