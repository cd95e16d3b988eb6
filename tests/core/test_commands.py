"""The chat-neutral command layer: parsing, queries, lifecycle, bad input."""

from __future__ import annotations

import re
import threading
from datetime import timedelta
from pathlib import Path

import pytest

from core.alerting.lifecycle import AlertService, new_alert, outbox_items
from core.commands.context import Actor, UsageError
from core.commands.parsing import parse_query
from core.commands.service import CommandService
from core.domain.clock import FakeClock
from core.domain.models import Mention
from core.domain.query import MAX_LIMIT
from storage.tinydb_repo import TinyDBRepository
from tests.conftest import make_config

ANN = Actor("U1", "ann", "slack")
BOB = Actor("d2", "bob", "dingtalk")


@pytest.fixture
def service(tmp_path: Path, clock: FakeClock):
    config = make_config(tmp_path)
    repo = TinyDBRepository(config.data_dir, clock=clock)
    mentions = []
    for i, (title, flags, sentiment, source) in enumerate(
        [
            ("艾克米外卖退款没人理", ["negative"], -0.8, "weibo"),
            ("请问艾克米几点关门？", ["question"], 0.0, "weibo"),
            ("Acme fries are great", ["positive"], 0.9, "reddit"),
            ("Acme refund took three weeks", ["negative"], -0.6, "reddit"),
        ]
    ):
        mentions.append(
            Mention(
                id=f"m{i}",
                source=source,
                url=f"https://example.com/{i}",
                title=title,
                text=title,
                brands=["Acme"],
                flags=flags,
                sentiment=sentiment,
                published=clock.now() - timedelta(hours=i),
                fetched_at=clock.now(),
            )
        )
    old = Mention(
        id="old",
        source="weibo",
        url="",
        title="艾克米退款 old",
        text="",
        brands=["Acme"],
        flags=["negative"],
        sentiment=-0.9,
        published=clock.now() - timedelta(days=3),
        fetched_at=clock.now() - timedelta(days=3),
    )
    alerts = [
        new_alert(aid, m, "r", ["console"], clock.now())
        for aid, m in zip(repo.next_alert_ids(2), mentions[:2], strict=True)
    ]
    repo.save_cycle(
        [*mentions, old],
        [],
        alerts,
        [o for a in alerts for o in outbox_items(a, "post", clock.now())],
    )
    yield CommandService(config, repo, AlertService(repo, clock), clock)
    repo.close()


@pytest.mark.parametrize(
    ("query", "titles"),
    [
        ("mentions 退款", ["艾克米外卖退款没人理"]),
        ("mentions 退款 since:7d", ["艾克米外卖退款没人理", "艾克米退款 old"]),
        ("mentions refund", ["Acme refund took three weeks"]),
        (
            "mentions sentiment:neg since:24h",
            ["艾克米外卖退款没人理", "Acme refund took three weeks"],
        ),
        ("mentions flag:question", ["请问艾克米几点关门？"]),
        ("mentions source:reddit", ["Acme fries are great", "Acme refund took three weeks"]),
        ("mentions brand:acme limit:1", ["艾克米外卖退款没人理"]),
        ("查询 ＲＥＦＵＮＤ", ["Acme refund took three weeks"]),  # Chinese alias, full-width words
        ("mentions nothing-like-this", []),
        ("mentions ries", []),  # Latin words match from a word start, not inside "fries"
        ("mentions fri", ["Acme fries are great"]),
        ("mentions 卖退", ["艾克米外卖退款没人理"]),  # Chinese matches anywhere
    ],
)
def test_mentions_queries(service: CommandService, query: str, titles: list[str]) -> None:
    if "since" not in query and "7d" not in query:
        query += " since:24h"
    reply = service.run(query, ANN)
    assert reply.ok
    assert [d["title"] for d in reply.mentions] == titles


