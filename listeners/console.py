"""The local console: alerts printed on stdout, and the dry-run channel.

Dry run wraps any platform's notifier: it renders the exact payload that platform would
receive and prints it as one JSON line instead of sending it.
"""

from __future__ import annotations

import errno
import itertools
import json
import logging
import os
import re
import sys
import threading
from typing import Any, TextIO

from core.alerting.views import alert_view, burst_view
from core.config import ConsoleDestination
from core.domain.notifier import Delivery, Notifier, Outgoing
from listeners import notifier_type
from listeners.context import NotifierContext
from rules.text import strip_invisible

log = logging.getLogger("buzzwatch.console")

# Write errors after which the console's output is gone for good.
_GONE = {errno.EPIPE, errno.EBADF, errno.EIO, errno.ENXIO, errno.ECONNRESET}
_CONTROLS = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """Text for a terminal: nothing that could move the cursor, set a title or reorder
    what follows (bidi overrides)."""
    return _CONTROLS.sub("", strip_invisible(text))


STORM_MEMBERS = 50  # lines of members a console storm message shows


def render_storm_text(out: Outgoing) -> str:
    assert out.alert is not None
    sv = burst_view(out.alert, out.alerts)
    lines = [f"{sv.mark} [{sv.id}] {sv.severity.upper()} · {sv.title}"]
    lines.append(f"   {sv.status} · {sv.open} of {sv.total} alerts still open")
    for v in sv.members[:STORM_MEMBERS]:
        who = " · ".join(x for x in (v.author, v.source) if x)
        lines.append(f"   {v.mark} [{v.id}] {v.severity.upper()} · {v.headline[:120]}")
        lines.append(
            f"      {who + ' · ' if who else ''}{v.status}" + (f" · {v.url}" if v.url else "")
        )
    if sv.total > STORM_MEMBERS:
        lines.append(f"   … {sv.total - STORM_MEMBERS} more: `status all` lists every open alert")
    lines.append("   → ack <id> | assign <id> <person> | resolve <id>")
    return "\n".join(lines)


def render_alert_text(out: Outgoing) -> str:
    assert out.alert is not None
    if out.alert.kind == "storm":
        return render_storm_text(out)
    v = alert_view(out.alert)
    if out.action == "update":
        return f"[{v.id}] {v.status}" + (f" · {v.count} mentions" if v.count > 1 else "")
    flags = ", ".join(v.flags) or "mention"
    lines = [
        f"{v.mark} [{v.id}] {v.severity.upper()} · {v.brand} · {flags}",
        f"   {v.headline}",
    ]
    if v.excerpt:
        lines.append(f"   {v.excerpt[:300]}")
    who = " · ".join(x for x in (v.author, v.reach, v.source, v.when) if x)
    lines.append(f"   {who} · sentiment {v.sentiment:+.2f}")
    if v.aspects:
        lines.append(f"   aspects: {', '.join(v.aspects)}")
    if v.url:
        lines.append(f"   {v.url}")
    lines.append(f"   → ack {v.id} | assign {v.id} <person> | resolve {v.id}")
    return "\n".join(lines)


class Output:
    """A stream that may go away under us (`--once | head`, a hung-up terminal). The one way
    Buzzwatch prints while it runs: console alerts, dry-run payloads, replies to commands."""

    def __init__(self, stream: TextIO | None, quiet: bool = False) -> None:
        """`quiet`: a closed stream is not worth a warning (a one-shot command's answer
        piped into `head`: the reader left on purpose)."""
        self.stream = stream
        self.quiet = quiet
        self._lock = threading.Lock()
        self._closed = ""  # why it cannot be written to any more

    def print(self, text: str) -> Delivery | None:
        """Print one message; None when printed, else the failed Delivery."""
        stream = self.stream or sys.stdout
        with self._lock:
            if self._closed:
                return Delivery(ok=False, retryable=False, error=self._closed, dropped=True)
            try:
                print(text, file=stream, flush=True)
            except (OSError, ValueError) as err:
                if isinstance(err, OSError) and err.errno not in _GONE:
                    # A full disk under a redirected stdout may clear up: try again later.
                    return Delivery(ok=False, retryable=True, error=f"console: {err}")
                # The reader of the pipe left (`| head`), the terminal hung up, the file was
                # closed: permanent, nothing printed here again can be read. Said once; the
                # bot goes on polling and delivering to its other destinations.
                self._closed = f"the console's output is closed ({type(err).__name__})"
                if not self.quiet:
                    log.warning("%s: console messages are dropped from now on", self._closed)
                _point_at_devnull(stream)
                return Delivery(ok=False, retryable=False, error=self._closed, dropped=True)
        return None


