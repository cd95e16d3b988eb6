"""Building the configured sources, each by its registered kind (sources/kinds.py imports
every kind)."""

from __future__ import annotations

import itertools

import sources.kinds  # noqa: F401  (registers every kind)
from core.config import Config
from core.domain.clock import Clock
from sources.base import REGISTRY, Source, SourceContext
from sources.http import Fetcher, host_key
from sources.parsing import uses_pool


def build_sources(config: Config, fetcher: Fetcher, clock: Clock) -> list[Source]:
    """Every enabled source in the config, built by its registered kind."""
    ctx = SourceContext(
        config=config, fetcher=fetcher, clock=clock, parse_in_pool=uses_pool(config)
    )
    built = [REGISTRY[cfg.type](cfg, ctx) for cfg in config.sources if cfg.enabled]
    return interleave_by_host(built)


def interleave_by_host(sources: list[Source]) -> list[Source]:
    """Round-robin over hosts, so a cycle does not queue every source of one (maybe slow)
    host in a row while the workers could be fetching from the others."""
    queues: dict[str, list[Source]] = {}
    for source in sources:
        urls = getattr(source, "urls", None) or [""]
        queues.setdefault(host_key(urls[0]), []).append(source)
    ordered: list[Source] = []
    for round_ in itertools.zip_longest(*queues.values()):
        ordered += [s for s in round_ if s is not None]
    return ordered
