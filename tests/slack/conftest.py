from __future__ import annotations

import pytest

from tests.standin.slack import SlackAPI


@pytest.fixture
def slack_api():
    with SlackAPI() as api:
        yield api
