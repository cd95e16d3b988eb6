"""The command line: global options (before or after the command's name) and subcommands."""

from __future__ import annotations

import argparse
import shlex
from collections.abc import Sequence
from typing import Any

from core.commands.parsing import command_word
from core.commands.service import COMMANDS

# Global options that take a value: the word after them is not the command's name.
VALUED_OPTIONS = frozenset({"--config", "--log-format"})


def _global_options(parser: argparse.ArgumentParser, suppress: bool) -> None:
    """The options every command takes, before or after the command's name."""
    default: dict[str, Any] = {"default": argparse.SUPPRESS} if suppress else {}
    parser.add_argument(
        "--config",
        help="config file (default: $BUZZWATCH_CONFIG, ./buzzwatch.yaml, examples/config.yaml)",
        **default,
    )
    parser.add_argument(
        "--once", action="store_true", help="run one poll cycle, deliver, exit", **default
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="send nothing and change no stored state; print each message as a JSON line",
        **default,
    )
    parser.add_argument(
        "--start-empty",
        action="store_true",
        help="when state.json and its backup are both unreadable, start without the alerts "
        "and queued messages they held (alert ids carry on; none is reused)",
        **default,
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging", **default)
    parser.add_argument(
        "--log-format",
        choices=["text", "json"],
        help="json: one JSON object per log line (default: text)",
        default=argparse.SUPPRESS if suppress else "text",
    )
    parser.add_argument(
        "-q", "--quiet", action="store_true", help="warnings and errors only", **default
    )


def options_among_words(args: argparse.Namespace) -> argparse.Namespace:
    """`command ack A1 --dry-run`: global options given after the words still count."""
    field = "query" if args.command == "mentions" else "words"
    common = argparse.ArgumentParser(add_help=False)
    _global_options(common, suppress=True)
    found, rest = common.parse_known_args(getattr(args, field))
    for key, value in vars(found).items():
        setattr(args, key, value)
    setattr(args, field, rest)
    return args


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bot.py",
        description="Buzzwatch: social-listening alerts. With no command, polls and alerts until Ctrl-C.",
    )
    _global_options(parser, suppress=False)
    common = argparse.ArgumentParser(add_help=False)
    _global_options(common, suppress=True)
    sub = parser.add_subparsers(dest="command")

    def add(name: str, **kwargs: Any) -> argparse.ArgumentParser:
        return sub.add_parser(name, parents=[common], **kwargs)

    add("run", help="poll and alert until Ctrl-C (the default)")
    p = add("check-config", help="validate the config and print a summary")
    p.add_argument("--sample", help="also show how a mention with this text is analysed and routed")
    add("console", help="an interactive prompt for chat commands")
    p = add("mentions", help="query stored mentions, e.g. mentions 退款 since:24h")
    p.add_argument(
        "query",
        nargs=argparse.REMAINDER,
        help="words and filters, as in chat: since:24h sentiment:neg|pos|neu "
        "flag:question|kol|negative|critical brand:NAME source:NAME limit:N offset:N",
    )
    p = add("command", help="run one chat command, e.g. command ack A3")
    p.add_argument(
        "words",
        nargs=argparse.REMAINDER,
        help="a chat command and its arguments (ack A3, status, stats since:7d); "
        "`command help` lists them",
    )
    p = add("classify", help="analyse text lines or JSON lines; one JSON result per line")
    p.add_argument("--brand", help="apply this brand's domain words and aspects")
    p.add_argument("file", nargs="?", help="input file (default: stdin)")
    p = add("digest", help="send the digest now (--dry-run: print it, write the chart)")
    p.add_argument("--brand", help="only this brand")
    p.add_argument("--since", default="24h", help="the period to cover (default 24h)")
    p.add_argument("--chart", help="where to write the PNG (default: out/ in a dry run)")
    p = add("export", help="write stored mentions as CSV or JSON lines")
    p.add_argument("--since", default="7d", help="from this long ago (default 7d)")
    p.add_argument("--format", choices=["csv", "jsonl"], default="jsonl")
    p.add_argument("--brand", help="only this brand")
    p.add_argument("--output", "-o", help="file to write (default: stdout)")
    p = add("import", help="backfill mentions from a .jsonl or .csv file")
    p.add_argument("file", help="JSON Lines or CSV (header row) in the inbound schema")
    p.add_argument(
        "--source", help="source name to file them under (default: the file's, else import)"
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument(
        "--alert",
        action="store_true",
        help="route and alert the imported mentions (default: store only)",
    )
    migrate = (
        "move a TinyDB data folder into the SQLite store (old files kept); "
        "--to postgres|sqlite: copy the SQLite store into PostgreSQL, or back"
    )
    p = add("migrate", help=migrate, description=migrate)
    p.add_argument(
        "--to",
        choices=["postgres", "sqlite"],
        help="copy the SQLite store into PostgreSQL ($dsn_env), or PostgreSQL back into it",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser


def chat_command_hint(argv: Sequence[str], subcommands: Sequence[str]) -> str | None:
    """`python bot.py status` (or `ack A3`, `sources`): a chat command given as the
    program's command. argparse only said "invalid choice: 'status'"; say how to run it."""
    words = list(argv)
    at = 0
    while at < len(words) and words[at].startswith("-"):
        at += 2 if words[at] in VALUED_OPTIONS else 1
    if at >= len(words) or words[at] in subcommands:
        return None
    if COMMANDS.find(command_word(words[at])) is None:
        return None
    line = " ".join(
        w if w.isprintable() and shlex.split(w) == [w] else shlex.quote(w) for w in words[at:]
    )
    return (
        f"`{words[at][:40]}` is a chat command: run it as `python bot.py command {line[:200]}`, "
        "type it into the running bot, or use `python bot.py console`"
    )


def subcommand_names(parser: argparse.ArgumentParser) -> list[str]:
    """The names `bot.py` takes as its command (run, mentions, command, ...)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return list(action.choices)
    return []
