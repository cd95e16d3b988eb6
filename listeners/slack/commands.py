"""Slash commands: one for each command declared `slash=True` in core/commands (/mentions,
/ack, /assign, /resolve) and /buzz for any command line; names from the config.

Each handler calls ack() first, so Slack hears back within its 3 seconds whatever the
command costs; the answer follows through respond() (the command's response_url).
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable
from typing import Any

from slack_bolt import App

from core.commands.context import Reply
from core.commands.parsing import MAX_COMMAND_CHARS
from core.commands.service import COMMANDS
from listeners.slack import blocks as bk
from listeners.slack.services import SlackServices

# Slack sends a picked person as <@U123|name> (or <@U123>) when the command escapes them.
ASSIGN_WORDS = COMMANDS.words_for("assign")
# The slash command that takes any command line: `/buzz status`.
ANY_COMMAND = "buzz"
USER_MENTION = re.compile(r"^<@([UW][A-Z0-9]+)(?:\|([^>]*))?>$")


def answer(respond: Any, reply: Reply, query_text: str = "", replace: bool = False) -> None:
    """A command's reply, only to the person who asked."""
    if reply.query is not None and reply.ok:
        more = (
            bk.more_value(query_text, reply.next_offset) if reply.next_offset is not None else None
        )
        respond(
            text=bk.fallback(reply.text),
            blocks=bk.mentions_blocks(reply.text, reply.mentions, more),
            response_type="ephemeral",
            replace_original=replace,
        )
        return
    respond(
        text=bk.fallback(reply.text),
        blocks=bk.reply_blocks(reply.text),
        response_type="ephemeral",
        replace_original=replace,
    )


def run(services: SlackServices, text: str, body: dict[str, Any], respond: Any) -> Reply:
    actor = services.actor(str(body.get("user_id", "")), str(body.get("user_name", "")))
    reply = services.commands.run(text, actor)
    words = text.split(None, 1)
    query_text = words[1] if len(words) > 1 and reply.query is not None else ""
    answer(respond, reply, query_text)
    if reply.changed:
        services.deliver_now()
    return reply


def person_from(services: SlackServices, word: str) -> str:
    """A Slack mention becomes the person's name; anything else is taken as written."""
    m = USER_MENTION.match(word)
    if m:
        return services.directory.name(m.group(1), fallback=m.group(2) or "")
    return word.lstrip("@")


def assign_text(services: SlackServices, args: str) -> str:
    """`assign <id> <person>` with a Slack mention turned into the person's name."""
    words = args.split()
    if len(words) >= 2 and len(args) <= MAX_COMMAND_CHARS:
        person = " ".join(person_from(services, w) for w in words[1:])
        return "assign " + shlex.join([words[0], person])
    return "assign " + args


def register(app: App, services: SlackServices) -> None:
    names = services.names.model_dump()  # slash command names, renamable in the config

    def slash(command: str) -> Callable[[Any, dict[str, Any], Any], None]:
        """The handler of a command's own slash command: `/ack A12` runs `ack A12`."""

        def handle(ack: Any, body: dict[str, Any], respond: Any) -> None:
            ack()
            text = str(body.get("text", ""))
            line = assign_text(services, text) if command == "assign" else f"{command} {text}"
            run(services, line, body, respond)

        return handle

    def buzz(ack: Any, body: dict[str, Any], respond: Any) -> None:
        ack()
        text = str(body.get("text", ""))
        verb, _, rest = text.strip().partition(" ")
        if verb.lower() in ASSIGN_WORDS:
            text = assign_text(services, rest)
        run(services, text, body, respond)

    for command in COMMANDS.slash_commands():
        app.command(names[command.name])(slash(command.name))
    app.command(names[ANY_COMMAND])(buzz)
