"""Commands are declared once (core/commands): what is derived from the declarations, and
what must agree with them by hand (the Slack config schema and manifest, the help footer)."""

from __future__ import annotations

import pytest
import yaml

from core.commands.context import Actor, CommandContext, Reply
from core.commands.help_text import FOOTER
from core.commands.registry import CommandGroup, Guard, Registry
from core.commands.service import COMMANDS, HELP
from core.config import SlackCommandNames
from tests.conftest import ROOT


def test_every_slash_command_has_a_config_name_and_a_manifest_entry() -> None:
    expected = [f"/{c.name}" for c in COMMANDS.slash_commands()] + ["/buzz"]
    defaults = SlackCommandNames().model_dump()
    assert list(defaults) == [c.name for c in COMMANDS.slash_commands()] + ["buzz"]
    assert list(defaults.values()) == expected
    manifest = yaml.safe_load((ROOT / "listeners/slack/manifest.yaml").read_text())
    assert [c["command"] for c in manifest["features"]["slash_commands"]] == expected


def test_the_help_footer_lists_each_commands_first_chinese_word() -> None:
    words = FOOTER.split("中文:")[1].split()
    firsts = [
        next(a for a in c.aliases if not a.isascii())
        for c in COMMANDS.commands
        if any(not a.isascii() for a in c.aliases)
    ]
    assert sorted(words) == sorted(firsts)


def test_every_command_shows_in_help_or_is_named_there() -> None:
    for command in COMMANDS.commands:
        assert command.help, f"{command.name} has no docstring"
        assert command.help.startswith(command.name)
        for line in command.help.splitlines():
            # a usage line starts with the name; a line continuing it is indented
            assert line.startswith((command.name, " ")), line
        if command.hidden:
            assert f"\n  {command.name}" not in HELP
            assert f"{command.name} <" in HELP  # another entry names it
        else:
            assert command.help.replace("\n", "\n  ") in HELP


def test_a_command_that_can_change_something_says_whose_permission_it_needs() -> None:
    for command in COMMANDS.commands:
        if command.read_only is True:
            assert command.guard is Guard.NONE, command.name
        else:
            assert command.guard is not Guard.NONE, command.name


@pytest.mark.parametrize("word", ["ack", "确认", "?", "search"])
def test_a_word_names_one_command(word: str) -> None:
    group = CommandGroup()

    @group.command(word)
    def twin(ctx: CommandContext, args: list[str], actor: Actor) -> Reply:
        """a second command with a word already taken"""
        return Reply("")

    declared = CommandGroup()
    declared.commands.extend(COMMANDS.commands)
    with pytest.raises(ValueError, match="names both"):
        Registry([declared, group])
