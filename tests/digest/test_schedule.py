"""The daily digest goes out exactly once per date: across restarts, late wake-ups, DST."""

from __future__ import annotations

from datetime import date, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from app.buzzwatch import register_daily_digest
from app.jobs import JobRegistry, Scheduler
from core.domain.clock import FakeClock
from core.domain.repository import Repository
from core.reports.digest import daily_period, local_moment
from core.reports.digest_service import RETRY_EVERY, STATE_KEY, DigestService
from storage.atomic_json import StorageError
from storage.factory import open_repository
from storage.tinydb_repo import TinyDBRepository
from tests.digest.helpers import mention, setup, utc

NEW_YORK = ZoneInfo("America/New_York")
SHANGHAI = ZoneInfo("Asia/Shanghai")


def digest_items(repo: Repository) -> list:
    return [i for i in repo.pending_outbox() if i.message.get("kind") == "text"]


def restart(config, clock) -> tuple[Repository, DigestService]:
    """A new process: a fresh repository over the same files, a fresh service."""
    repo = open_repository(config.storage.backend, config.data_dir, clock=clock)
    return repo, DigestService(config, repo, clock, charts=False)


def test_exactly_once_across_a_restart_at_the_digest_minute(tmp_path) -> None:
    # 09:00 Shanghai is 01:00Z.
    clock = FakeClock(utc(2026, 11, 29, 0, 59, 30))
    config, repo = setup(
        tmp_path, clock, [mention("m1", utc(2026, 11, 28, 5))], digest={"time": "09:00"}
    )
    service = DigestService(config, repo, clock, charts=False)
    assert service.run_due() is None  # 08:59:30: not yet (and yesterday's is long past grace)
    clock.set(utc(2026, 11, 29, 1, 0, 0))
    assert service.run_due() == date(2026, 11, 29)
    assert service.run_due() is None  # the cron job and the catch-up both fire: one digest
    repo.close()
    # The process dies and comes back within the same minute.
    clock.set(utc(2026, 11, 29, 1, 0, 40))
    repo2, service2 = restart(config, clock)
    assert service2.run_due() is None
    items = digest_items(repo2)
    assert len(items) == 1
    assert items[0].destination == "console"
    assert items[0].message["title"] == "Buzzwatch daily digest · all brands · 2026-11-29"
    assert "Mentions: 1 ·" in items[0].message["text"]
    assert repo2.get_state(STATE_KEY)["sent_for"] == "2026-11-29"
    # The next day's goes out the next day.
    clock.set(utc(2026, 11, 30, 1, 0))
    assert service2.run_due() == date(2026, 11, 30)
    assert len(digest_items(repo2)) == 2
    repo2.close()


def test_catch_up_after_a_late_start_within_grace_only(tmp_path) -> None:
    clock = FakeClock(utc(2026, 11, 29, 6, 0))  # 14:00 Shanghai: 5h late
    config, repo = setup(tmp_path, clock, digest={"time": "09:00", "grace": "6h"})
    service = DigestService(config, repo, clock, charts=False)
    assert service.run_due() == date(2026, 11, 29)
    repo.close()
    clock2 = FakeClock(utc(2026, 11, 29, 7, 30))  # another data dir, started 6h30m late
    config2, repo2 = setup(tmp_path / "b", clock2, digest={"time": "09:00", "grace": "6h"})
    assert DigestService(config2, repo2, clock2, charts=False).run_due() is None
    assert digest_items(repo2) == []
    repo2.close()


def test_late_wake_up_after_midnight_sends_yesterdays_digest(tmp_path) -> None:
    # Digest at 23:30; the machine slept and wakes at 00:20 the next day.
    clock = FakeClock(utc(2026, 11, 29, 16, 20))  # 00:20 on 11-30 in Shanghai
    config, repo = setup(tmp_path, clock, digest={"time": "23:30"})
    service = DigestService(config, repo, clock, charts=False)
    assert service.run_due() == date(2026, 11, 29)
    repo.close()


class FailingOnce(TinyDBRepository):
    fail = True

    def add_outbox(self, items, state=None):
        if self.fail:
            self.fail = False
            raise OSError("disk full")
        return super().add_outbox(items, state)


