"""What the Slack handlers (listeners/slack/commands.py, actions.py) need from the rest of
Buzzwatch: the command layer, a way to deliver now, the configured command names, and who
people are (names and user groups from the Web API).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from slack_sdk import WebClient

from core.commands.context import Actor
from core.config import SlackCommandNames
from listeners.context import CommandRunner

log = logging.getLogger("buzzwatch.slack")

DIRECTORY_TTL = 300.0  # seconds a user's name or group list is trusted


class Directory:
    """Names and user-group memberships from the Web API, cached for a few minutes."""

    def __init__(
        self, client: WebClient, with_groups: bool, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.client = client
        self.with_groups = with_groups
        self.clock = clock
        self._lock = threading.Lock()
        self._names: dict[str, tuple[float, str]] = {}
        self._groups: tuple[float, dict[str, tuple[str, ...]]] | None = None

    def name(self, user_id: str, fallback: str = "") -> str:
        with self._lock:
            hit = self._names.get(user_id)
            if hit and self.clock() - hit[0] < DIRECTORY_TTL:
                return hit[1]
        try:
            user = self.client.users_info(user=user_id)["user"]
            profile = user.get("profile", {})
            name = profile.get("display_name") or profile.get("real_name") or user.get("name")
        except Exception as err:  # a name is nice to have; the id still identifies them
            log.warning("users.info %s failed: %s", user_id, err)
            return fallback or user_id
        name = str(name or fallback or user_id)[:80]
        with self._lock:
            self._names[user_id] = (self.clock(), name)
        return name

    def groups_of(self, user_id: str) -> tuple[str, ...]:
        if not self.with_groups:
            return ()
        with self._lock:
            cached = self._groups
        if cached is None or self.clock() - cached[0] >= DIRECTORY_TTL:
            try:
                groups = self.client.usergroups_list(include_users=True)["usergroups"]
            except Exception as err:  # without the list, group rules refuse: fail closed
                log.warning("usergroups.list failed: %s", err)
                return ()
            members: dict[str, list[str]] = {}
            for g in groups:
                for u in g.get("users") or []:
                    members.setdefault(u, []).append(g["id"])
            cached = (self.clock(), {u: tuple(gs) for u, gs in members.items()})
            with self._lock:
                self._groups = cached
        return cached[1].get(user_id, ())


@dataclass
class SlackServices:
    """What the handlers need from the rest of Buzzwatch."""

    commands: CommandRunner
    deliver: Callable[[], Any]  # send what the outbox holds (message updates, thread notes)
    names: SlackCommandNames
    directory: Directory

    def actor(self, user_id: str, user_name: str) -> Actor:
        return Actor(
            id=user_id,
            name=user_name or user_id,
            platform="slack",
            groups=self.directory.groups_of(user_id),
        )

    def deliver_now(self) -> None:
        try:
            self.deliver()
        except Exception:  # the outbox keeps the items; the scheduler tries again
            log.exception("delivery after a Slack action failed")
