from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import sources.kinds  # noqa: F401, E402  (every source kind's config section)
from core.config import Config, parse_config  # noqa: E402
from core.domain.clock import FakeClock  # noqa: E402
from tests.cli_fixture import Cli  # noqa: E402
from tests.postgres_server import postgres_dsn, postgres_schema  # noqa: E402, F401
from tests.standin.chat import ChatServer  # noqa: E402
from tests.two_stores import store_backend, two_stores  # noqa: E402, F401

# The worker pool's `rigs` fixture (tests/core, tests/attacks). A plugin, loaded once this
# module is: the helper imports make_config from here.
pytest_plugins = ["tests.analysis_rig"]

BASE_CONFIG: dict[str, Any] = {
    "timezone": "Asia/Shanghai",
    "brands": [
        {
            "name": "Acme",
            "keywords": ["Acme", "艾克米"],
            "exclude": ["Acme Corp stock"],
            "aspects": {
                "food_safety": {
                    "keywords": ["食物中毒", "拉肚子", "food poisoning"],
                    "critical": True,
                },
                "price": {"keywords": ["太贵", "expensive", "price"]},
            },
            "domain_words": {"食物中毒": -1.0, "退款": -0.6, "food poisoning": -1.0},
        }
    ],
    "kols": [{"name": "美食家小王", "followers": 1200000}],
    "destinations": {"console": {"type": "console"}},
    "routes": [
        {
            "name": "people",
            "match": {"flags": ["negative", "question", "kol", "critical"]},
            "to": ["console"],
        }
    ],
}


def make_config(tmp_path: Path, **overrides: Any) -> Config:
    data = yaml.safe_load(yaml.safe_dump(BASE_CONFIG))  # a deep copy
    data["data_dir"] = str(tmp_path / "data")
    data.update(overrides)
    # Test servers listen on 127.0.0.1, which Buzzwatch refuses unless a config allows it.
    data.setdefault("fetch", {}).setdefault("allow_hosts", ["127.0.0.1"])
    # Flags must not depend on the machine's speed: the default engine's encoder reads every
    # unsure post in tests (no time budget, analysis.encoder_rate: 0).
    data.setdefault("analysis", {}).setdefault("encoder_rate", 0)
    return parse_config(data, tmp_path / "test.yaml")


def digest_time_just_missed(tz: str = "UTC") -> str:
    """A digest time (HH:MM in `tz`) an hour before now: a bot started now owes that day's
    digest (well within the default 6-hour grace). Tests that run a real bot process (on
    the system clock) use it, so they take the same path at any hour of the day."""
    return f"{datetime.now(ZoneInfo(tz)) - timedelta(hours=1):%H:%M}"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 11, 28, 8, 0, tzinfo=UTC))


# A developer's own settings and tokens, which tests never pick up.
AMBIENT = ("BUZZWATCH_", "SLACK_", "DINGTALK_")


def clean_env() -> dict[str, str]:
    """The environment for a bot process a test starts, without AMBIENT variables (also
    outside a test, where _no_ambient_config has not removed them)."""
    return {k: v for k, v in os.environ.items() if not k.startswith(AMBIENT)}


@pytest.fixture(autouse=True)
def _no_ambient_config(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in list(os.environ):
        if var.startswith(AMBIENT):
            monkeypatch.delenv(var, raising=False)


@pytest.fixture(autouse=True)
def _display_in_utc() -> None:
    # Building an app sets the display timezone from its config; each test starts in UTC.
    from core.alerting.views import set_display_timezone

    set_display_timezone(UTC)


def write_base_config(tmp_path: Path) -> Path:
    """BASE_CONFIG as a file (tmp_path/config.yaml, its data in tmp_path/data), for --config."""
    path = tmp_path / "config.yaml"
    data = dict(BASE_CONFIG, data_dir=str(tmp_path / "data"))
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    """write_base_config's file."""
    return write_base_config(tmp_path)


@pytest.fixture
def chat() -> Iterator[ChatServer]:
    """A chat webhook stand-in (tests/standin/chat.py) on 127.0.0.1."""
    with ChatServer() as server:
        yield server


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    """The command line, run in-process in tmp_path: tests/cli_fixture.py."""
    return Cli(tmp_path)
