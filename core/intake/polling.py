"""Polling one source: fetch, hand to the pipeline, remember fetch state and health.

A broken, huge or slow source is logged with its name and skipped; the others go on.
Its health (last success, last error, error streak, items per poll) is kept in its state
record, and the health monitor turns a long streak into one alert.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from core.domain.clock import Clock
from core.domain.models import to_iso
from core.domain.repository import Repository
from core.intake.health import HealthMonitor, state_key
from core.intake.pipeline import CycleResult, Pipeline
from rules.text import cap, one_line

log = logging.getLogger("buzzwatch.poll")

# A store shared by several processes (postgres) leases each source to the one polling it.
# Every source lease lasts this long, whatever the source's interval: from each poll here
# (Poller.poll), from each renewal and take-over by the running bot's lease keeper, which
# renews the leases of the sources it polls every few seconds (app/lease_keeper.py). So a
# dead process's sources are taken over within about this long.
SOURCE_LEASE = timedelta(seconds=30)


@dataclass
class PollOutcome:
    source: str
    ok: bool
    result: CycleResult | None = None
    error: str = ""
    not_modified: bool = False
    deferred: bool = False  # not fetched: its host asked us to slow down
    # The store failed: what was fetched could not be stored (a full disk), or the store was
    # unreachable before the fetch (a database restarting: not fetched at all).
    storage: bool = False
    elsewhere: bool = False  # not fetched: another process sharing the store polls it


class Poller:
    def __init__(
        self,
        repo: Repository,
        pipeline: Pipeline,
        clock: Clock,
        health: HealthMonitor | None = None,
    ) -> None:
        self.repo = repo
        self.pipeline = pipeline
        self.clock = clock
        self.health = health

    def poll(self, source: Any) -> PollOutcome:
        key = state_key(source.name)
        try:
            # A store shared by several processes (postgres) leases each source to one of them.
            if not self.repo.claim_source(source.name, SOURCE_LEASE):
                log.debug("source=%s polled by another process", source.name)
                return PollOutcome(source.name, ok=True, elsewhere=True)
            state: dict[str, Any] = dict(self.repo.get_state(key) or {})
        except Exception as err:
            # The store unreachable (a database restarting): not fetched, nothing of the
            # source's health to record; the next poll tries again. (Raised, it left the poll
            # job with a traceback, and stopped a --once run's other polls with it.) Anything
            # else (a damaged SQLite file) goes up as before, to be said with what to do.
            if type(err).__name__ != "StorageError":
                raise
            reason = cap(one_line(str(err)) or type(err).__name__, 300)
            log.warning("source=%s not polled: the store failed: %s", source.name, reason)
            return PollOutcome(source.name, ok=False, error=reason, storage=True)
        fetch_state = dict(state.get("fetch") or {})
        try:
            polled = source.poll(fetch_state)
            # Until a poll of this source has succeeded, what it returns piled up before
            # Buzzwatch looked: a backlog, not a burst.
            first = not int(state.get("polls") or 0)
            result = self.pipeline.process(source.name, polled.mentions, backlog=first)
        except Exception as err:
            reason = cap(one_line(str(err)) or type(err).__name__, 300)
            now = to_iso(self.clock.now())
            if getattr(err, "deferred", False):  # politeness, not a failure of the source
                log.info("source=%s deferred: %s", source.name, reason)
                state.update(last_deferred=reason, last_deferred_at=now)
                self._save(key, state)
                return PollOutcome(source.name, ok=False, error=reason, deferred=True)
            expected = type(err).__name__ in {"FetchError", "SourceError", "StorageError"}
            if expected:
                log.warning("source=%s failed: %s", source.name, reason)
            else:
                log.exception("source=%s failed unexpectedly: %s", source.name, reason)
            streak = int(state.get("error_streak", 0)) + 1
            hint = source.hint(err) if hasattr(source, "hint") else ""
            state.update(
                last_error=reason,
                last_error_at=now,
                last_hint=hint,
                error_streak=streak,
                failures=int(state.get("failures", 0)) + 1,
            )
            if streak == 1 or not state.get("failing_since"):
                state["failing_since"] = now
            if self.health is not None:
                self.health.after_failure(source.name, state, hint)
            self._save(key, state)
            storage = type(err).__name__ == "StorageError"
            return PollOutcome(source.name, ok=False, error=reason, storage=storage)
        # Fetch state (ETag...) is saved only after the mentions are stored: if storing fails,
        # the next poll fetches the same entries again instead of skipping them.
        if self.health is not None:
            self.health.after_success(source.name, state)
        polls = int(state.get("polls", 0)) + 1
        state.update(
            fetch=polled.state,
            last_success_at=to_iso(self.clock.now()),
            error_streak=0,
            failing_since=None,
            last_items=len(polled.mentions),
            last_new=result.new if result is not None else 0,
            polls=polls,
            items_total=int(state.get("items_total", 0)) + len(polled.mentions),
            # Entries beyond what is read per answer: said in `sources`, not lost unsaid. An
            # unchanged feed (304) was not read, so what its last reading cut still stands.
            last_cut=int(state.get("last_cut", 0)) if polled.not_modified else polled.cut,
        )
        self._save(key, state)
        if polled.not_modified:
            log.info("source=%s not modified", source.name)
        return PollOutcome(source.name, ok=True, result=result, not_modified=polled.not_modified)

    def _save(self, key: str, state: dict[str, Any]) -> None:
        try:
            self.repo.set_state(key, state)
        except Exception as err:
            log.error("could not save state for %s: %s", key, err)
