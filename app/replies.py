"""A chat command's reply as terminal text, and a one-shot command's answer on stdout."""

from __future__ import annotations

from typing import TextIO

from core.alerting.views import local_time
from core.commands.context import Reply
from core.domain.models import Mention
from listeners.console import Output, printable


def reply_text(reply: Reply) -> str:
    # Stored text is third-party: printable() drops terminal escapes.
    lines = [printable(reply.text)]
    for doc in reply.mentions:
        m = Mention.from_dict(doc)
        head = f"  {local_time(m.when)} [{m.source}] {m.title or m.text[:80]}"
        # What a post has of author, flags and link (an imported row may have none of them).
        said = [m.author, ",".join(m.flags), f"sentiment {m.sentiment:+.2f}", m.url]
        tail = "      " + " · ".join(part for part in said if part)
        lines += [printable(head), printable(tail)]
    if reply.next_offset is not None and reply.query is not None:
        # Slack has a More button and DingTalk its own line; a terminal says how.
        # After `page:2`, `offset:4` read as a step sideways: say the page too when it is one.
        limit = reply.query.limit
        page = (
            f" (or page:{reply.next_offset // limit + 1})" if reply.next_offset % limit == 0 else ""
        )
        lines.append(f"  more: add offset:{reply.next_offset}{page}")
    return "\n".join(lines)


def say(text: str, out: TextIO | None) -> None:
    """A one-shot command's answer on stdout. A reader that has left (`| head -1`) ends
    nothing: what the command did is kept, and it finishes quietly."""
    Output(out, quiet=True).print(text)


def print_reply(reply: Reply, out: TextIO) -> None:
    say(reply_text(reply), out)
