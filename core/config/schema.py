"""The whole configuration file: every section, and the checks that span sections."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator

from core.config.analysis import AnalysisConfig, BrandConfig, KolConfig, RulesConfig
from core.config.base import Strict
from core.config.chat import DingTalkConfig, SlackConfig
from core.config.reports import DigestConfig, StormConfig
from core.config.routing import DestinationConfig, GroupingConfig, RouteConfig
from core.config.service import ServiceConfig, StorageConfig
from core.config.sources import (
    FetchConfig,
    HealthConfig,
    InboundConfig,
    RsshubConfig,
    SourceSections,
)


class Config(Strict):
    data_dir: Path = Path("./data")
    storage: StorageConfig = StorageConfig()
    service: ServiceConfig = ServiceConfig()
    timezone: str = "UTC"
    brands: list[BrandConfig] = Field(min_length=1)
    kols: list[KolConfig] = []
    rules: RulesConfig = RulesConfig()
    analysis: AnalysisConfig = AnalysisConfig()
    fetch: FetchConfig = FetchConfig()
    sources: SourceSections = []
    destinations: dict[str, DestinationConfig] = {}
    routes: list[RouteConfig] = []
    digest: DigestConfig = DigestConfig()
    storms: StormConfig = StormConfig()
    grouping: GroupingConfig = GroupingConfig()
    slack: SlackConfig | None = None
    dingtalk: DingTalkConfig | None = None
    rsshub: RsshubConfig = RsshubConfig()
    health: HealthConfig = HealthConfig()
    inbound: InboundConfig | None = None

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, name: str) -> str:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown timezone {name!r} (use an IANA name like Asia/Shanghai)"
            ) from None
        return name

    @model_validator(mode="after")
    def _names_resolve(self) -> Config:
        names = [s.name for s in self.sources]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"source names must be unique, repeated: {', '.join(dupes)}")
        brands = {b.name for b in self.brands}
        for i, route in enumerate(self.routes):
            label = f"routes[{i}]" + (f" ({route.name})" if route.name else "")
            for dest in [*route.to, *route.escalate_to]:
                if dest not in self.destinations:
                    known = ", ".join(sorted(self.destinations)) or "none defined"
                    raise ValueError(f"{label}: unknown destination {dest!r} (known: {known})")
            for brand in route.match.brands:
                if brand not in brands:
                    raise ValueError(f"{label}: unknown brand {brand!r}")
        return self

    @model_validator(mode="after")
    def _permission_brands_known(self) -> Config:
        brands = {b.name for b in self.brands}
        for section in ("slack", "dingtalk"):
            chat = getattr(self, section)
            for name in chat.permissions.brands if chat else {}:
                if name not in brands:
                    raise ValueError(f"{section}.permissions.brands: unknown brand {name!r}")
        return self

    @model_validator(mode="after")
    def _digest_and_storms_resolve(self) -> Config:
        brands = {b.name for b in self.brands}
        for section in ("digest", "storms"):
            for dest in getattr(self, section).destinations:
                if dest not in self.destinations:
                    known = ", ".join(sorted(self.destinations)) or "none defined"
                    raise ValueError(f"{section}: unknown destination {dest!r} (known: {known})")
        for name in self.storms.brands:
            if name not in brands:
                raise ValueError(f"storms.brands: unknown brand {name!r}")
        return self

    @model_validator(mode="after")
    def _source_refs_resolve(self) -> Config:
        brands = {b.name for b in self.brands}
        for i, source in enumerate(self.sources):
            brand = getattr(source, "brand", None)
            if brand is not None and brand not in brands:
                raise ValueError(f"sources[{i}] ({source.name}): unknown brand {brand!r}")
        for dest in self.health.to:
            if dest not in self.destinations:
                known = ", ".join(sorted(self.destinations)) or "none defined"
                raise ValueError(f"health.to: unknown destination {dest!r} (known: {known})")
        return self

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def digest_tz(self) -> ZoneInfo:
        return ZoneInfo(self.digest.timezone or self.timezone)

    def brand(self, name: str) -> BrandConfig | None:
        wanted = name.casefold()
        return next((b for b in self.brands if b.name.casefold() == wanted), None)
