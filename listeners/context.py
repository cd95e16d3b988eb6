"""What chat platforms are built from: their secrets, the notifier context, and the running
app as a listener sees it.

Notifier builders get a `NotifierContext`; listener starters get a `ListenerHost` (the app,
through the few things a listener uses of it). Both read secrets through `Secrets` only.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, TextIO

from core.config import Config, ConfigError
from core.domain.clock import Clock

if TYPE_CHECKING:  # types only: httpx is loaded when a notifier is built
    import httpx

    from core.commands.context import Actor, Reply
    from core.domain.models import Mention
    from core.domain.repository import Repository
    from core.intake.pipeline import CycleResult


class Secrets:
    """Secrets by the name of the environment variable the config gives for each (`token_env`,
    `webhook_env`, ...). Read when asked, so a variable set after start-up counts; surrounding
    whitespace (a pasted newline) is not part of a secret."""

    def __init__(self, values: Mapping[str, str] | None = None) -> None:
        """`values`: look secrets up here instead of in the environment (tests)."""
        self._values: Mapping[str, str] = os.environ if values is None else values

    def __repr__(self) -> str:  # never show a value
        return "Secrets(...)"

    def get(self, name: str) -> str | None:
        """The secret in variable `name`, or None when it is not set (or blank)."""
        value = (self._values.get(name) or "").strip()
        return value or None

    def require(self, name: str, what: str) -> str:
        """The secret in variable `name`, or a ConfigError saying which setting needs it."""
        value = self.get(name)
        if value is None:
            raise ConfigError(f"{what}: environment variable {name} is not set")
        return value


@dataclass(frozen=True)
class NotifierContext:
    """Everything a notifier builder may use besides its destination's own config."""

    config: Config
    clock: Clock
    secrets: Secrets = field(default_factory=Secrets)
    stdout: TextIO | None = None  # the console's stream (None: sys.stdout)
    # Render only: nothing is sent, so no secret is needed (a platform that needs one for
    # rendering uses a placeholder).
    dry_run: bool = False
    slack_api_url: str | None = None  # the Slack Web API's base URL (GovSlack, a proxy, tests)
    dingtalk_http: httpx.Client | None = None  # the HTTP client DingTalk robots post with


class CommandRunner(Protocol):
    """The chat-neutral command layer (core.commands.CommandService)."""

    def run(self, text: str, actor: Actor) -> Reply: ...


class MentionIntake(Protocol):
    """The pipeline that stores mentions and makes their alerts (core.intake.pipeline)."""

    def process(self, source: str, mentions: list[Mention]) -> CycleResult: ...


class DeliveryWorker(Protocol):
    """The outbox worker: `kick()` sends what is due now, in the worker's thread."""

    def kick(self) -> None: ...


class ListenerHost(Protocol):
    """What a listener starter and the listeners it starts use of the running app."""

    # Read-only: a listener never replaces any of these.
    @property
    def config(self) -> Config: ...
    @property
    def clock(self) -> Clock: ...
    @property
    def dry_run(self) -> bool: ...
    @property
    def context(self) -> NotifierContext: ...
    @property
    def repo(self) -> Repository: ...
    @property
    def commands(self) -> CommandRunner: ...
    @property
    def pipeline(self) -> MentionIntake: ...
    @property
    def deliverer(self) -> DeliveryWorker: ...
