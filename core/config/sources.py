"""The `sources` section (what every source has, and the hook each source kind registers
its own section with), and how sources are fetched."""

from __future__ import annotations

from datetime import timedelta
from functools import cache
from typing import Annotated, Any, TypeVar, Union, get_args

from pydantic import BeforeValidator, Field, SerializeAsAny, TypeAdapter, field_validator

from core.config.base import Duration, Strict


class SourceSection(Strict):
    """What every entry of `sources` has. Each source kind declares its own section, a
    subclass with `type: Literal["<kind>"]` and its fields, beside its code in sources/, and
    registers it with `source_section` (sources/kinds.py imports every kind)."""

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.\-]+$")
    every: Duration = timedelta(minutes=5)
    enabled: bool = True
    type: str

    @field_validator("every")
    @classmethod
    def _not_too_often(cls, every: timedelta) -> timedelta:
        if every < timedelta(seconds=10):
            raise ValueError("poll at most every 10s")
        return every


# kind ("rss", "google_news", ...) -> its section, in the order the kinds registered
SOURCE_SECTIONS: dict[str, type[SourceSection]] = {}

Section = TypeVar("Section", bound=SourceSection)


def source_section(section: type[Section]) -> type[Section]:
    """Register a source kind's config section (a class decorator); its kind is the one
    value its `type` field allows."""
    (kind,) = get_args(section.model_fields["type"].annotation)
    SOURCE_SECTIONS[kind] = section
    _sections_adapter.cache_clear()
    return section


def source_section_union() -> Any:
    """Every registered section as one union, told apart by `type`."""
    members = tuple(SOURCE_SECTIONS.values())
    if not members:
        raise RuntimeError("no source kinds registered: import sources.kinds first")
    union = members[0] if len(members) == 1 else Union[members]  # noqa: UP007
    return Annotated[union, Field(discriminator="type")]


@cache
def _sections_adapter() -> TypeAdapter[list[SourceSection]]:
    return TypeAdapter(list[source_section_union()])  # type: ignore[misc]


def _typed_sections(value: Any) -> Any:
    """The `sources` list validated by each entry's registered section: its errors keep
    their place (sources[1].url), as if the union had been written into Config."""
    return _sections_adapter().validate_python(value) if value else value


# Config's `sources`: serialized as the sections they are, not as the base.
SourceSections = Annotated[list[SerializeAsAny[SourceSection]], BeforeValidator(_typed_sections)]


class RsshubConfig(Strict):
    """Where RSSHub routes are fetched from: the public instance or your own."""

    base_url: str = "https://rsshub.app"

    @field_validator("base_url")
    @classmethod
    def _http_base(cls, url: str) -> str:
        if not url.lower().startswith(("http://", "https://")):
            raise ValueError(f"base_url must start with http:// or https://, got {url!r}")
        return url.rstrip("/")


class HealthConfig(Strict):
    """After `failures` failed polls in a row, one alert to `to`; one more when it recovers."""

    failures: int = Field(default=3, ge=1, le=1000)
    to: list[str] = []


class InboundConfig(Strict):
    """An HTTP endpoint where other tools POST mentions (listeners/push_endpoint.py; the schema in core/intake/mention_schema.py)."""

    host: str = "127.0.0.1"
    port: int = Field(default=8788, ge=0, le=65535)
    path: str = Field(default="/mentions", pattern=r"^/[A-Za-z0-9_\-/]*$")
    token_env: str = "BUZZWATCH_INBOUND_TOKEN"
    max_bytes: int = Field(default=1_000_000, ge=1024, le=50_000_000)
    max_mentions: int = Field(default=500, ge=1, le=10_000)
    source: str = Field(default="inbound", pattern=r"^[A-Za-z0-9_.\-]+$")


class FetchConfig(Strict):
    connect_timeout: Duration = timedelta(seconds=5)
    read_timeout: Duration = timedelta(seconds=10)
    deadline: Duration = timedelta(seconds=20)
    max_bytes: int = Field(default=5_000_000, ge=1024)
    user_agent: str = "Buzzwatch/0.1 (+https://github.com/buzzwatch/buzzwatch)"
    # Hosts (names, addresses or networks like 10.0.0.0/8) that may be fetched although they
    # are loopback, private or link-local. Nothing else internal is ever fetched.
    allow_hosts: list[str] = []
    per_host: int = Field(default=4, ge=1, le=64)  # requests at once to one host
    workers: int = Field(default=16, ge=1, le=256)  # sources polled at once
