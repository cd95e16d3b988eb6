"""What every notifier promises the outbox (core/domain/notifier.py), checked against each one.

Like Alertmanager's notify/test: one set of tests, run for the console, the JSON webhook,
Slack and DingTalk, each against its stand-in service (tests/standin/) on 127.0.0.1. A new
notifier gets these by adding a `Platform` below.

The promises:
- it declares what the outbox reads: `platform`, `rate_limit` (None or (count, seconds)),
  `edits_in_place`;
- every message kind renders to a body the platform accepts, within the platform's limits,
  and rendering is pure (same body twice, the message left as it was);
- hostile text (mentions, markup, links, terminal controls) renders inert, and nobody is
  ever mentioned unless the destination's config says so;
- a 429 or a 5xx is retryable, with the platform's Retry-After; another 4xx is permanent;
  an unreachable platform is retryable; `send` never raises;
- an update edits the alert's message in place only where `edits_in_place` is declared:
  elsewhere it is a new message.

`platform`, `rate_limit` and `edits_in_place` are what the Notifier protocol
(core/domain/notifier.py) declares and the outbox worker (core/delivery/worker.py) reads.
"""

from __future__ import annotations

import copy
import io
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from core.domain.clock import SystemClock
from core.domain.models import Alert
from core.domain.notifier import Delivery, Outgoing
from listeners.console import ConsoleNotifier
from listeners.dingtalk.notifier import DingTalkNotifier
from listeners.slack.notifier import SlackNotifier, make_client
from listeners.webhook import WebhookNotifier
from tests.dingtalk.helpers import INJECTIONS as DINGTALK_INJECTIONS
from tests.dingtalk.helpers import assert_inert as assert_dingtalk_inert
from tests.dingtalk.helpers import make_alert
from tests.slack.helpers import INJECTIONS as SLACK_INJECTIONS
from tests.slack.helpers import live_sequences
from tests.standin import dingtalk as dingtalk_standin
from tests.standin.chat import ChatServer
from tests.standin.dingtalk import RobotServer
from tests.standin.slack import CHANNEL, TOKEN, Failure, SlackAPI, block_problems

TERMINAL_INJECTIONS = ["\x1b[2J\x1b]0;owned\x07", "\u202eevil\u202c", "a\rb\x08c"]
HOSTILE = SLACK_INJECTIONS + DINGTALK_INJECTIONS + TERMINAL_INJECTIONS
RETRY_AFTER = 30  # over slack_sdk's own short wait (2 s), so the outbox gets it back


@dataclass
class Platform:
    """One notifier with its stand-in, and how to read what the platform did."""

    notifier: Any
    # Make the platform answer the next send with this HTTP status (and Retry-After);
    # None: the notifier speaks no HTTP (the console).
    fail: Callable[[int, int | None], None] | None
    shown: Callable[[], int]  # messages the platform shows (posts, not edits)
    limit_problems: Callable[[dict[str, Any]], list[str]]  # what the platform would refuse
    live_markup: Callable[[dict[str, Any], str], list[str]]  # text that would act, not show
    edited: Callable[[dict[str, str]], bool] = lambda ref: True  # the message at ref changed
    unreachable: Callable[[], None] | None = None  # take the platform off the network
    closers: list[Callable[[], None]] = field(default_factory=list)


class CountingStream(io.StringIO):
    """Counts messages: the console prints each one with a single flush."""

    flushes = 0

    def flush(self) -> None:
        self.flushes += 1
        super().flush()


def _console() -> Iterator[Platform]:
    stream = CountingStream()

    def printed_problems(payload: dict[str, Any], evil: str) -> list[str]:
        notifier.send(Outgoing("post", {"kind": "text", "text": payload["text"]}), payload)
        last = stream.getvalue()
        return re.findall(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]", last)

    notifier = ConsoleNotifier(stream)
    yield Platform(
        notifier,
        fail=None,
        shown=lambda: stream.flushes,
        limit_problems=lambda payload: [] if isinstance(payload.get("text"), str) else ["text"],
        live_markup=printed_problems,
    )


def _webhook() -> Iterator[Platform]:
    with ChatServer() as chat:
        notifier = WebhookNotifier(chat.url, None, None, timeout=5.0)

        def fail(status: int, retry_after: int | None) -> None:
            headers = {"Retry-After": str(retry_after)} if retry_after else {}
            chat.respond = lambda body: (status, headers)

        def round_trip(payload: dict[str, Any], evil: str) -> list[str]:
            # Plain JSON: hostile text cannot change the body's shape; it arrives as sent.
            notifier.send(Outgoing("post", {"kind": "text"}), payload)
            return [] if chat.received[-1] == payload else ["the body changed on the way"]

        def edited(ref: dict[str, str]) -> bool:
            last = chat.received[-1]
            return last["action"] == "update" and last["ref"] == ref

        yield Platform(
            notifier,
            fail=fail,
            shown=lambda: sum(1 for body in chat.received if body["action"] != "update"),
            limit_problems=lambda payload: [],  # the webhook sets no limit of its own
            live_markup=round_trip,
            edited=edited,
            unreachable=chat.__exit__,
        )
        notifier.client.close()