def test_mentions_pages(service: CommandService) -> None:
    first = service.run("mentions Acme since:24h limit:2", ANN)
    assert first.total == 2 and first.next_offset is None
    first = service.run("mentions since:24h limit:2", ANN)
    assert first.total == 4 and first.next_offset == 2
    second = service.run("mentions since:24h limit:2 offset:2", ANN)
    assert [d["title"] for d in second.mentions] == [
        "Acme fries are great",
        "Acme refund took three weeks",
    ]
    assert second.next_offset is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ack", "usage: ack <id>"),
        ("ack 12", "is not an alert id"),
        ("ack A999", "No alert A999"),
        ("assign A1", "usage: assign <id> <person>"),
        ("snooze A1 forever", "not a duration"),
        ("snooze A1 30d", "between 1m and 7d"),
        ("snooze A1 99999999999999999999d", "too long"),
        ("silence brand Acme 9999999999999w", "too long"),
        ("mentions x since:1000000d", "is too long"),
        ("digest since:99999999999999999999d", "is too long"),
        ("ack A¹", "is not an alert id"),
        ("mentions limit:¹", "whole number"),
        ("mentions since:soon", "not a duration"),
        ("mentions flag:angry", "unknown flag"),
        ("mentions limit:many", "whole number"),
        ("mentions brand:Nobody", "Unknown brand"),
        ("dance", "Unknown command"),
        ("ack " + "x" * 10_000, "too long"),
        ('ack "A1', "is not an alert id"),  # an unbalanced quote still parses
    ],
)
def test_bad_input_gets_a_short_clear_answer(
    service: CommandService, text: str, expected: str
) -> None:
    reply = service.run(text, ANN)
    assert not reply.ok
    assert expected in reply.text
    assert len(reply.text) < 300


def test_lifecycle_and_history(service: CommandService, clock: FakeClock) -> None:
    assert service.run("ack a1", ANN).ok
    reply = service.run("ack A1", BOB)
    assert not reply.ok and "already acked by ann" in reply.text
    assert service.run("assign A1 carol", BOB).text == "A1 assigned to carol by bob."
    clock.advance(60)
    assert service.run("resolve A1", ANN).ok
    again = service.run("resolve A1", BOB)
    assert not again.ok and "already resolved by ann" in again.text
    alert = service.repo.get_alert("A1")
    assert [(h["action"], h["by"], h["via"]) for h in alert.history] == [
        ("opened", "buzzwatch", "pipeline"),
        ("acked", "ann", "slack"),
        ("assigned", "bob", "dingtalk"),
        ("resolved", "ann", "slack"),
    ]
    assert alert.acked_at and alert.resolved_at > alert.acked_at


