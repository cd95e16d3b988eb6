"""The console appends: each change typed about an alert prints one line, in order."""

from __future__ import annotations

import io
from pathlib import Path

from core.commands.context import Actor
from listeners.console import ConsoleNotifier
from tests.core.workflow import World


def test_quick_changes_print_one_line_each_in_the_order_they_were_made(tmp_path: Path) -> None:
    w = World(tmp_path, [{"name": "complaints", "match": {"brand": "Acme"}, "to": ["team"]}])
    out = io.StringIO()
    w.deliverer.notifiers["team"] = ConsoleNotifier(out)
    w.push("Acme burger gave my whole family food poisoning last night")
    w.tick(0.5)
    assert out.getvalue().count("→ ack A1") == 1
    # A change no note says (a mention joined) prints the alert's status line.
    printed = len(out.getvalue())
    w.push("Acme burger gave my whole family food poisoning last night!")
    w.tick(0.5)
    assert out.getvalue()[printed:].strip() == "[A1] open · 2 mentions"
    printed = len(out.getvalue())
    # Three changes before the next delivery: each update would render the alert as it is
    # then (resolved), so the console prints the notes that say each change instead.
    ann = Actor("u1", "ann", "console")
    for command in ("ack A1", "assign A1 bob", "resolve A1"):
        assert w.commands.run(command, ann).ok
    w.tick(0.5)
    lines = out.getvalue()[printed:].splitlines()
    assert [line.strip() for line in lines] == [
        "↳ A1 acked by ann.",
        "↳ A1 assigned to bob by ann.",
        "↳ A1 resolved by ann.",
    ]
