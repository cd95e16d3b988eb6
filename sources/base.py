"""What every source kind provides, and the registry of kinds (sources/build.py builds the
configured sources from it)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Protocol

from core.domain.clock import Clock
from core.domain.models import Mention

if TYPE_CHECKING:
    from core.config import Config
    from sources.http import Fetcher


@dataclass
class PollResult:
    mentions: list[Mention] = field(default_factory=list)
    # Whatever the source wants back next time (ETag, Last-Modified, cursors...).
    state: dict[str, Any] = field(default_factory=dict)
    not_modified: bool = False
    # Entries the answer(s) had beyond what is read per answer (sources.records.MAX_ENTRIES).
    cut: int = 0


class Source(Protocol):
    name: str
    every: timedelta

    def poll(self, state: dict[str, Any]) -> PollResult:
        """Fetch new entries. Raises SourceError (or FetchError) with a readable reason."""


class SourceError(Exception):
    pass


@dataclass
class SourceContext:
    """What every source builder gets besides its own config section."""

    config: Config
    fetcher: Fetcher
    clock: Clock
    # Parse fetched answers in worker processes (sources/parsing.py): many feeds.
    parse_in_pool: bool = False


# builder(source config section, context) -> Source
Builder = Callable[[Any, SourceContext], Source]
REGISTRY: dict[str, Builder] = {}


def register(kind: str) -> Callable[[Builder], Builder]:
    def add(builder: Builder) -> Builder:
        REGISTRY[kind] = builder
        return builder

    return add