def test_concurrent_acks_exactly_one_wins(service: CommandService) -> None:
    barrier = threading.Barrier(8)
    results = []

    def ack(i: int) -> None:
        barrier.wait()
        results.append(service.run("ack A2", Actor(f"U{i}", f"user{i}", "slack")))

    threads = [threading.Thread(target=ack, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [r for r in results if r.ok]
    assert len(winners) == 1
    winner = service.repo.get_alert("A2").acked_by
    assert all(f"already acked by {winner}" in r.text for r in results if not r.ok)


def test_permission_refusal_changes_nothing(
    tmp_path: Path, clock: FakeClock, service: CommandService
) -> None:
    service.permission = lambda actor, alert: (
        None if actor.id == "U1" else "Only the PR team may change Acme alerts."
    )
    reply = service.run("ack A1", BOB)
    assert not reply.ok and "Only the PR team" in reply.text
    assert service.repo.get_alert("A1").status == "open"
    assert service.run("ack A1", ANN).ok


def test_parse_query_keeps_words_and_options() -> None:
    q = parse_query(
        ["food", "poisoning", "since:2d", "flag:critical", "sentiment:neg", "limit:500"]
    )
    assert q.words == ["food", "poisoning"] and q.since == timedelta(days=2)
    assert q.flags == ["critical"] and q.sentiment == "negative" and q.limit == MAX_LIMIT
    with pytest.raises(UsageError):
        parse_query(["since:"])


def test_silence_needs_the_same_permission_as_resolving(service: CommandService) -> None:
    service.permission = lambda actor, alert: (
        None
        if actor.id == "U1"
        else f"Only the PR team may change {alert.brand or 'these'} alerts."
    )
    refused = service.run("silence brand Acme 1h", BOB)
    assert not refused.ok and "Only the PR team may change Acme alerts" in refused.text
    assert service.run("silence", BOB).text == "No silences."
    assert service.run("silence brand acme 1h", ANN).ok
    assert not service.run("unsilence 1", BOB).ok
    assert service.run("unsilence 1", ANN).ok and service.run("silence", ANN).text == "No silences."


def test_silencing_a_source_needs_the_right_to_every_brand(service: CommandService) -> None:
    service.permission = lambda actor, alert: None if actor.id == "U1" else f"not for {alert.brand}"
    assert not service.run("silence route people 1h", BOB).ok
    assert service.run("silence route people 1h", ANN).ok


def many_open_alerts(service: CommandService, clock: FakeClock, n: int) -> list[str]:
    """`n` open alerts (long, hostile titles), each a minute younger than the last; their ids.
    tests/core/test_first_hour.py uses it too."""
    repo = service.repo
    mentions = [
        Mention(
            id=f"many{i}",
            source="weibo",
            url=f"https://example.com/many/{i}",
            title=f"Acme complaint number {i} <!channel> @all " + "long " * 30,
            text="",
            brands=["Acme"],
            flags=["negative"],
            sentiment=-0.7,
            published=clock.now(),
            fetched_at=clock.now(),
        )
        for i in range(n)
    ]
    ids = repo.next_alert_ids(n)
    alerts = []
    for i, (aid, m) in enumerate(zip(ids, mentions, strict=True)):
        alerts.append(new_alert(aid, m, "r", ["console"], clock.now() - timedelta(minutes=n - i)))
    repo.save_cycle(mentions, [], alerts, [])
    return ids


def test_status_all_lists_every_open_alert_a_page_at_a_time(
    service: CommandService, clock: FakeClock
) -> None:
    ids = ["A1", "A2", *many_open_alerts(service, clock, 43)]  # 45 open
    summary = service.run("status", ANN).text
    assert "open: A3 (43m)" in summary and "+35 more" in summary
    assert "status all: every one, with titles" in summary

    listed: list[str] = []
    for page, size in ((1, 20), (2, 20), (3, 5)):
        reply = service.run("status all" + (f" page:{page}" if page > 1 else ""), ANN)
        assert reply.ok, reply.text
        rows = reply.text.splitlines()
        assert rows[0].startswith("45 alert(s) not resolved")
        body = [r for r in rows[1:] if r.startswith("A")]
        assert len(body) == size
        listed += [r.split()[0] for r in body]
        if page < 3:
            assert rows[-1] == f"page {page} of 3; next: status all page:{page + 1}"
    assert sorted(listed) == sorted(ids) and len(set(listed)) == 45
    first = service.run("status all", ANN).text.splitlines()[1]
    assert first.startswith("A3 open · ") and "Acme complaint number 0" in first

    assert service.run("状态 全部 page:3", BOB).text == service.run("status all page:3", ANN).text
    assert not service.run("status all page:4", ANN).ok
    assert not service.run("status everything", ANN).ok
    assert "status all [page:N]" in service.run("help", ANN).text


def test_a_status_all_page_fits_one_chat_message(service: CommandService, clock: FakeClock) -> None:
    from listeners.dingtalk.markdown import render_reply
    from listeners.slack import blocks as bk

    many_open_alerts(service, clock, 30)
    reply = service.run("status all", ANN)
    last_id = reply.text.splitlines()[-2].split()[0]  # the page's last alert, before "next"
    (section,) = bk.reply_blocks(reply.text)
    assert last_id in section["text"]["text"] and "<!channel>" not in section["text"]["text"]
    dingtalk = render_reply(reply)["markdown"]["text"]
    assert last_id in dingtalk and "next: status all page:2" in dingtalk


def test_an_offset_past_the_end_says_the_results_ended(service: CommandService) -> None:
    reply = service.run("mentions Acme since:24h offset:5", ANN)
    assert reply.ok and reply.mentions == [] and reply.total == 2
    assert reply.text.startswith("No more mentions of Acme in the last 24h (2 in all")
    assert "offset:5" in reply.text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "mentions x since:100000d",
            "since:100000d is too long; since: takes between 1m and 3650d",
        ),
        ("mentions x since:0s", "since:0s is too short; since: takes between 1m and 3650d"),
        ("mentions since:soon", "since:soon is not a duration"),
        ("digest since:100000d", "since:100000d is too long; since: takes between 1h and 92d"),
        ("stats since:0s", "since:0s is too short; since: takes between 1h and 92d"),
        ("mentions limit:0", "limit: takes a whole number from 1 (a page shows at most 40)"),
    ],
)
def test_a_since_or_limit_out_of_range_gives_the_range(
    service: CommandService, text: str, expected: str
) -> None:
    reply = service.run(text, ANN)
    assert not reply.ok and expected in reply.text


def test_a_limit_over_the_cap_shows_at_most_a_page(service: CommandService) -> None:
    reply = service.run("mentions limit:500", ANN)
    assert reply.ok and reply.query is not None and reply.query.limit == MAX_LIMIT


def test_an_unknown_source_is_said_with_the_known_ones(tmp_path: Path, clock: FakeClock) -> None:
    config = make_config(
        tmp_path, sources=[{"name": "weibo", "type": "rss", "path": "feed.xml", "every": "5m"}]
    )
    repo = TinyDBRepository(config.data_dir, clock=clock)
    found = Mention(
        id="imp",
        source="import",  # not a configured source: `bot.py import` files rows under it
        url="",
        title="Acme imported",
        text="",
        brands=["Acme"],
        published=clock.now(),
        fetched_at=clock.now(),
    )
    repo.save_cycle([found], [], [], [])
    commands = CommandService(config, repo, AlertService(repo, clock), clock)
    reply = commands.run("mentions source:nope", ANN)
    assert not reply.ok
    assert reply.text.startswith("Unknown source 'nope'; sources: weibo, import.")
    assert [d["title"] for d in commands.run("mentions source:import", ANN).mentions] == [
        "Acme imported"
    ]
    repo.close()