def test_a_failed_queue_leaves_no_mark_so_the_digest_is_retried(tmp_path) -> None:
    clock = FakeClock(utc(2026, 11, 29, 1, 0))
    config, repo = setup(tmp_path, clock)
    repo.close()
    failing = FailingOnce(config.data_dir, clock=clock)
    service = DigestService(config, failing, clock, charts=False)
    with pytest.raises(OSError):
        service.run_due()
    assert failing.get_state(STATE_KEY) is None
    assert service.run_due() == date(2026, 11, 29)
    assert len(digest_items(failing)) == 1
    failing.close()


def test_per_brand_digests_share_one_mark(tmp_path) -> None:
    clock = FakeClock(utc(2026, 11, 29, 1, 0))
    brands = [
        {"name": "Acme", "keywords": ["Acme"]},
        {"name": "Beta", "keywords": ["Beta"]},
    ]
    config, repo = setup(
        tmp_path,
        clock,
        [mention("a", utc(2026, 11, 28, 5)), mention("b", utc(2026, 11, 28, 6), brand="Beta")],
        brands=brands,
        routes=[],
        digest={"per_brand": True, "destinations": ["console"]},
    )
    service = DigestService(config, repo, clock, charts=False)
    assert service.run_due() == date(2026, 11, 29)
    assert service.run_due() is None
    titles = sorted(i.message["title"] for i in digest_items(repo))
    assert titles == [
        "Buzzwatch daily digest · Acme · 2026-11-29",
        "Buzzwatch daily digest · Beta · 2026-11-29",
    ]
    repo.close()


def test_disabled_digest_sends_nothing(tmp_path) -> None:
    clock = FakeClock(utc(2026, 11, 29, 1, 0))
    config, repo = setup(tmp_path, clock, digest={"enabled": False})
    assert DigestService(config, repo, clock, charts=False).run_due() is None
    repo.close()


def test_scheduler_job_has_real_grace_coalesce_and_one_instance(tmp_path) -> None:
    clock = FakeClock(utc(2026, 11, 29, 1, 0))
    config, repo = setup(
        tmp_path, clock, timezone="UTC", digest={"time": "09:00", "timezone": "America/New_York"}
    )
    jobs = JobRegistry()  # the one way jobs are registered; the scheduler takes them from it
    register_daily_digest(jobs, DigestService(config, repo, clock, charts=False))
    scheduler = Scheduler(workers=1, tz=ZoneInfo("UTC"))
    scheduler.add_all(jobs)
    job = scheduler.get_job("digest")
    assert job.misfire_grace_time == 6 * 3600
    assert job.coalesce is True and job.max_instances == 1
    # The trigger fires at 09:00 New York time, EDT or EST alike.
    fire = job.trigger.get_next_fire_time(None, utc(2026, 3, 8, 0, 0).astimezone(NEW_YORK))
    assert fire.astimezone(ZoneInfo("UTC")) == utc(2026, 3, 8, 13, 0)  # EDT, the DST day
    fire = job.trigger.get_next_fire_time(None, utc(2026, 3, 7, 0, 0).astimezone(NEW_YORK))
    assert fire.astimezone(ZoneInfo("UTC")) == utc(2026, 3, 7, 14, 0)  # EST
    # The start-up catch-up waits for the first poll cycle (the run loop adds it then).
    assert scheduler.get_job("digest-catch-up") is None
    repo.close()


# --- timezones and DST ----------------------------------------------------------------------


def test_spring_forward_day_has_23_hourly_buckets(tmp_path) -> None:
    # 2026-03-08: New York clocks jump from 02:00 EST to 03:00 EDT.
    clock = FakeClock(utc(2026, 3, 8, 13, 0))
    config, repo = setup(
        tmp_path,
        clock,
        [mention("night", utc(2026, 3, 8, 6, 59)), mention("after", utc(2026, 3, 8, 7, 0))],
        timezone="America/New_York",
    )
    period = daily_period(date(2026, 3, 8), time(9, 0), NEW_YORK)
    assert period.hours == 23 and period.span == timedelta(days=1)
    d = DigestService(config, repo, clock, charts=False).compute(period, None)
    assert len(d.buckets) == 23
    hours = [b.start.hour for b in d.buckets]
    assert hours[16:18] == [1, 3]  # 02:00 does not exist that night
    assert (d.buckets[16].total, d.buckets[17].total) == (1, 1)  # 01:59 EST, 03:00 EDT
    repo.close()


