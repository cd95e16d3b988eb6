"""The world the workflow tests run in (tests/core/test_workflow_*.py): a pipeline, the outbox and
the SLA watcher on a fake clock, console notifiers that record what they sent with the
time, and the stories they are fed."""

from __future__ import annotations

import io
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from core.alerting.lifecycle import AlertService
from core.alerting.routing import Router
from core.alerting.sla import SlaWatcher
from core.commands.service import CommandService
from core.delivery.worker import Deliverer
from core.domain.clock import FakeClock
from core.domain.models import Mention
from core.intake.pipeline import Pipeline
from core.intake.polling import Poller
from listeners.console import ConsoleNotifier
from rules.analyze import Analyzer
from sources.base import SourceContext
from sources.rss import FileSource
from storage.tinydb_repo import TinyDBRepository
from tests.conftest import make_config

START = datetime(2026, 11, 28, 2, 0, tzinfo=UTC)  # 10:00 in Asia/Shanghai


class Recorder(ConsoleNotifier):
    """A console notifier that also keeps what it sent, with the time; it stands for a chat
    that edits its messages in place (Slack), so every update reaches it."""

    edits_in_place = True

    def __init__(self, clock: FakeClock) -> None:
        super().__init__(io.StringIO())
        self.clock = clock
        self.sent: list[tuple[datetime, str, dict[str, Any]]] = []

    def send(self, out, payload):
        self.sent.append((self.clock.now(), out.action, out.message))
        return super().send(out, payload)

    def posts(self) -> list[dict[str, Any]]:
        return [m for _, action, m in self.sent if action == "post"]


class World:
    def __init__(
        self,
        tmp_path: Path,
        routes: list[dict[str, Any]],
        destinations: dict[str, Any] | None = None,
        rate: tuple[int, float] | None = None,
        grouping: dict[str, Any] | None = None,
        **settings: Any,
    ) -> None:
        self.clock = FakeClock(START)
        dests = destinations or {"team": {"type": "console"}, "boss": {"type": "console"}}
        feed = {"name": "feed", "type": "rss", "path": str(tmp_path / "feed.xml")}
        extra = {"grouping": grouping, **settings} if grouping else settings
        self.config = make_config(
            tmp_path, routes=routes, destinations=dests, sources=[feed], **extra
        )
        self.repo = TinyDBRepository(self.config.data_dir, clock=self.clock)
        self.pipeline = Pipeline(
            self.config, self.repo, Analyzer(self.config), Router(self.config.routes), self.clock
        )
        self.notifiers = {name: Recorder(self.clock) for name in dests}
        for notifier in self.notifiers.values():
            notifier.rate_limit = rate
        quiet = {n: d.quiet_hours for n, d in self.config.destinations.items() if d.quiet_hours}
        self.deliverer = Deliverer(
            self.repo,
            self.notifiers,
            self.clock,
            rng=random.Random(1),
            quiet_hours=quiet,
            tz=self.config.tz,
        )
        self.sla = SlaWatcher(self.config, self.repo, self.clock)
        self.commands = CommandService(
            self.config, self.repo, AlertService(self.repo, self.clock), self.clock
        )
        self.n = 0
        self.feed = tmp_path / "feed.xml"
        self.source = FileSource(
            self.config.sources[0], SourceContext(self.config, None, self.clock)
        )
        self.poller = Poller(self.repo, self.pipeline, self.clock)
        self.items: list[str] = []

    def push(self, *texts: str, author: str = "someone") -> None:
        """One poll of posts whose title is their text."""
        self.post(*((text, text, author) for text in texts))

    def post(self, *posts: tuple[str, str, str]) -> None:
        """One poll of (title, text, author) posts: titles need not repeat the text."""
        mentions = []
        for title, text, author in posts:
            self.n += 1
            mentions.append(
                Mention(
                    id=f"m{self.n}",
                    source="feed",
                    url=f"https://example.com/{self.n}",
                    title=title,
                    text=text,
                    author=author,
                    fetched_at=self.clock.now(),
                )
            )
        self.pipeline.process("feed", mentions)

    def poll_feed(self, *posts: tuple[str, str]) -> None:
        """The feed gains these (title, author) posts, and the source polls it."""
        for title, author in posts:
            self.n += 1
            self.items.append(
                f"<item><title>{title}</title><description>{title}</description>"
                f"<link>https://example.com/{self.n}</link><author>{author}</author></item>"
            )
        self.feed.write_text(
            "<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel><title>f</title>"
            + "".join(reversed(self.items))
            + "</channel></rss>",
            encoding="utf-8",
        )
        assert self.poller.poll(self.source).ok

    def tick(self, minutes: float) -> None:
        """Let time pass in small steps, running the workers as the scheduler would."""
        end = self.clock.now() + timedelta(minutes=minutes)
        while self.clock.now() < end:
            self.clock.advance(10)
            self.sla.check()
            self.deliverer.deliver_due()


STORIES = [
    "Acme burger gave my whole family food poisoning last night",
    "Acme delivery arrived two hours late and cold",
    "Acme app keeps crashing when I try to pay",
    "Acme staff were rude to my grandmother today",
    "Acme raised prices again, a small fries now costs five dollars",
    "Acme drive-through got my order wrong for the third time",
    "Acme coffee machine was broken all week at the airport branch",
    "Acme restroom was filthy and out of soap",
    "Acme charged my card twice for one meal",
    "Acme loyalty points vanished from my account",
    "Acme parking lot is always full at lunch",
    "Acme milkshake tasted sour and off",
]


CRISIS_AND_TEAM = [
    {"name": "crisis", "match": {"flags": ["critical"]}, "to": ["boss"], "burst": None},
    {"name": "team", "match": {"flags": ["negative"]}, "to": ["team"], "burst": None},
]


DELIVERY = "艾克米外卖送了两个小时才到，汤都洒了，再也不点了"


POISONING = "昨天在艾克米吃了汉堡，全家食物中毒进了医院"


BURSTY = {
    "name": "complaints",
    "match": {"brand": "Acme"},
    "to": ["team"],
    "burst": {"threshold": 3, "window": "10m"},
    "group_interval": "30s",
}


POISONINGS = [
    "Acme burger gave my whole family food poisoning last night",
    "Food poisoning after the Acme chicken wrap, spent the night in A&E",
    "Acme salad bar: my colleague and I both got food poisoning",
]