@pytest.mark.parametrize(
    "text",
    ["mentions brand:Nobody", "digest Nobody", "stats brand:Nobody", "silence brand Nobody 1h"],
)
def test_an_unknown_brand_is_said_the_same_way_everywhere(
    service: CommandService, text: str
) -> None:
    reply = service.run(text, ANN)
    assert not reply.ok
    assert reply.text == "Unknown brand 'Nobody'; brands: Acme. Type `help` for usage."


def test_dead_letters_retry_and_clear_need_the_right_to_every_brand(
    service: CommandService,
) -> None:
    """Dead letters may hold any brand's alerts: retrying or clearing them needs what
    silencing a whole source needs; listing them does not."""
    item = service.repo.pending_outbox()[0]
    item.status, item.last_error = "dead", "HTTP 404 \u202egnp.exe\n<!channel> " + "x" * 500
    service.repo.save_outbox(item)
    service.permission = lambda actor, alert: None if actor.id == "U1" else "Not for you."
    listed = service.run("deadletters", BOB)
    assert listed.ok and listed.text.startswith("1 dead letter(s)")
    line = listed.text.splitlines()[1]
    assert "\u202e" not in line and "\n" not in line and len(line) < 250  # capped, one line
    shown = service.run("status", BOB).text  # `status` shows it the same way
    assert f"  dead: {line.strip()}" in shown.splitlines() and "\u202e" not in shown
    refused = service.run("deadletters clear", BOB)
    assert not refused.ok and refused.text == "Not for you."
    assert len(service.repo.dead_letters()) == 1
    assert not service.run("deadletters purge", ANN).ok
    assert service.run("deadletters retry", ANN).text == "Queued 1 dead letter(s) again."
    assert service.repo.dead_letters() == []


@pytest.mark.parametrize(
    "line", ["resolve A1 A2", "解决 A1 A2", "ack A1 #A2", "ack A1 and [A2]", "assign A1 A2 bob"]
)
def test_a_second_alert_id_changes_nothing_and_says_so(service: CommandService, line: str) -> None:
    """`resolve A8 A9` resolved A8 and said nothing of A9, which looked closed too."""
    before = [service.repo.get_alert(a) for a in ("A1", "A2")]
    reply = service.run(line, ANN)
    assert not reply.ok and "takes one alert: nothing was changed" in reply.text
    assert re.search(r"Type `\S+ A1( bob)?`, then `\S+ A2( bob)?`\.", reply.text), reply.text
    assert [service.repo.get_alert(a) for a in ("A1", "A2")] == before
    assert service.run("resolve A1 A1", ANN).ok  # the same id twice is one alert


def test_a_second_alert_id_without_a_person_is_told_a_command_that_works(
    service: CommandService,
) -> None:
    """`assign A1 A2` was told to type `assign A1`, then `assign A2`: two usage errors."""
    before = [service.repo.get_alert(a) for a in ("A1", "A2")]
    reply = service.run("assign A1 A2", ANN)
    assert not reply.ok and "takes one alert: nothing was changed" in reply.text
    assert "`assign A1 <person>`, then `assign A2 <person>`" in reply.text, reply.text
    assert [service.repo.get_alert(a) for a in ("A1", "A2")] == before


def test_chinese_kinds_and_units_after_chinese_command_words(service: CommandService) -> None:
    """`静默 品牌 Acme 1h` and `暂停 A1 1小时` were usage errors: the command word was
    Chinese, its arguments had to be English."""
    said = service.run("静默 品牌 Acme 1小时30分钟", ANN)
    assert said.ok and said.text.startswith("Silenced brand Acme for 1h30m"), said.text
    assert service.run("静默 来源 import 2个小时", ANN).text.startswith(
        "Silenced source import for 2h"
    )
    listed = service.run("silence", ANN).text
    assert "brand Acme for 1h30m more" in listed and "source import for 2h more" in listed
    snoozed = service.run("暂停 A1 1小时", ANN)
    assert snoozed.ok and "snoozed" in snoozed.text
    assert service.run("日报 since:3天", ANN).ok
    wrong = service.run("暂停 A2 一小时", ANN)
    assert not wrong.ok and "not a duration: '一小时'" in wrong.text
    assert not service.run("静默 天气 Acme 1h", ANN).ok
