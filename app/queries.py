"""What a read-only command needs, and nothing more: `python bot.py mentions ...` and
`python bot.py command status` build this, not the whole Buzzwatch (no sources, analyser,
pipeline, HTTP client or chat SDKs), so they start in a fraction of the time."""

from __future__ import annotations

from datetime import UTC

from core.alerting.lifecycle import AlertService
from core.alerting.views import set_display_timezone
from core.commands.context import Actor, Permission, Reply
from core.commands.service import CommandService
from core.config import Config
from core.domain.clock import Clock, SystemClock
from core.domain.models import Alert
from core.domain.repository import Repository
from storage.factory import effective_backend, open_repository


def open_store(
    config: Config, clock: Clock, *, read_only: bool, start_empty: bool = False
) -> tuple[str, Repository]:
    """The backend the config asks for, and its repository opened."""
    backend = effective_backend(config.storage, config.data_dir)
    repo = open_repository(
        backend,
        config.data_dir,
        clock=clock,
        read_only=read_only,
        start_empty=start_empty,
        dsn_env=config.storage.dsn_env,
    )
    return backend, repo


def chat_permission(config: Config) -> Permission:
    """Every chat platform's rules on who may change alerts (listeners.build_permission),
    loaded when a command first asks: a command that changes no alert never imports the
    chat platforms (their SDKs take most of a second)."""
    built: list[Permission] = []

    def check(actor: Actor, alert: Alert) -> str | None:
        if not built:
            from listeners import build_permission

            built.append(build_permission(config))
        return built[0](actor, alert)

    return check


class QueryApp:
    """The config, the repository opened read-only (no lock on the data folder, so it works
    next to a running bot) and the command service. For commands that change nothing
    (`core.commands.service.is_read_only`); the others need a Buzzwatch (delivery)."""

    dry_run = False  # nothing it runs can change stored state

    def __init__(
        self, config: Config, *, clock: Clock | None = None, start_empty: bool = False
    ) -> None:
        self.config = config
        set_display_timezone(config.tz)
        self.clock = clock or SystemClock()
        self.backend, self.repo = open_store(
            config, self.clock, read_only=True, start_empty=start_empty
        )
        self.alerts = AlertService(self.repo, self.clock)
        self.commands = CommandService(
            config, self.repo, self.alerts, self.clock, permission=chat_permission(config)
        )

    def run_command(self, text: str, actor: Actor | None = None) -> Reply:
        return self.commands.run(
            text, actor or Actor(id="local", name="console", platform="console")
        )

    def deliver_now(self) -> None:
        """Nothing to deliver: a read-only command queues nothing."""

    def close(self) -> None:
        self.repo.close()
        set_display_timezone(UTC)
