"""`digest`: send the digest now (`--dry-run`: print it, write the chart)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, TextIO

from app.buzzwatch import Buzzwatch
from app.cli.report_options import report_args
from app.replies import say
from core.domain.notifier import Outgoing


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def _digest_summary(app: Buzzwatch, digests: int, items: list[Any]) -> str:
    """What became of this digest's own messages (one per digest and destination); other
    items the same delivery sent are not counted."""
    ids = {i.id for i in items}
    waiting = sum(1 for i in app.repo.pending_outbox() if i.id in ids)
    dead = sum(1 for i in app.repo.dead_letters() if i.id in ids)
    destinations = len({i.destination for i in items})
    text = (
        f"digest queued: {len(items)} message(s) ({_plural(digests, 'digest')} to "
        f"{_plural(destinations, 'destination')}): {len(items) - waiting - dead} sent"
    )
    if waiting:
        text += f", {waiting} still queued"
    if dead:
        text += f", {dead} failed (see the log)"
    return text


def cmd_digest(app: Buzzwatch, args: argparse.Namespace, out: TextIO) -> int:
    try:
        brand, since = report_args(app.config, args, report=True)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if not app.dry_run:
        messages = app.digests.on_demand(since, brand)
        items = app.digests.items(messages)
        app.repo.add_outbox(items)
        app.deliver_now()
        say(_digest_summary(app, len(messages), items), out)
        return 0
    from listeners.preview import preview_notifiers

    chart = Path(args.chart) if args.chart else Path("out")
    folder = chart if chart.suffix.lower() != ".png" else chart.parent
    messages = app.digests.on_demand(since, brand, chart_dir=folder)
    notifiers, notes = preview_notifiers(app.config, app.digests.destinations(), app.context, out)
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    for m in messages:
        if m.image and chart.suffix.lower() == ".png" and len(messages) == 1:
            m.image = m.image.replace(chart)
        for notifier in notifiers.values():
            outgoing = Outgoing(action="post", message=m.message())
            notifier.send(outgoing, notifier.render(outgoing))
        where = f"chart written to {m.image}" if m.image else "no chart (see the log)"
        print(f"{m.title}: {where}", file=sys.stderr)
    return 0
