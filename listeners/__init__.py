"""Chat platforms: one notifier (and, where the platform talks back, one listener) each."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from core.config import ConfigError
from core.notify import Notifier

# destination type -> builder(name, destination config, context) -> Notifier
NotifierBuilder = Callable[[str, Any, dict[str, Any]], Notifier]
NOTIFIERS: dict[str, NotifierBuilder] = {}


def notifier_type(kind: str) -> Callable[[NotifierBuilder], NotifierBuilder]:
    def add(builder: NotifierBuilder) -> NotifierBuilder:
        NOTIFIERS[kind] = builder
        return builder

    return add


# Platform modules; importing one registers its notifier builder and listener starter.
PLATFORM_MODULES = ["listeners.console"]

# Listener starters: given the running app, start taking commands from a platform if the
# config and environment ask for it, and return a function that stops it (or None).
ListenerStarter = Callable[[Any], Callable[[], None] | None]
LISTENERS: list[ListenerStarter] = []


def listener(starter: ListenerStarter) -> ListenerStarter:
    LISTENERS.append(starter)
    return starter


def load_platforms() -> None:
    for module in PLATFORM_MODULES:
        importlib.import_module(module)


def start_listeners(app: Any) -> list[Callable[[], None]]:
    load_platforms()
    stops = []
    for starter in LISTENERS:
        stop = starter(app)
        if stop is not None:
            stops.append(stop)
    return stops


def build_notifier(name: str, cfg: Any, context: dict[str, Any]) -> Notifier:
    load_platforms()
    builder = NOTIFIERS.get(cfg.type)
    if builder is None:
        raise ConfigError(f"destinations.{name}: no notifier for type {cfg.type!r}")
    return builder(name, cfg, context)
