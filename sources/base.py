"""What every source kind provides, and the registry that builds them from config."""

from __future__ import annotations

import itertools
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
    # Entries the answer(s) had beyond what is read per answer (sources.rss.MAX_ENTRIES).
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


# builder(source config section, context) -> Source
Builder = Callable[[Any, SourceContext], Source]
REGISTRY: dict[str, Builder] = {}


def register(kind: str) -> Callable[[Builder], Builder]:
    def add(builder: Builder) -> Builder:
        REGISTRY[kind] = builder
        return builder

    return add


def build_sources(config: Config, fetcher: Fetcher, clock: Clock) -> list[Source]:
    """Every enabled source in the config, built by its registered kind."""
    import sources.presets  # noqa: F401  (registers every kind)

    ctx = SourceContext(config=config, fetcher=fetcher, clock=clock)
    built = [REGISTRY[cfg.type](cfg, ctx) for cfg in config.sources if cfg.enabled]
    return interleave_by_host(built)


def interleave_by_host(sources: list[Source]) -> list[Source]:
    """Round-robin over hosts, so a cycle does not queue every source of one (maybe slow)
    host in a row while the workers could be fetching from the others."""
    from sources.http import host_key

    queues: dict[str, list[Source]] = {}
    for source in sources:
        urls = getattr(source, "urls", None) or [""]
        queues.setdefault(host_key(urls[0]), []).append(source)
    ordered: list[Source] = []
    for round_ in itertools.zip_longest(*queues.values()):
        ordered += [s for s in round_ if s is not None]
    return ordered


def metric_count(value: Any) -> int | None:
    """An engagement figure from a source's JSON, or None when it is not a sane count."""
    return (
        value
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 10**12
        else None
    )
