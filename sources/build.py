"""Building the configured sources: every kind registers itself when its module is imported
(sources.rss, sources.presets), and `build_sources` imports them all first."""

from __future__ import annotations

import itertools

# Imported for what they register: the preset kinds and "rss".
import sources.presets
import sources.rss  # noqa: F401
from core.config import Config
from core.domain.clock import Clock
from sources.base import REGISTRY, Source, SourceContext
from sources.http import Fetcher, host_key


def build_sources(config: Config, fetcher: Fetcher, clock: Clock) -> list[Source]:
    """Every enabled source in the config, built by its registered kind."""
    ctx = SourceContext(config=config, fetcher=fetcher, clock=clock)
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
