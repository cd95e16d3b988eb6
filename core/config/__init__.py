"""The configuration: one YAML file, validated with pydantic, its loading and its errors.

Secrets never live in the file: the file names the environment variables that hold them.
The schema is split by section (analysis, sources, routing, chat, reports, service) and
assembled in `schema.Config`; everything a caller needs is importable from `core.config`.
"""

from core.config.analysis import (
    NEGATIVE_THRESHOLD,
    AnalysisConfig,
    AspectConfig,
    BrandConfig,
    KolConfig,
    KolTier,
    RulesConfig,
)
from core.config.base import BUNDLED_CONFIG, REPO_ROOT, ConfigError, Duration, SafeId
from core.config.chat import (
    DingTalkCallbackConfig,
    DingTalkConfig,
    DingTalkPermissions,
    DingTalkRule,
    DingTalkStreamConfig,
    SlackConfig,
    SlackPermissions,
    SlackRule,
)
from core.config.environment import (
    config_warnings,
    env_names,
    unused_env_names,
)
from core.config.loading import (
    find_config_path,
    format_validation_error,
    load_config,
    parse_config,
)
from core.config.reports import DigestConfig, StormConfig, StormRule
from core.config.routing import (
    BurstConfig,
    ConsoleDestination,
    DestinationConfig,
    DingTalkDestination,
    GroupingConfig,
    QuietHours,
    RouteConfig,
    RouteMatch,
    SlackDestination,
    WebhookDestination,
)
from core.config.schema import Config
from core.config.service import ServiceConfig, StorageConfig
from core.config.slack_commands import SlackCommandNames
from core.config.sources import (
    SOURCE_SECTIONS,
    FetchConfig,
    HealthConfig,
    InboundConfig,
    RsshubConfig,
    SourceSection,
    source_section,
)

__all__ = [
    "BUNDLED_CONFIG",
    "NEGATIVE_THRESHOLD",
    "REPO_ROOT",
    "SOURCE_SECTIONS",
    "AnalysisConfig",
    "AspectConfig",
    "BrandConfig",
    "BurstConfig",
    "Config",
    "ConfigError",
    "ConsoleDestination",
    "DestinationConfig",
    "DigestConfig",
    "DingTalkCallbackConfig",
    "DingTalkConfig",
    "DingTalkDestination",
    "DingTalkPermissions",
    "DingTalkRule",
    "DingTalkStreamConfig",
    "Duration",
    "FetchConfig",
    "GroupingConfig",
    "HealthConfig",
    "InboundConfig",
    "KolConfig",
    "KolTier",
    "QuietHours",
    "RouteConfig",
    "RouteMatch",
    "RsshubConfig",
    "RulesConfig",
    "SafeId",
    "ServiceConfig",
    "SlackCommandNames",
    "SlackConfig",
    "SlackDestination",
    "SlackPermissions",
    "SlackRule",
    "SourceSection",
    "StorageConfig",
    "StormConfig",
    "StormRule",
    "WebhookDestination",
    "config_warnings",
    "env_names",
    "find_config_path",
    "format_validation_error",
    "load_config",
    "parse_config",
    "source_section",
    "unused_env_names",
]
