"""Chat platforms: one notifier (and, where the platform talks back, one listener) each."""

from __future__ import annotations

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


def build_notifier(name: str, cfg: Any, context: dict[str, Any]) -> Notifier:
    # Importing the platform modules registers their builders.
    from listeners import console  # noqa: F401

    builder = NOTIFIERS.get(cfg.type)
    if builder is None:
        raise ConfigError(f"destinations.{name}: no notifier for type {cfg.type!r}")
    return builder(name, cfg, context)
