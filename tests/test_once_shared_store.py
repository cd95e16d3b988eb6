"""`--once` next to running bots that share its store: the sources they hold are not polled
here, and the summary says so rather than counting them as this run's."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from app.buzzwatch import Buzzwatch
from app.runloop import run_once
from app.signals import StopRequest
from core.intake.polling import PollOutcome
from tests.conftest import make_config


def test_the_once_summary_says_which_sources_another_process_polls(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    app = Buzzwatch(make_config(tmp_path))
    held = [PollOutcome("news", ok=True, elsewhere=True), PollOutcome("weibo", ok=True)]
    app.poll_all = lambda: held  # type: ignore[method-assign]
    try:
        with caplog.at_level(logging.INFO, logger="buzzwatch"):
            assert run_once(app, StopRequest()) == 0
    finally:
        app.close()
    done = [r.getMessage() for r in caplog.records if r.getMessage().startswith("cycle done")]
    assert done == [
        "cycle done: 2 source(s) (1 polled by another Buzzwatch process on this store), "
        "0 failed, 0 alert(s); sent 0, dead 0, still queued 0"
    ]
