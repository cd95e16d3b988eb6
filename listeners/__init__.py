"""Chat platforms: one notifier (and, where the platform talks back, one listener) each, and
the HTTP endpoint other tools push mentions to (push_endpoint.py).

Notifier builders, permission builders and listener starters register here; what they are
built from (the notifier context, the secrets, the app as a listener sees it) is context.py.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from typing import Any

from core.commands.context import Actor, Permission
from core.config import Config, ConfigError
from core.domain.models import Alert
from core.domain.notifier import Notifier
from listeners.context import ListenerHost, NotifierContext

# destination type -> builder(name, destination config, context) -> Notifier. The config is
# the destination's own section (SlackDestination, ...): each builder declares its type, and
# build_notifier picks the builder by that section's `type`.
NotifierBuilder = Callable[[str, Any, NotifierContext], Notifier]
NOTIFIERS: dict[str, NotifierBuilder] = {}


def notifier_type(kind: str) -> Callable[[NotifierBuilder], NotifierBuilder]:
    def add(builder: NotifierBuilder) -> NotifierBuilder:
        NOTIFIERS[kind] = builder
        return builder

    return add


# Platform modules; importing one registers its notifier builder and listener starter.
PLATFORM_MODULES = [
    "listeners.console",
    "listeners.webhook",
    "listeners.slack",
    "listeners.dingtalk",
    "listeners.push_endpoint",
]

# Listener starters: given the running app, start taking commands from a platform if the
# config and environment ask for it, and return a function that stops it (or None).
ListenerStarter = Callable[[ListenerHost], Callable[[], None] | None]
LISTENERS: list[ListenerStarter] = []


def listener(starter: ListenerStarter) -> ListenerStarter:
    LISTENERS.append(starter)
    return starter


# Permission builders: given the config, who may change alerts from that platform (or None).
# CommandService asks all of them, so every chat path shares one decision.
PermissionBuilder = Callable[[Config], Permission | None]
PERMISSIONS: list[PermissionBuilder] = []


def permission_builder(builder: PermissionBuilder) -> PermissionBuilder:
    PERMISSIONS.append(builder)
    return builder


def build_permission(config: Config) -> Permission:
    """One Permission from every platform's rules: the first refusal wins."""
    load_platforms()
    checks = [p for p in (b(config) for b in PERMISSIONS) if p is not None]

    def check(actor: Actor, alert: Alert) -> str | None:
        return next((why for why in (c(actor, alert) for c in checks) if why), None)

    return check


def load_platforms() -> None:
    for module in PLATFORM_MODULES:
        importlib.import_module(module)


def start_listeners(app: ListenerHost) -> list[Callable[[], None]]:
    if app.dry_run:
        # A dry run changes nothing, so it takes no commands from chat either.
        logging.getLogger("buzzwatch").info("dry run: chat listeners and endpoints not started")
        return []
    load_platforms()
    stops = []
    try:
        for starter in LISTENERS:
            stop = starter(app)
            if stop is not None:
                stops.append(stop)
    except ConfigError:  # e.g. a port in use: none left running half-started
        for stop in stops:
            stop()
        raise
    return stops


def build_notifier(name: str, cfg: Any, context: NotifierContext) -> Notifier:
    load_platforms()
    builder = NOTIFIERS.get(cfg.type)
    if builder is None:
        raise ConfigError(f"destinations.{name}: no notifier for type {cfg.type!r}")
    return builder(name, cfg, context)