class ConsoleNotifier:
    platform = "console"
    rate_limit: tuple[int, float] | None = None
    # Printed lines cannot be edited: an update that comes with a note (an ack, an assign, a
    # resolve) is dropped and the note says the change, so three quick changes print three
    # lines in order. (Rendered at send time, each update showed the latest state: "resolved"
    # twice and no "acked".) An update without a note (mentions joined) prints its status line.
    edits_in_place = False

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream
        self._out = Output(stream)
        self._ids = itertools.count(1)

    def render(self, out: Outgoing) -> dict[str, Any]:
        kind = out.message.get("kind")
        if kind == "alert":
            return {"text": render_alert_text(out)}
        if kind == "batch":
            lines = [f"{len(out.alerts)} more alert(s):"]
            lines += [
                f"  {alert_view(a).mark} [{a.id}] {alert_view(a).headline}" for a in out.alerts
            ]
            return {"text": "\n".join(lines)}
        if kind == "note":
            return {"text": f"   ↳ {out.message.get('text', '')}"}
        title = out.message.get("title", "")
        return {"text": (f"== {title} ==\n" if title else "") + out.message.get("text", "")}

    def send(self, out: Outgoing, payload: dict[str, Any]) -> Delivery:
        failed = self._out.print(printable(payload["text"]))
        return failed or Delivery(ok=True, ref=(out.ref or {"console": str(next(self._ids))}))


def _point_at_devnull(stream: TextIO) -> None:
    """After a broken pipe, the stream's descriptor goes to /dev/null, so the bytes still in
    its buffer and any later flush (at exit too) fail quietly instead of with a traceback."""
    try:
        fd = stream.fileno()
        devnull = os.open(os.devnull, os.O_WRONLY)
    except (OSError, ValueError, AttributeError):  # not a file (a StringIO in tests)
        return
    try:
        os.dup2(devnull, fd)
    except OSError:
        pass
    finally:
        os.close(devnull)


class DryRunNotifier:
    """Prints what would be sent: {"platform", "destination", "payload"} as one JSON line."""

    def __init__(self, inner: Notifier, destination: str, stream: TextIO | None = None) -> None:
        self.inner = inner
        self.platform = inner.platform
        self.rate_limit: tuple[int, float] | None = None  # nothing is sent, so nothing to pace
        # True even over a platform that cannot edit (DingTalk): the outbox then hands the
        # dry run every update too, and it prints each one.
        self.edits_in_place = True
        self.destination = destination
        self.stream = stream
        self._out = Output(stream)
        self._ids = itertools.count(1)

    def render(self, out: Outgoing) -> dict[str, Any]:
        return self.inner.render(out)

    def send(self, out: Outgoing, payload: dict[str, Any]) -> Delivery:
        line = {"platform": self.platform, "destination": self.destination, "payload": payload}
        failed = self._out.print(json.dumps(line, ensure_ascii=False))
        return failed or Delivery(ok=True, ref=(out.ref or {"dry_run": str(next(self._ids))}))


@notifier_type("console")
def build_console(name: str, cfg: ConsoleDestination, context: NotifierContext) -> ConsoleNotifier:
    return ConsoleNotifier(context.stdout)
