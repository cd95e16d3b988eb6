"""What a command handler gets (who asked, the services it may use) and gives back."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from core.alerting.lifecycle import ActionResult, AlertService, Allowed
from core.config import Config
from core.domain.clock import Clock
from core.domain.models import Alert
from core.domain.query import MentionQuery
from core.domain.repository import Repository
from rules.text import clean_name


@dataclass
class Actor:
    """Who typed the command, and from where."""

    id: str
    name: str
    platform: str  # console | slack | dingtalk
    groups: tuple[str, ...] = ()  # groups the platform says this person is in (Slack: S…)

    @property
    def label(self) -> str:
        return clean_name(self.name or self.id) or "someone"


@dataclass
class Reply:
    text: str
    ok: bool = True
    mentions: list[dict[str, Any]] = field(default_factory=list)
    total: int = 0
    query: MentionQuery | None = None
    next_offset: int | None = None
    alert: Alert | None = None
    changed: bool = False


@dataclass(frozen=True)
class AlertChange:
    """What an alert command asks for, once its arguments are read: the change to make to
    one alert, given the check (registry.alert_command: may the actor change it?) that the
    change runs on the alert it reads, so an ack reads the alert once."""

    alert_id: str
    make: Callable[[Allowed], ActionResult]


class UsageError(ValueError):
    """A command line the command cannot read: the reply says so and points to `help`."""


# Who may change an alert: (actor, alert) -> None to allow, or a refusal to show.
Permission = Callable[[Actor, Alert], str | None]


def allow_everyone(actor: Actor, alert: Alert) -> str | None:
    return None


@dataclass(frozen=True)
class CommandContext:
    """The services a command handler may use, as the CommandService holds them now."""

    config: Config
    repo: Repository
    alerts: AlertService
    clock: Clock
    permission: Permission
    help_text: str
