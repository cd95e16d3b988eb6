"""Every source kind, imported for what it registers: its config section (with core.config,
so a config can name it) and its builder (sources.base.REGISTRY). Import this module
before reading a config; adding a kind is a module of its own, imported here."""

import sources.presets
import sources.rss  # noqa: F401  ("rss"; registered first, the presets import it)
