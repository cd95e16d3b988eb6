"""What a new user met in a first hour with the bundled example: replies that did not say
what to do next."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from core.alerting.lifecycle import AlertService
from core.commands.context import Actor
from core.commands.service import CommandService
from core.domain.clock import FakeClock
from storage.factory import open_repository
from tests.conftest import make_config
from tests.core.test_commands import many_open_alerts

ANN = Actor("U1", "ann", "slack")


def _service(tmp_path: Path, clock: FakeClock, open_alerts: int) -> Iterator[CommandService]:
    config = make_config(tmp_path)
    repo = open_repository("sqlite", config.data_dir, clock=clock)
    service = CommandService(config, repo, AlertService(repo, clock), clock)
    if open_alerts:
        many_open_alerts(service, clock, open_alerts)
    yield service
    repo.close()


@pytest.fixture
def six_open(tmp_path: Path, clock: FakeClock) -> Iterator[CommandService]:
    yield from _service(tmp_path, clock, 6)


@pytest.fixture
def twenty_five_open(tmp_path: Path, clock: FakeClock) -> Iterator[CommandService]:
    yield from _service(tmp_path, clock, 25)


def test_status_all_past_the_last_page_says_how_many_pages_there_are(
    six_open: CommandService,
) -> None:
    # With the sample's 6 open alerts, `status all page:2` said "page: takes 1 to 1".
    reply = six_open.run("status all page:2", ANN)
    assert not reply.ok
    assert "takes 1 to 1" not in reply.text
    assert "page:2 is past the end" in reply.text
    assert "6 alert(s) not resolved" in reply.text and "1 page(s)" in reply.text
    assert "`status all`" in reply.text
    assert six_open.run("status all page:1", ANN).ok


def test_status_all_past_the_end_names_the_last_page_and_page_zero_is_refused(
    twenty_five_open: CommandService,
) -> None:
    reply = twenty_five_open.run("status all page:7", ANN)
    assert not reply.ok and "2 page(s)" in reply.text
    assert "`status all page:2`" in reply.text
    last = twenty_five_open.run("status all page:2", ANN)
    assert last.ok and last.text.startswith("25 alert(s) not resolved; 21-25")
    zero = twenty_five_open.run("status all page:0", ANN)
    assert not zero.ok and "from 1" in zero.text


def test_a_negative_offset_or_page_is_told_where_counting_starts(six_open: CommandService) -> None:
    # `mentions Acme offset:-1` said "offset: takes a whole number." (-1 is one).
    offset = six_open.run("mentions Acme offset:-1", ANN)
    assert not offset.ok and "offset: takes a whole number from 0" in offset.text
    page = six_open.run("mentions Acme page:-2", ANN)
    assert not page.ok and "page: takes a whole number from 1" in page.text
    assert six_open.run("mentions Acme offset:0", ANN).ok
