"""What a new user met trying `mentions` and friends: the limit's range as it is, every
source a mention can carry, a filter given twice, any whitespace between words."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from core.alerting.lifecycle import AlertService
from core.commands.context import Actor
from core.commands.service import CommandService
from core.domain.clock import FakeClock
from core.domain.models import IMPORT_SOURCE, Mention
from sources.importer import DEFAULT_SOURCE
from storage.factory import open_repository
from tests.conftest import make_config

ANN = Actor("U1", "ann", "slack")
TITLES = [f"Acme post {i}" for i in range(60)]


@pytest.fixture
def service(tmp_path: Path, clock: FakeClock) -> Iterator[CommandService]:
    config = make_config(
        tmp_path,
        sources=[{"name": "weibo", "type": "rss", "path": "feed.xml", "every": "5m"}],
        inbound={"port": 0, "source": "pushed"},
    )
    repo = open_repository("sqlite", config.data_dir, clock=clock)
    mentions = [
        Mention(
            id=f"m{i}",
            source="weibo" if i % 2 else IMPORT_SOURCE,
            url=f"https://example.com/{i}",
            title=title,
            text=title,
            brands=["Acme"],
            flags=["negative", "kol"] if i == 0 else ["negative"] if i % 3 == 0 else [],
            sentiment=-0.8 if i % 3 == 0 else 0.1,
            published=clock.now() - timedelta(hours=i),
            fetched_at=clock.now(),
        )
        for i, title in enumerate(TITLES)
    ]
    repo.save_cycle(mentions, [m.id for m in mentions], [], [])
    yield CommandService(config, repo, AlertService(repo, clock), clock)
    repo.close()


# --- 2. every source a mention can carry ------------------------------------------------------


def test_the_known_sources_include_import_and_the_inbound_endpoint(
    service: CommandService,
) -> None:
    reply = service.run("mentions source:nope", ANN)
    assert not reply.ok
    assert reply.text.startswith("Unknown source 'nope'; sources: weibo, pushed, import.")
    assert DEFAULT_SOURCE == IMPORT_SOURCE  # what `bot.py import` files rows under
    # import and the endpoint's source can be silenced (alerts from `import --alert`, pushes)
    for name in ("import", "pushed"):
        silenced = service.run(f"silence source {name} 1h", ANN)
        assert silenced.ok, silenced.text
    assert "Unknown source" in service.run("silence source nope 1h", ANN).text
