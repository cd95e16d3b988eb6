from __future__ import annotations

import pytest

from tests.slack.rig import Rig
from tests.standin.slack import SlackAPI


@pytest.fixture
def slack_api():
    with SlackAPI() as api:
        yield api


@pytest.fixture
def rig(tmp_path, slack_api, clock, monkeypatch):
    r = Rig(tmp_path, slack_api, clock, monkeypatch)
    yield r
    r.close()
