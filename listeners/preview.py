"""Dry-run previews of a message on every chat platform, configured or not.

`python bot.py digest --dry-run` shows what each of the digest's destinations would receive
and, for a platform that has no destination in the config, what it would receive if it had
one (rendered by that platform's own notifier, with a placeholder channel).
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any, TextIO

from pydantic import TypeAdapter

from core.config import Config, DestinationConfig
from core.domain.notifier import Notifier
from listeners import NOTIFIERS, build_notifier, load_platforms
from listeners.console import DryRunNotifier
from listeners.context import NotifierContext

log = logging.getLogger("buzzwatch.preview")

# Placeholder destinations: only rendering happens, nothing is sent and no secret is read.
PLACEHOLDERS: dict[str, dict[str, Any]] = {
    "slack": {"type": "slack", "channel": "C0PREVIEW"},
    "dingtalk": {"type": "dingtalk", "webhook_env": "DINGTALK_PREVIEW_WEBHOOK"},
}


def preview_notifiers(
    config: Config,
    destinations: list[str],
    context: NotifierContext,
    stream: TextIO | None,
    platforms: tuple[str, ...] = ("slack", "dingtalk"),
) -> tuple[dict[str, Notifier], list[str]]:
    """Dry-run notifiers for `destinations` plus one placeholder per platform in `platforms`
    that none of them covers; and notes on any platform that could not be previewed."""
    load_platforms()
    ctx = dataclasses.replace(context, dry_run=True)
    out: dict[str, Notifier] = {}
    for name in destinations:
        out[name] = DryRunNotifier(
            build_notifier(name, config.destinations[name], ctx), name, stream
        )
    covered = {config.destinations[n].type for n in destinations}
    notes: list[str] = []
    for platform in platforms:
        if platform in covered:
            continue
        if platform not in NOTIFIERS or platform not in PLACEHOLDERS:
            notes.append(f"{platform}: no notifier installed, not previewed")
            continue
        name = f"preview-{platform}"
        try:
            cfg: Any = TypeAdapter(DestinationConfig).validate_python(PLACEHOLDERS[platform])
            out[name] = DryRunNotifier(build_notifier(name, cfg, ctx), name, stream)
        except Exception as err:  # a preview is never worth a crash
            notes.append(f"{platform}: not previewed ({type(err).__name__}: {err})")
    return out, notes
