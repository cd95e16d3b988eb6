"""One way to register a periodic job (app/jobs.py): the registry, and what APScheduler gets."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from app.buzzwatch import Buzzwatch
from app.jobs import AfterEachPoll, DailyAt, Every, JobRegistry, Scheduler
from tests.conftest import make_config


def test_a_name_is_registered_once() -> None:
    jobs = JobRegistry()
    jobs.every("sla", timedelta(seconds=30), lambda: None)
    with pytest.raises(ValueError, match="'sla' is registered twice"):
        jobs.after_each_poll("sla", lambda: None)


def test_after_each_poll_jobs_run_in_order_and_one_failing_stops_no_other(
    caplog: pytest.LogCaptureFixture,
) -> None:
    ran: list[str] = []
    jobs = JobRegistry()

    def broken() -> None:
        raise RuntimeError("boom")

    jobs.after_each_poll("first", lambda: ran.append("first"))
    jobs.after_each_poll("broken", broken)
    jobs.every("not-after-a-poll", timedelta(minutes=1), lambda: ran.append("interval"))
    jobs.after_each_poll("last", lambda: ran.append("last"))
    with caplog.at_level(logging.ERROR, logger="buzzwatch"):
        jobs.run_after_poll()
    assert ran == ["first", "last"]
    assert "job broken failed" in caplog.text


def test_the_scheduler_gets_every_timed_job_with_its_settings() -> None:
    start = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)
    jobs = JobRegistry()
    jobs.every(
        "poll:w",
        timedelta(minutes=5),
        print,
        args=("w",),
        first_run=start,
        misfire_grace=timedelta(seconds=150),
    )
    jobs.every("archive", timedelta(hours=1), print)
    jobs.daily("digest", time(9, 30), ZoneInfo("Asia/Shanghai"), print)
    jobs.after_each_poll("storms", print)
    scheduler = Scheduler(workers=2, tz=ZoneInfo("UTC"))
    scheduler.add_all(jobs)
    poll = scheduler.get_job("poll:w")
    assert poll.args == ("w",) and poll.trigger.interval == timedelta(minutes=5)
    assert poll.next_run_time == start and poll.misfire_grace_time == 150
    assert poll.coalesce is True and poll.max_instances == 1
    archive = scheduler.get_job("archive")
    assert archive.trigger.interval == timedelta(hours=1)
    assert not hasattr(archive, "misfire_grace_time")  # not given: APScheduler's default
    fire = scheduler.get_job("digest").trigger.get_next_fire_time(None, start)
    assert fire == datetime(2026, 11, 29, 1, 30, tzinfo=UTC)  # 09:30 in Shanghai
    assert scheduler.get_job("storms") is None  # run by the poll job, not on a clock


def test_the_app_registers_its_services_jobs(tmp_path: Path) -> None:
    config = make_config(tmp_path, digest={"time": "09:00"})
    app = Buzzwatch(config, read_only=True)
    try:
        jobs = JobRegistry()
        app.register_jobs(jobs)
        kinds = {job.name: type(job.when) for job in jobs}
        assert kinds == {
            "sla": Every,
            "digest": DailyAt,
            "digest-retry": Every,  # only runs the digest again after a failed run
            "storms": AfterEachPoll,
            "archive": Every,
        }
        sla = jobs.get("sla")
        assert sla is not None and sla.misfire_grace == timedelta(minutes=5)
        archive = jobs.get("archive")  # late behind a first cycle's polls, it still runs
        assert archive is not None and archive.misfire_grace == timedelta(minutes=30)
        assert isinstance(sla.when, Every) and sla.when.interval == timedelta(seconds=30)
    finally:
        app.close()
    no_digest = make_config(tmp_path, digest={"enabled": False})
    app = Buzzwatch(no_digest, read_only=True)
    try:
        jobs = JobRegistry()
        app.register_jobs(jobs)
        assert jobs.get("digest") is None
    finally:
        app.close()
