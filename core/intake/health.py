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

from core.config import Config, HealthConfig
from core.domain.clock import Clock
from core.domain.durations import format_duration
from core.domain.models import OutboxItem, from_iso, to_iso
from core.domain.repository import Repository

log = logging.getLogger("buzzwatch.health")

MAX_REPORT_ROWS = 40


def state_key(source_name: str) -> str:
    """Where a source's fetch state and health are stored."""
    return f"source:{source_name}"


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

    def _send(self, title: str, text: str, name: str, state: dict[str, Any]) -> bool:
        """Queue the message and store `state` (the source's record as it is once the message
        is queued) in one write, so a crash cannot queue it twice or lose it."""
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
            self.repo.add_outbox(items, {state_key(name): state})
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
        marked = {**state, "health_alerted_at": to_iso(now)}
        if self._send(f"Source failing: {name}", text, name, marked):
            state["health_alerted_at"] = marked["health_alerted_at"]

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
        unmarked = {k: v for k, v in state.items() if k != "health_alerted_at"}
        if self._send(f"Source recovered: {name}", text, name, unmarked):
            state.pop("health_alerted_at", None)


def _cut(state: dict[str, Any]) -> str:
    """Entries the last reading of the feed left out for being over the per-answer limit
    (sources.rss.MAX_ENTRIES)."""
    cut = int(state.get("last_cut", 0))
    if not cut:
        return ""
    return f" · {cut} older entr{'y' if cut == 1 else 'ies'} cut, over the per-answer limit"


def sources_report(config: Config, repo: Repository, now: datetime, tz: tzinfo | None) -> str:
    """Every configured source with its health, failing ones first (the `sources` command)."""
    rows: list[tuple[int, str]] = []
    counts = {"ok": 0, "failing": 0, "new": 0, "off": 0}
    for cfg in config.sources:
        state = repo.get_state(state_key(cfg.name)) or {}
        label = f"{cfg.name} [{cfg.type}]"
        streak = int(state.get("error_streak", 0))
        if not cfg.enabled:
            counts["off"] += 1
            rows.append((3, f"- {label} disabled"))
        elif streak:
            counts["failing"] += 1
            since = from_iso(state.get("failing_since"))
            local = since.astimezone(tz) if since else None
            # With the zone's name, as alerts and `mentions` show times (11-28 16:00 CST).
            when = f" since {local:%m-%d %H:%M} {local.tzname() or ''}".rstrip() if local else ""
            hint = f" — {state['last_hint']}" if state.get("last_hint") else ""
            rows.append(
                (
                    0,
                    f"✗ {label} failing{when} ({streak} in a row): {state.get('last_error', '')}{hint}",
                )
            )
        elif state.get("last_success_at"):
            counts["ok"] += 1
            ago = format_duration(now - (from_iso(state["last_success_at"]) or now))
            rows.append(
                (
                    1,
                    f"✓ {label} ok {ago} ago · {state.get('last_items', 0)} item(s) last poll, "
                    f"{state.get('items_total', 0)} in {state.get('polls', 0)} poll(s)"
                    + _cut(state),
                )
            )
        else:
            counts["new"] += 1
            rows.append((2, f"· {label} not polled yet"))
    rows.sort(key=lambda r: r[0])
    head = (
        f"{len(config.sources)} source(s): {counts['ok']} ok, {counts['failing']} failing, "
        f"{counts['new']} not polled yet, {counts['off']} disabled."
    )
    shown = [text for _, text in rows[:MAX_REPORT_ROWS]]
    if len(rows) > MAX_REPORT_ROWS:
        shown.append(f"… and {len(rows) - MAX_REPORT_ROWS} more")
    return "\n".join([head, *shown])
