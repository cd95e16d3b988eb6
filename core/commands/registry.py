"""A command, declared once: its name, aliases, help, whether it only reads, who may run it.

Each module of commands keeps a `CommandGroup` and declares its handlers with it:

    commands = CommandGroup()

    @commands.command("status", aliases=("状态",), read_only=True)
    def status(ctx: CommandContext, args: list[str], actor: Actor) -> Reply:
        \"""status                   open alerts and the delivery queue\"""

The handler's docstring is its entry in `help`, line for line (each shown indented by two
spaces; indent a line further to continue the one above). A command that changes one alert
uses `alert_command`: the handler reads its arguments and returns an AlertChange, which is
made only if the actor may change that alert. `service.COMMANDS` puts the groups together
in the order `help` lists them.

Adding a command is one declaration, plus, only if it has them: its first Chinese alias in
help_text.FOOTER (the footer keeps its own order), and for `slash=True` a field in
core.config.SlackCommandNames and an entry in listeners/slack/manifest.yaml (the config
sits below this layer and cannot read the declarations). tests/core/test_command_registry.py
checks all three against the declarations.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import Enum

from core.commands.context import Actor, AlertChange, CommandContext, Reply

Handler = Callable[[CommandContext, list[str], Actor], Reply]
AlertHandler = Callable[[CommandContext, list[str], Actor], AlertChange]
# Whether a command line with these arguments only reads (`silence` alone lists silences).
ReadOnly = bool | Callable[[list[str]], bool]


class Guard(Enum):
    """Whose permission a command needs (CommandService's `permission`)."""

    NONE = "none"  # it changes nothing that is guarded
    # The right to change the alert its first argument names: checked before the change is
    # made, once the arguments are read (`alert_command`).
    ALERT = "alert"
    # The right to change every alert the silence holds back: a brand's, or for a source or
    # a route every brand's. The handler checks it once it knows what is silenced.
    SILENCED_BRANDS = "silenced brands"
    # The right to change every brand's alerts (dead letters may hold any brand's): checked
    # by the handler before it changes anything.
    EVERY_BRAND = "every brand"


@dataclass(frozen=True)
class Command:
    name: str
    run: Handler
    help: str  # the handler's docstring: its lines in `help`
    aliases: tuple[str, ...] = ()  # other words for it (Chinese ones for DingTalk users)
    read_only: ReadOnly = False
    guard: Guard = Guard.NONE
    slash: bool = False  # a Slack slash command of its own (/name); any command is `/buzz name`
    hidden: bool = False  # left out of `help` (another entry names it)

    @property
    def words(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)

    def only_reads(self, args: list[str]) -> bool:
        return self.read_only(args) if callable(self.read_only) else self.read_only


def no_arguments(args: list[str]) -> bool:
    """`read_only` for a command that only lists when it is given no arguments."""
    return not args


def help_lines(handler: Callable[..., object]) -> str:
    return inspect.cleandoc(handler.__doc__ or "")


class CommandGroup:
    """The commands one module declares, in the order it declares them."""

    def __init__(self) -> None:
        self.commands: list[Command] = []

    def command(
        self,
        name: str,
        *,
        aliases: tuple[str, ...] = (),
        read_only: ReadOnly = False,
        guard: Guard = Guard.NONE,
        slash: bool = False,
        hidden: bool = False,
    ) -> Callable[[Handler], Handler]:
        def declare(handler: Handler) -> Handler:
            self.commands.append(
                Command(
                    name,
                    handler,
                    help_lines(handler),
                    aliases=aliases,
                    read_only=read_only,
                    guard=guard,
                    slash=slash,
                    hidden=hidden,
                )
            )
            return handler

        return declare

    def alert_command(
        self, name: str, *, aliases: tuple[str, ...] = (), slash: bool = False
    ) -> Callable[[AlertHandler], AlertHandler]:
        """A command that changes one alert: the handler reads its arguments and says what to
        change; the change is made only if that alert exists and the actor may change it."""

        def declare(handler: AlertHandler) -> AlertHandler:
            def guarded(ctx: CommandContext, args: list[str], actor: Actor) -> Reply:
                change = handler(ctx, args, actor)
                # The permission is checked on the alert the change reads (one read: each
                # database call of an ack waits again under load, issue 16).
                result = change.make(lambda alert: ctx.permission(actor, alert))
                if not result.found:
                    return Reply(
                        f"No alert {change.alert_id}. `status` lists the open ones.", ok=False
                    )
                return Reply(result.text, ok=result.ok, alert=result.alert, changed=result.changed)

            self.commands.append(
                Command(
                    name,
                    guarded,
                    help_lines(handler),
                    aliases=aliases,
                    guard=Guard.ALERT,
                    slash=slash,
                )
            )
            return handler

        return declare


class Registry:
    """Every command, in `help` order, found by any of its words."""

    def __init__(self, groups: Iterable[CommandGroup]) -> None:
        self.commands = tuple(command for group in groups for command in group.commands)
        self._by_word: dict[str, Command] = {}
        for command in self.commands:
            for word in command.words:
                if word in self._by_word:
                    raise ValueError(
                        f"{word!r} names both {self._by_word[word].name} and {command.name}"
                    )
                self._by_word[word] = command

    def find(self, word: str) -> Command | None:
        """The command a (lower-case, slash-stripped) word names, if any."""
        return self._by_word.get(word)

    def words_for(self, name: str) -> frozenset[str]:
        """Every word that runs this command: its name and its aliases."""
        command = self._by_word[name]
        return frozenset(command.words)

    def slash_commands(self) -> tuple[Command, ...]:
        return tuple(command for command in self.commands if command.slash)
