"""The slash command names the Slack app answers to (also written in its manifest)."""

from __future__ import annotations

from pydantic import Field

from core.config.base import Strict


class SlackCommandNames(Strict):
    """Slack slash command names, renamable: one field (default `/name`) for each command
    declared with `slash=True` in core/commands, and `buzz`, which takes any command line.
    The config sits below core/commands (it cannot import the declarations), so
    tests/core/test_command_registry.py checks these fields and the Slack manifest against
    them."""

    mentions: str = Field(default="/mentions", pattern=r"^/[a-z0-9_\-]{1,31}$")
    ack: str = Field(default="/ack", pattern=r"^/[a-z0-9_\-]{1,31}$")
    assign: str = Field(default="/assign", pattern=r"^/[a-z0-9_\-]{1,31}$")
    resolve: str = Field(default="/resolve", pattern=r"^/[a-z0-9_\-]{1,31}$")
    buzz: str = Field(default="/buzz", pattern=r"^/[a-z0-9_\-]{1,31}$")
