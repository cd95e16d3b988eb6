"""`help`, and the help text built from every command's declaration."""

from __future__ import annotations

from collections.abc import Iterable

from core.commands.context import Actor, CommandContext, Reply
from core.commands.registry import Command, CommandGroup

HEADER = "Buzzwatch commands:"
# The first Chinese alias of each command that has one, in the order users learned them
# (tests/core/test_command_registry.py checks it against the declarations).
FOOTER = "Alert ids look like A12. 中文: 查询 确认 指派 解决 暂停 状态 静默 日报 统计 帮助"

commands = CommandGroup()


@commands.command("help", aliases=("帮助", "?"), read_only=True)
def help_command(ctx: CommandContext, args: list[str], actor: Actor) -> Reply:
    """help                     this text"""
    return Reply(ctx.help_text)


def render_help(declared: Iterable[Command]) -> str:
    """The header, each shown command's docstring lines indented by two, the footer."""
    lines = [HEADER]
    for command in declared:
        if not command.hidden:
            lines.extend(f"  {line}" for line in command.help.splitlines())
    lines.append(FOOTER)
    return "\n".join(lines)