def test_fall_back_day_has_25_hourly_buckets() -> None:
    period = daily_period(date(2026, 11, 1), time(9, 0), NEW_YORK)
    assert period.hours == 25 and period.span == timedelta(days=1)
    assert period.start.utcoffset() == timedelta(hours=-4)
    assert period.end.utcoffset() == timedelta(hours=-5)


def test_a_digest_time_skipped_by_dst_goes_out_when_the_clocks_jump(tmp_path) -> None:
    # 02:30 does not exist in New York on 2026-03-08: it goes out at 03:30 EDT (07:30Z).
    assert local_moment(date(2026, 3, 8), time(2, 30), NEW_YORK) == utc(2026, 3, 8, 7, 30)
    clock = FakeClock(utc(2026, 3, 8, 7, 29))
    config, repo = setup(tmp_path, clock, timezone="America/New_York", digest={"time": "02:30"})
    service = DigestService(config, repo, clock, charts=False)
    assert service.run_due() is None
    clock.set(utc(2026, 3, 8, 7, 30))
    assert service.run_due() == date(2026, 3, 8)
    clock.set(utc(2026, 3, 8, 8, 30))
    assert service.run_due() is None
    repo.close()


def test_shanghai_day_boundaries_in_utc(tmp_path) -> None:
    clock = FakeClock(utc(2026, 11, 29, 1, 0))
    config, repo = setup(
        tmp_path,
        clock,
        [
            mention("before", utc(2026, 11, 28, 0, 59, 59)),  # 08:59:59 local: the day before
            mention("first", utc(2026, 11, 28, 1, 0)),
            mention("last", utc(2026, 11, 29, 0, 59, 59)),
        ],
    )
    period = daily_period(date(2026, 11, 29), time(9, 0), SHANGHAI)
    d = DigestService(config, repo, clock, charts=False).compute(period, None)
    assert (d.total, d.previous) == (2, 1)
    assert (d.buckets[0].total, d.buckets[-1].total) == (1, 1)
    repo.close()


def test_a_digest_run_that_failed_is_tried_again_until_it_goes_out(tmp_path) -> None:
    # The store is unreachable at 09:00 (a database restarting): the scheduled run fails;
    # the retry job sends it once the store answers, and only once.
    clock = FakeClock(utc(2026, 11, 29, 1, 0))  # 09:00 Shanghai
    config, repo = setup(
        tmp_path, clock, [mention("m1", utc(2026, 11, 28, 5))], digest={"time": "09:00"}
    )
    service = DigestService(config, repo, clock, charts=False)
    jobs = JobRegistry()
    register_daily_digest(jobs, service)
    retry = jobs.get("digest-retry")
    assert retry is not None and retry.when.interval == RETRY_EVERY
    down = True
    real_lock = repo.job_lock

    def job_lock(name):
        if down:
            raise StorageError("could not reach the database: connection refused")
        return real_lock(name)

    repo.job_lock = job_lock
    jobs.get("digest").run()  # the 09:00 run
    assert service.failed and digest_items(repo) == []
    clock.advance(RETRY_EVERY.total_seconds())
    retry.run()  # still down
    assert service.failed and digest_items(repo) == []
    down = False
    clock.advance(RETRY_EVERY.total_seconds())
    retry.run()
    assert not service.failed and len(digest_items(repo)) == 1
    retry.run()
    jobs.get("digest").run()
    assert len(digest_items(repo)) == 1
    repo.close()


def test_a_digest_that_did_not_fail_is_not_run_by_the_retry_job(tmp_path) -> None:
    clock = FakeClock(utc(2026, 11, 29, 0, 50))  # 08:50 Shanghai: not due yet
    config, repo = setup(tmp_path, clock, digest={"time": "09:00"})
    service = DigestService(config, repo, clock, charts=False)
    service.run_due = lambda: pytest.fail("retried without a failure")  # type: ignore[method-assign]
    service.retry_failed()
    repo.close()