def _slack() -> Iterator[Platform]:
    with SlackAPI() as api:
        notifier = SlackNotifier("slack", CHANNEL, make_client(TOKEN, api.api_url))

        def fail(status: int, retry_after: int | None) -> None:
            error = "ratelimited" if status == 429 else "invalid_arguments"
            # slack_sdk itself retries a 5xx once before the outbox hears of it
            times = 2 if status >= 500 else 1
            api.fail("chat.postMessage", *[Failure(status, error, retry_after)] * times)

        def limit_problems(payload: dict[str, Any]) -> list[str]:
            problems = block_problems(payload["blocks"])
            if len(payload["text"]) > 40_000:
                problems.append(f"text of {len(payload['text'])} characters")
            return problems

        def live(payload: dict[str, Any], evil: str) -> list[str]:
            found = live_sequences(payload)
            if payload.get("link_names") is not False:
                found.append("link_names is not off: @names would notify")
            return found

        def edited(ref: dict[str, str]) -> bool:
            updates = api.calls("chat.update")
            return bool(updates) and updates[-1].body["ts"] == ref["ts"]

        yield Platform(
            notifier,
            fail=fail,
            shown=lambda: len(api.state.messages),
            limit_problems=limit_problems,
            live_markup=live,
            edited=edited,
            unreachable=api.__exit__,
        )


def _dingtalk() -> Iterator[Platform]:
    with RobotServer() as robot:
        notifier = DingTalkNotifier("ops", robot.webhook, robot.secret, SystemClock())

        def fail(status: int, retry_after: int | None) -> None:
            robot.status = status
            robot.status_headers = {"Retry-After": str(retry_after)} if retry_after else {}

        def limit_problems(payload: dict[str, Any]) -> list[str]:
            size = len(json.dumps(payload, ensure_ascii=False).encode())
            too_big = [f"{size} bytes"] if size >= dingtalk_standin.MAX_BYTES else []
            shape = dingtalk_standin.shape_problem(payload)
            return too_big + ([shape] if shape else [])

        def live(payload: dict[str, Any], evil: str) -> list[str]:
            if "at" in payload:  # no at_mobiles / at_user_ids configured: nobody is @-ed
                return [f"mentions {payload['at']}"]
            body = payload.get("markdown") or payload.get("actionCard") or {}
            try:
                assert_dingtalk_inert(body.get("text", ""))
            except AssertionError as err:
                return [f"live markdown: {err}"]
            return []

        yield Platform(
            notifier,
            fail=fail,
            shown=lambda: len(robot.accepted),
            limit_problems=limit_problems,
            live_markup=live,
            unreachable=robot.__exit__,
            closers=[notifier.http.close],
        )


PLATFORMS = {"console": _console, "webhook": _webhook, "slack": _slack, "dingtalk": _dingtalk}
OVER_HTTP = ["webhook", "slack", "dingtalk"]  # the console speaks no HTTP: no status codes


def _made(name: str) -> Iterator[Platform]:
    made = PLATFORMS[name]()
    plat = next(made)
    yield plat
    for close in plat.closers:
        close()
    next(made, None)


@pytest.fixture(params=list(PLATFORMS))
def platform(request: pytest.FixtureRequest) -> Iterator[Platform]:
    yield from _made(request.param)


@pytest.fixture(params=OVER_HTTP)
def http_platform(request: pytest.FixtureRequest) -> Iterator[Platform]:
    yield from _made(request.param)


def fail_next(platform: Platform, status: int, retry_after: int | None) -> None:
    assert platform.fail is not None
    platform.fail(status, retry_after)


# --- messages of every kind ---------------------------------------------------------------


def storm_of(members: list[Alert]) -> Alert:
    storm = Alert(
        id="A900",
        mention_id="",
        brand="Acme",
        severity="medium",
        flags=["storm"],
        destinations=["ops"],
        created_at=datetime(2026, 11, 28, 8, 0, tzinfo=UTC).isoformat(),
        kind="storm",
        route="people",
        members=[m.id for m in members],
        count=len(members),
        summary={"title": "Storm on route people: many alerts"},
    )
    for m in members:
        m.storm_of = storm.id
    return storm


def messages(alert: Alert) -> dict[str, Outgoing]:
    """One Outgoing of each kind the outbox stores (see core/domain/notifier.py)."""
    members = [make_alert(f"A{i}") for i in range(2, 7)]
    return {
        "alert": Outgoing("post", {"kind": "alert"}, alert=alert),
        "text": Outgoing("post", {"kind": "text", "title": "Digest", "text": "3 alerts today"}),
        "batch": Outgoing("post", {"kind": "batch", "alert_ids": ["A2"]}, alerts=members),
        "storm": Outgoing("post", {"kind": "alert"}, alert=storm_of(members), alerts=members),
    }


def send(platform: Platform, out: Outgoing) -> Delivery:
    payload = platform.notifier.render(out)
    return platform.notifier.send(out, payload)


