"""A start after the digest time says plainly when the digest goes out, rather than
"digest for <today> skipped: 10h27m late" (what a first run printed to a new user)."""

from __future__ import annotations

import logging
from datetime import date

import pytest

from core.domain.clock import FakeClock
from core.reports.digest_service import STATE_KEY, DigestService
from tests.digest.helpers import setup, utc


def digest_log(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "buzzwatch.digest"]


@pytest.mark.parametrize(
    ("now", "when"),
    [
        (utc(2026, 11, 30, 11, 27), "09:00 tomorrow (Asia/Shanghai)"),  # 19:27 local
        (utc(2026, 11, 30, 0, 30), "09:00 today (Asia/Shanghai)"),  # 08:30 local
    ],
)
def test_a_first_start_says_when_the_first_digest_goes_out(
    tmp_path, caplog: pytest.LogCaptureFixture, now, when: str
) -> None:
    clock = FakeClock(now)
    config, repo = setup(tmp_path, clock, digest={"time": "09:00", "grace": "6h"})
    with caplog.at_level(logging.INFO, logger="buzzwatch.digest"):
        assert DigestService(config, repo, clock, charts=False).run_due() is None
    repo.close()
    said = digest_log(caplog)
    assert said == [
        f"daily digest: none sent yet; the first goes out at {when}, for the 24 hours before "
        "it (`digest` in the chat, or `python bot.py digest --dry-run`, shows one now)"
    ]
    assert not any("skipped" in line or "late" in line for line in said)


def test_a_missed_digest_says_why_and_when_the_next_goes(
    tmp_path, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FakeClock(utc(2026, 12, 2, 11, 27))  # 19:27 on 12-02 in Shanghai
    config, repo = setup(tmp_path, clock, digest={"time": "09:00", "grace": "6h"})
    repo.set_state(STATE_KEY, {"sent_for": "2026-11-30"})
    with caplog.at_level(logging.INFO, logger="buzzwatch.digest"):
        assert DigestService(config, repo, clock, charts=False).run_due() is None
    repo.close()
    assert digest_log(caplog) == [
        "daily digest for 2026-12-02 not sent: the bot was not running at its time (09:00), "
        "10h27m ago, longer than digest.grace (6h); the next goes out at 09:00 tomorrow "
        "(Asia/Shanghai)"
    ]


def test_within_grace_a_first_start_still_sends_it_as_the_readme_says(tmp_path) -> None:
    clock = FakeClock(utc(2026, 11, 30, 2, 0))  # 10:00 local: an hour after 09:00
    config, repo = setup(tmp_path, clock, digest={"time": "09:00", "grace": "6h"})
    assert DigestService(config, repo, clock, charts=False).run_due() == date(2026, 11, 30)
    repo.close()
