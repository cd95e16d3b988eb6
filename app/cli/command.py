"""`mentions ...` and `command ...`: one chat command from the command line."""

from __future__ import annotations

import argparse
import shlex
from typing import TYPE_CHECKING, TextIO

from app.replies import print_reply
from core.commands.parsing import QUERY_KEYS, command_word, tokenize
from core.commands.service import COMMANDS, is_read_only

if TYPE_CHECKING:
    from app.buzzwatch import Buzzwatch
    from app.queries import QueryApp


def command_text(args: argparse.Namespace) -> str:
    """The chat command line that `mentions ...` or `command ...` stands for."""
    words = args.query if args.command == "mentions" else args.words
    if len(words) == 1 and any(c.isspace() for c in words[0]):
        # One quoted argument is a whole command line: split as chat splits it (any
        # whitespace, a newline or U+3000 included, separates words).
        words = tokenize(words[0])
    if args.command == "command":
        found = COMMANDS.find(command_word(words[0])) if words else None
        if found is not None and found.name in FILTERED:
            # `command stats Acme --since 30d`: what `bot.py stats Acme --since 30d` is told
            # to run. "--since" was read as a brand's name ("Unknown brand '--since'").
            return shlex.join([words[0], *dashed_filters(words[1:])])
        return shlex.join(words)
    return "mentions " + shlex.join(dashed_filters(words))


# The chat commands whose arguments are filters (since:, brand:, ...), as `--since 7d` too.
FILTERED = frozenset({"mentions", "digest", "stats"})


def dashed_filters(words: list[str]) -> list[str]:
    """`mentions 退款 --since 7d` (or --since=7d), written as `digest --since` and `export
    --since` are, is `since:7d`: it was searched for as the words "--since" and "7d"."""
    out: list[str] = []
    at = 0
    while at < len(words):
        word = words[at]
        name, eq, value = word[2:].partition("=")
        if word.startswith("--") and name.lower() in QUERY_KEYS:
            if eq:
                out.append(f"{name}:{value}")
            elif at + 1 < len(words):
                out.append(f"{name}:{words[at + 1]}")
                at += 1
            else:
                out.append(f"{name}:")  # no value: said as such ("`since:` needs a value")
        else:
            out.append(word)
        at += 1
    return out


def next_to_the_bot_hint(command: str | None, text: str) -> str | None:
    """What to do instead when `command`, `digest`, `import` or `console` meets a running
    bot's data folder."""
    if command == "command":
        name = (text.split() or ["this command"])[0][:40]
        return (
            f"  `{name}` changes stored state, so it cannot run next to the bot: "
            "type it into the running bot's terminal, or use the chat."
        )
    if command == "digest":
        return (
            "  `digest` queues the digest for the chat, which only the running bot can do now: "
            "type `digest` into its terminal or the chat, or print it here with "
            "`python bot.py digest --dry-run`."
        )
    if command == "import":
        return (
            "  `import` writes into the data folder the running bot holds: stop the bot "
            "(Ctrl-C), import, and start it again (a short stop misses nothing: each source "
            "goes on from what it had seen)."
        )
    if command == "console":
        return (
            "  the console cannot run next to the bot: type commands into the running bot's "
            "terminal, or use the chat; read-only ones (status, sources, stats, mentions...) "
            "also work here, e.g. `python bot.py command status`."
        )
    return None


def cmd_command(app: Buzzwatch | QueryApp, text: str, out: TextIO) -> int:
    reply = app.run_command(text)
    if app.dry_run and reply.ok and not is_read_only(text):
        reply.text += "\n(dry run: not stored)"
    print_reply(reply, out)
    if reply.changed:
        app.deliver_now()
    return 0 if reply.ok else 1
