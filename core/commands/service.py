"""Running one command line: `CommandService.run(text, actor)` for every chat."""

from __future__ import annotations

from core.alerting.lifecycle import AlertService
from core.commands.alerts import commands as alert_commands
from core.commands.context import (
    Actor,
    CommandContext,
    Permission,
    Reply,
    UsageError,
    allow_everyone,
)
from core.commands.dead_letters import commands as dead_letter_commands
from core.commands.help_text import commands as help_commands
from core.commands.help_text import render_help
from core.commands.parsing import MAX_COMMAND_CHARS, command_word, tokenize
from core.commands.registry import Registry
from core.commands.reports import commands as report_commands
from core.commands.search import commands as search_commands
from core.commands.silences import commands as silence_commands
from core.commands.status import commands as status_commands
from core.config import Config
from core.domain.clock import Clock
from core.domain.repository import Repository

# Every command, in the order `help` lists them.
COMMANDS = Registry(
    [
        search_commands,
        alert_commands,
        status_commands,
        dead_letter_commands,
        report_commands,
        silence_commands,
        help_commands,
    ]
)
HELP = render_help(COMMANDS.commands)


def is_read_only(text: str) -> bool:
    """Whether this command line can change nothing: a read-only command, `silence` with no
    arguments (the list), or a line `CommandService.run` only answers with an error (too long,
    an unknown command)."""
    text = (text or "").strip()
    if len(text) > MAX_COMMAND_CHARS:
        return True
    words = tokenize(text)
    if not words:
        return True  # the help text
    command = COMMANDS.find(command_word(words[0]))
    return command is None or command.only_reads(words[1:])


class CommandService:
    def __init__(
        self,
        config: Config,
        repo: Repository,
        alerts: AlertService,
        clock: Clock,
        permission: Permission = allow_everyone,
    ) -> None:
        self.config = config
        self.repo = repo
        self.alerts = alerts
        self.clock = clock
        self.permission = permission

    def run(self, text: str, actor: Actor) -> Reply:
        text = (text or "").strip()
        if len(text) > MAX_COMMAND_CHARS:
            return Reply(
                f"That command is too long ({len(text)} characters, at most {MAX_COMMAND_CHARS}).",
                ok=False,
            )
        words = tokenize(text)
        if not words:
            return Reply(HELP)
        command = COMMANDS.find(command_word(words[0]))
        if command is None:
            return Reply(f"Unknown command {words[0][:40]!r}. Type `help` for the list.", ok=False)
        # Built for each line: the permission may be swapped on a running service.
        context = CommandContext(
            self.config, self.repo, self.alerts, self.clock, self.permission, HELP
        )
        try:
            return command.run(context, words[1:], actor)
        except UsageError as err:
            return Reply(f"{err}. Type `help` for usage.", ok=False)
