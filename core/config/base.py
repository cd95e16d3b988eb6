"""The configuration's building blocks: the error it raises and the shared field types."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer

from core.domain.durations import format_duration, parse_duration

REPO_ROOT = Path(__file__).resolve().parent.parent.parent
BUNDLED_CONFIG = REPO_ROOT / "examples" / "config.yaml"

Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str),
]


class ConfigError(Exception):
    """A configuration problem, worded for the person who wrote the file."""


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


# The name of an environment variable (the file names variables, never holds secrets).
ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"


# A path segment or id that goes into a URL as-is: no slashes, no dot-dot, no query.
def _not_dots(value: str) -> str:
    if value in (".", ".."):
        raise ValueError(f"{value!r} is not an id")
    return value


SafeId = Annotated[
    str,
    Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_.=@+\-]+$"),
    AfterValidator(_not_dots),
]
