"""The running bot's periodic jobs: declared in one registry, handed to APScheduler in one place.

A job is a name, when it runs and what it runs:
- `every`: at a fixed interval (the polls, the SLA check, archiving);
- `daily`: at a local time of day (the digest);
- `after_each_poll`: right after each poll of a source (the storm watch).
Only this module knows APScheduler; the services and the run loop only register.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, time, timedelta, tzinfo
from typing import Any

log = logging.getLogger("buzzwatch")

# Each job runs at most once at a time, and runs missed while it was busy (or the machine
# asleep) coalesce into one. Given with every job too: a job added before the scheduler
# starts shows its own settings (APScheduler applies its defaults only at the start).
ONE_AT_A_TIME: dict[str, Any] = {"coalesce": True, "max_instances": 1}


@dataclass(frozen=True)
class Every:
    interval: timedelta
    first_run: datetime | None = None  # None: one interval after the start


@dataclass(frozen=True)
class DailyAt:
    at: time
    tz: tzinfo


@dataclass(frozen=True)
class AfterEachPoll:
    """Not on a clock of its own: run by the poll job when a poll has finished."""


@dataclass(frozen=True)
class Job:
    name: str
    when: Every | DailyAt | AfterEachPoll
    run: Callable[..., Any]
    args: tuple[Any, ...] = ()
    # How late a run is still worth doing; None: APScheduler's default (one second).
    misfire_grace: timedelta | None = None


class JobRegistry:
    """Every periodic job of one run, by name (a name is registered once)."""

    def __init__(self) -> None:
        self._jobs: dict[str, Job] = {}

    def add(self, job: Job) -> Job:
        if job.name in self._jobs:
            raise ValueError(f"job {job.name!r} is registered twice")
        self._jobs[job.name] = job
        return job

    def every(
        self,
        name: str,
        interval: timedelta,
        run: Callable[..., Any],
        *,
        args: tuple[Any, ...] = (),
        first_run: datetime | None = None,
        misfire_grace: timedelta | None = None,
    ) -> Job:
        return self.add(Job(name, Every(interval, first_run), run, args, misfire_grace))

    def daily(
        self,
        name: str,
        at: time,
        tz: tzinfo,
        run: Callable[..., Any],
        *,
        misfire_grace: timedelta | None = None,
    ) -> Job:
        return self.add(Job(name, DailyAt(at, tz), run, misfire_grace=misfire_grace))

    def after_each_poll(self, name: str, run: Callable[..., Any]) -> Job:
        return self.add(Job(name, AfterEachPoll(), run))

    def __iter__(self) -> Iterator[Job]:
        return iter(self._jobs.values())

    def get(self, name: str) -> Job | None:
        return self._jobs.get(name)

    def run_after_poll(self) -> None:
        """Run the after-each-poll jobs, in the order registered; one failing stops no other."""
        for job in self._jobs.values():
            if isinstance(job.when, AfterEachPoll):
                try:
                    job.run(*job.args)
                except Exception:
                    log.exception("job %s failed", job.name)


class Scheduler:
    """APScheduler 3's background scheduler, fed from a JobRegistry."""

    def __init__(self, workers: int, tz: tzinfo) -> None:
        from apscheduler.executors.pool import ThreadPoolExecutor as JobPool
        from apscheduler.schedulers.background import BackgroundScheduler

        self._scheduler = BackgroundScheduler(
            executors={"default": JobPool(workers)},
            job_defaults=ONE_AT_A_TIME,
            timezone=tz,
        )

    def add(self, job: Job) -> None:
        """Schedule one registered job (after-each-poll jobs have no schedule: skipped)."""
        extra: dict[str, Any] = dict(ONE_AT_A_TIME)
        if job.misfire_grace is not None:
            extra["misfire_grace_time"] = int(job.misfire_grace.total_seconds())
        if isinstance(job.when, Every):
            if job.when.first_run is not None:
                extra["next_run_time"] = job.when.first_run
            seconds = int(job.when.interval.total_seconds())
            self._scheduler.add_job(
                job.run, "interval", args=list(job.args), seconds=seconds, id=job.name, **extra
            )
        elif isinstance(job.when, DailyAt):
            from apscheduler.triggers.cron import CronTrigger

            trigger = CronTrigger(
                hour=job.when.at.hour, minute=job.when.at.minute, timezone=job.when.tz
            )
            self._scheduler.add_job(job.run, trigger, args=list(job.args), id=job.name, **extra)

    def add_all(self, jobs: JobRegistry) -> None:
        for job in jobs:
            self.add(job)

    def once(
        self,
        name: str,
        at: datetime,
        run: Callable[..., Any],
        *,
        args: tuple[Any, ...] = (),
        misfire_grace: timedelta,
    ) -> None:
        """A one-off run at `at` (a poll retried as another process's lease ends); it
        replaces one of the same name still waiting."""
        self._scheduler.add_job(
            run,
            "date",
            run_date=at,
            args=list(args),
            id=name,
            replace_existing=True,
            misfire_grace_time=int(misfire_grace.total_seconds()),
            **ONE_AT_A_TIME,
        )

    def get_job(self, name: str) -> Any:
        """APScheduler's job of this name (for tests), or None."""
        return self._scheduler.get_job(name)

    def start(self) -> None:
        self._scheduler.start()

    @property
    def running(self) -> bool:
        return bool(self._scheduler.running)

    def shutdown(self) -> None:
        """Stop; waits for the jobs running now to finish."""
        self._scheduler.shutdown(wait=True)