def test_it_declares_what_the_outbox_reads(platform: Platform) -> None:
    notifier = platform.notifier
    assert isinstance(notifier.platform, str) and notifier.platform
    assert callable(notifier.render) and callable(notifier.send)
    rate_limit = notifier.rate_limit
    if rate_limit is not None:
        count, seconds = rate_limit
        assert isinstance(count, int) and count >= 1 and seconds > 0, rate_limit
    assert isinstance(notifier.edits_in_place, bool)


@pytest.mark.parametrize("kind", ["alert", "text", "batch", "storm"])
def test_every_kind_renders_within_limits_and_is_accepted(platform: Platform, kind: str) -> None:
    out = messages(make_alert())[kind]
    before = copy.deepcopy(out.message)
    payload = platform.notifier.render(out)
    assert platform.notifier.render(out) == payload  # rendering is pure
    assert out.message == before
    json.dumps(payload)  # a plain JSON body
    assert platform.limit_problems(payload) == []
    delivery = platform.notifier.send(out, payload)
    assert delivery.ok, delivery.error
    assert delivery.ref and all(isinstance(v, str) for v in delivery.ref.values())
    assert platform.shown() == 1


def test_a_note_replies_to_the_alerts_message(platform: Platform) -> None:
    posted = send(platform, Outgoing("post", {"kind": "alert"}, alert=make_alert()))
    note = Outgoing("reply", {"kind": "note", "text": "acked by ann"}, ref=posted.ref)
    payload = platform.notifier.render(note)
    assert platform.limit_problems(payload) == []
    assert platform.notifier.send(note, payload).ok


def test_a_huge_message_still_fits_the_platform(platform: Platform) -> None:
    alert = make_alert(title="艾克米" * 2000, text="很难吃 " * 20_000, author="x" * 5000)
    many = [make_alert(f"A{i}", title="标题" * 300) for i in range(2, 300)]
    for out in (
        Outgoing("post", {"kind": "alert"}, alert=alert),
        Outgoing("post", {"kind": "batch", "alert_ids": []}, alerts=many),
        Outgoing("post", {"kind": "alert"}, alert=storm_of(many), alerts=many),
        Outgoing("post", {"kind": "text", "title": "T" * 1000, "text": "line\n" * 30_000}),
    ):
        payload = platform.notifier.render(out)
        assert platform.limit_problems(payload) == [], out.message
        assert platform.notifier.send(out, payload).ok


@pytest.mark.parametrize("evil", HOSTILE)
def test_hostile_text_renders_inert_and_mentions_nobody(platform: Platform, evil: str) -> None:
    alert = make_alert(title=evil, text=f"正文 {evil} 正文", author=evil)
    for out in (
        Outgoing("post", {"kind": "alert"}, alert=alert),
        Outgoing("update", {"kind": "alert"}, alert=alert, ref={"channel": CHANNEL, "ts": "1.2"}),
        Outgoing("post", {"kind": "text", "title": evil, "text": evil}),
        Outgoing("reply", {"kind": "note", "text": evil}, ref=None),
    ):
        payload = platform.notifier.render(out)
        assert platform.live_markup(payload, evil) == [], payload


# --- failures -------------------------------------------------------------------------------


def test_429_is_retryable_after_the_platforms_wait(http_platform: Platform) -> None:
    fail_next(http_platform, 429, RETRY_AFTER)
    delivery = send(http_platform, messages(make_alert())["alert"])
    assert not delivery.ok and delivery.retryable
    assert delivery.retry_after == RETRY_AFTER
    assert http_platform.shown() == 0


@pytest.mark.parametrize("status", [500, 502, 503])
def test_5xx_is_retryable(http_platform: Platform, status: int) -> None:
    fail_next(http_platform, status, None)
    delivery = send(http_platform, messages(make_alert())["alert"])
    assert not delivery.ok and delivery.retryable, delivery
    assert str(status) in delivery.error


@pytest.mark.parametrize("status", [400, 404])
def test_another_4xx_is_permanent(http_platform: Platform, status: int) -> None:
    fail_next(http_platform, status, None)
    delivery = send(http_platform, messages(make_alert())["alert"])
    assert not delivery.ok and not delivery.retryable, delivery
    assert delivery.error


def test_an_unreachable_platform_is_retryable(http_platform: Platform) -> None:
    assert http_platform.unreachable is not None
    http_platform.unreachable()
    delivery = send(http_platform, messages(make_alert())["alert"])
    assert not delivery.ok and delivery.retryable, delivery


# --- updates --------------------------------------------------------------------------------


def test_updates_edit_in_place_only_where_declared(platform: Platform) -> None:
    alert = make_alert()
    posted = send(platform, Outgoing("post", {"kind": "alert"}, alert=alert))
    assert posted.ok
    alert.status = "acked"
    update = Outgoing("update", {"kind": "alert"}, alert=alert, ref=posted.ref)
    updated = send(platform, update)
    assert updated.ok, updated.error
    if platform.notifier.edits_in_place:
        assert updated.ref == posted.ref  # the alert's message stays where it was
        assert platform.edited(posted.ref)
        assert platform.shown() == 1
    else:
        assert platform.shown() == 2  # it cannot edit: the change is a message of its own
