"""What every source kind provides, and the registry that builds them from config."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Protocol

from core.models import Mention


@dataclass
class PollResult:
    mentions: list[Mention] = field(default_factory=list)
    # Whatever the source wants back next time (ETag, Last-Modified, cursors...).
    state: dict[str, Any] = field(default_factory=dict)
    not_modified: bool = False


class Source(Protocol):
    name: str
    every: timedelta

    def poll(self, state: dict[str, Any]) -> PollResult:
        """Fetch new entries. Raises SourceError (or FetchError) with a readable reason."""


class SourceError(Exception):
    pass


Builder = Callable[..., Source]
REGISTRY: dict[str, Builder] = {}


def register(kind: str) -> Callable[[Builder], Builder]:
    def add(builder: Builder) -> Builder:
        REGISTRY[kind] = builder
        return builder

    return add
