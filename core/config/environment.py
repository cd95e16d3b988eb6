"""The environment variables the config names: secrets, and what check-config warns about."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from core.config.schema import Config


def config_warnings(config: Config) -> list[str]:
    """What will not work as configured, though the file is valid: for check-config."""
    unused = unused_env_names(config)
    warnings = [
        f"environment variable {name} is not set (the config names it)"
        for name in sorted(env_names(config) - unused)
        if not os.environ.get(name)
    ]
    for s in config.sources:
        path = getattr(s, "path", None)
        if path is not None and not Path(path).exists():
            warnings.append(
                f"source {s.name}: {path} does not exist (relative paths start from {Path.cwd()})"
            )
    return warnings


def unused_env_names(config: Config) -> set[str]:
    """Variables named only by parts of the config that are switched off (their defaults
    are always there): not worth a warning."""
    names: set[str] = set()
    if config.slack is not None:
        off = "signing_secret_env" if config.slack.mode == "socket" else "app_token_env"
        names.add(getattr(config.slack, off))
    if config.dingtalk is not None:
        d = config.dingtalk
        if not d.stream.enabled:
            names |= env_names(d.stream)
        if not d.callback.enabled:
            names |= env_names(d.callback)
        if not d.public_base_url:
            names.add(d.ack_secret_env)
    if config.storage.backend != "postgres":
        names.add(config.storage.dsn_env)
    # ...unless another, active part names the same variable
    return names - (env_names(config.destinations) | _active_section_names(config))


def _active_section_names(config: Config) -> set[str]:
    names: set[str] = set()
    if config.slack is not None:
        on = "app_token_env" if config.slack.mode == "socket" else "signing_secret_env"
        names |= {config.slack.bot_token_env, getattr(config.slack, on)}
    if config.dingtalk is not None:
        d = config.dingtalk
        if d.stream.enabled:
            names |= env_names(d.stream)
        if d.callback.enabled:
            names |= env_names(d.callback)
        if d.public_base_url:
            names.add(d.ack_secret_env)
    return names


def env_names(model: Any) -> set[str]:
    """Every environment variable the config names (fields ending in `_env`)."""
    names: set[str] = set()
    if isinstance(model, BaseModel):
        for key in type(model).model_fields:
            value = getattr(model, key)
            if key.endswith("_env") and isinstance(value, str) and value:
                names.add(value)
            else:
                names |= env_names(value)
    elif isinstance(model, dict):
        for value in model.values():
            names |= env_names(value)
    elif isinstance(model, list | tuple):
        for value in model:
            names |= env_names(value)
    return names
