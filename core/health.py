"""Source health: one alert when a source keeps failing, one when it recovers.

The poller keeps each source's health in its state record (last success, last error,
error streak, items per poll). When the streak reaches `health.failures`, one text message
goes to each `health.to` destination through the outbox; nothing more until the source
polls fine again, then one recovery message. Whether the alert went out is stored in the
same record, so a restart neither repeats it nor forgets the recovery.
"""

from __future__ import annotations

import logging
from datetime import datetime, tzinfo
from typing import Any

from core.clock import Clock
from core.config import HealthConfig
from core.durations import format_duration
from core.models import OutboxItem, from_iso, to_iso
from core.repository import Repository

log = logging.getLogger("buzzwatch.health")


class HealthMonitor:
    def __init__(
        self, repo: Repository, config: HealthConfig, clock: Clock, tz: tzinfo | None = None
    ) -> None:
        self.repo = repo
        self.failures = config.failures
        self.to = list(config.to)
        self.clock = clock
        self.tz = tz

    def _local(self, when: datetime, now: datetime) -> str:
        local, today = when.astimezone(self.tz), now.astimezone(self.tz)
        return f"{local:%H:%M}" if local.date() == today.date() else f"{local:%Y-%m-%d %H:%M}"

    def _send(self, title: str, text: str) -> bool:
        now = to_iso(self.clock.now()) or ""
        items = [
            OutboxItem(
                id="",
                destination=dest,
                action="post",
                message={"kind": "text", "title": title, "text": text},
                created_at=now,
            )
            for dest in self.to
        ]
        try:
            if items:
                self.repo.add_outbox(items)
        except Exception as err:  # not stored: try again after the next poll
            log.error("health message not queued: %s", err)
            return False
        return True

    def after_failure(self, name: str, state: dict[str, Any], hint: str = "") -> None:
        """Called with the source's updated state after a failed poll; may alert, once."""
        if state.get("health_alerted_at") or int(state.get("error_streak", 0)) < self.failures:
            return
        now = self.clock.now()
        since = from_iso(state.get("failing_since")) or now
        reason = state.get("last_error", "unknown error")
        text = f"{name} source failing since {self._local(since, now)}: {reason}"
        if hint:
            text += f" — {hint}"
        text += f" ({state['error_streak']} polls in a row)"
        log.warning("health: %s", text)
        if self._send(f"Source failing: {name}", text):
            state["health_alerted_at"] = to_iso(now)

    def after_success(self, name: str, state: dict[str, Any]) -> None:
        """Called before the state of a successful poll is saved; one recovery message."""
        alerted = from_iso(state.get("health_alerted_at"))
        if alerted is None:
            return
        now = self.clock.now()
        since = from_iso(state.get("failing_since")) or alerted
        failed = int(state.get("error_streak", 0))
        text = (
            f"{name} source recovered at {self._local(now, now)} after {failed} failed "
            f"poll(s); it was down for {format_duration(now - since)}"
        )
        log.info("health: %s", text)
        if self._send(f"Source recovered: {name}", text):
            state.pop("health_alerted_at", None)
