"""What a new user met trying `mentions` and friends: the limit's range as it is, every
source a mention can carry, a filter given twice, any whitespace between words."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from app.cli.command import command_text
from app.replies import reply_text
from core.alerting.lifecycle import AlertService
from core.commands.context import Actor, Reply
from core.commands.parsing import alert_id, tokenize
from core.commands.service import CommandService
from core.domain.clock import FakeClock
from core.domain.models import IMPORT_SOURCE, Mention
from core.domain.query import MAX_LIMIT
from sources.importer import DEFAULT_SOURCE
from storage.factory import open_repository
from tests.conftest import make_config

ANN = Actor("U1", "ann", "slack")
LIMIT_SAID = "limit: takes a whole number from 1 (a page shows at most 40)."
TITLES = [f"Acme post {i}" for i in range(60)]


@pytest.fixture
def service(tmp_path: Path, clock: FakeClock) -> Iterator[CommandService]:
    config = make_config(
        tmp_path,
        sources=[{"name": "weibo", "type": "rss", "path": "feed.xml", "every": "5m"}],
        inbound={"port": 0, "source": "pushed"},
    )
    repo = open_repository("sqlite", config.data_dir, clock=clock)
    mentions = [
        Mention(
            id=f"m{i}",
            source="weibo" if i % 2 else IMPORT_SOURCE,
            url=f"https://example.com/{i}",
            title=title,
            text=title,
            brands=["Acme"],
            flags=["negative", "kol"] if i == 0 else ["negative"] if i % 3 == 0 else [],
            sentiment=-0.8 if i % 3 == 0 else 0.1,
            published=clock.now() - timedelta(hours=i),
            fetched_at=clock.now(),
        )
        for i, title in enumerate(TITLES)
    ]
    repo.save_cycle(mentions, [m.id for m in mentions], [], [])
    yield CommandService(config, repo, AlertService(repo, clock), clock)
    repo.close()


# --- 1. limit: says the range it accepts -------------------------------------------------------


def test_limit_zero_says_the_range_limit_really_takes(service: CommandService) -> None:
    refused = service.run("mentions limit:0", ANN)
    assert not refused.ok
    # It said "takes 1 to 50" while limit:100 was accepted (and showed 50).
    assert "1 to 50" not in refused.text
    assert "from 1" in refused.text and f"at most {MAX_LIMIT}" in refused.text
    for wrong in ("limit:-1", "limit:many"):
        assert service.run(f"mentions {wrong}", ANN).text.startswith(LIMIT_SAID)
    taken = service.run("mentions limit:100", ANN)
    assert taken.ok and len(taken.mentions) == MAX_LIMIT == 40
    assert taken.text.endswith(f"showing 1-{MAX_LIMIT}.")


# --- 2. every source a mention can carry ------------------------------------------------------


def test_the_known_sources_include_import_and_the_inbound_endpoint(
    service: CommandService,
) -> None:
    reply = service.run("mentions source:nope", ANN)
    assert not reply.ok
    assert reply.text.startswith("Unknown source 'nope'; sources: weibo, pushed, import.")
    assert DEFAULT_SOURCE == IMPORT_SOURCE  # what `bot.py import` files rows under
    # import and the endpoint's source can be silenced (alerts from `import --alert`, pushes)
    for name in ("import", "pushed"):
        silenced = service.run(f"silence source {name} 1h", ANN)
        assert silenced.ok, silenced.text
    assert "Unknown source" in service.run("silence source nope 1h", ANN).text


# --- 3. a filter given twice ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("mentions brand:acme brand:beta", "brand:acme and brand:beta: a search takes one brand"),
        ("mentions source:weibo source:import", "a search takes one source"),
        ("mentions since:1d since:7d", "since:1d and since:7d disagree: give since: once"),
        ("mentions sentiment:neg sentiment:pos", "give sentiment: once"),
        ("mentions limit:5 limit:10", "give limit: once"),
    ],
)
def test_a_filter_given_twice_differently_is_refused_with_both_values(
    service: CommandService, text: str, said: str
) -> None:
    reply = service.run(text, ANN)
    assert not reply.ok
    assert said in reply.text


def test_a_repeat_that_agrees_is_taken_and_flags_add_up(service: CommandService) -> None:
    same = service.run(
        "mentions since:2d Since:48h brand:Acme brand:acme sentiment:neg sentiment:negative", ANN
    )
    assert same.ok and same.query is not None and same.query.since == timedelta(days=2)
    both = service.run("mentions flag:kol flag:negative", ANN)
    assert both.ok and [d["title"] for d in both.mentions] == ["Acme post 0"]


@pytest.mark.parametrize(
    ("typed", "offset"),
    [("offset:5 offset:10", 10), ("page:2 offset:10", 10), ("offset:10 page:3", 4)],
)
def test_the_last_paging_word_wins(service: CommandService, typed: str, offset: int) -> None:
    # A next-page button or hint adds offset:N to the query as typed, paging words included.
    reply = service.run(f"mentions since:30d limit:2 {typed}", ANN)
    assert reply.ok and reply.query is not None and reply.query.offset == offset


def test_page_is_a_page_of_limit_not_an_offset(service: CommandService) -> None:
    second = service.run("mentions since:30d limit:3 page:2", ANN)
    assert second.ok and [d["title"] for d in second.mentions] == TITLES[3:6]
    assert not service.run("mentions page:0", ANN).ok


# --- 4. any whitespace separates words --------------------------------------------------------


@pytest.mark.parametrize("space", ["\n", "\r\n", "\t", "\u3000", "\xa0", "\u2028", " \n "])
def test_any_whitespace_separates_a_filter_from_the_words(
    service: CommandService, space: str
) -> None:
    reply = service.run(f"mentions post{space}since:2h{space}limit:2", ANN)
    assert reply.ok, reply.text
    assert reply.query is not None
    assert reply.query.words == ["post"]
    assert reply.query.since == timedelta(hours=2) and reply.query.limit == 2
    assert reply.total == 3  # posts 0, 1 and 2 in the last 2 hours


@pytest.mark.parametrize(
    ("command", "words", "read"),
    [
        ("mentions", ["refund\nsince:7d"], ["mentions", "refund", "since:7d"]),
        ("mentions", ["退款\u3000since:24h"], ["mentions", "退款", "since:24h"]),
        ("command", ["mentions acme\nlimit:3"], ["mentions", "acme", "limit:3"]),
        # the options' spelling of `digest --since` and `export --since` is taken
        (
            "mentions",
            ["退款", "--since", "7d", "--limit=3"],
            ["mentions", "退款", "since:7d", "limit:3"],
        ),
        ("mentions", ["x", "--since"], ["mentions", "x", "since:"]),
        # ... after `command` too (`bot.py stats --since 30d` says to run `command stats ...`)
        ("command", ["mentions", "--since", "7d"], ["mentions", "since:7d"]),
        # several arguments: a quoted phrase stays one word, as the shell gave it
        ("mentions", ["food poisoning", "since:7d"], ["mentions", "food poisoning", "since:7d"]),
    ],
)
def test_the_command_line_splits_one_argument_on_any_whitespace(
    command: str, words: list[str], read: list[str]
) -> None:
    args = argparse.Namespace(command=command, query=words, words=words)
    assert tokenize(command_text(args)) == read


def test_a_terminal_reply_says_how_to_see_the_next_page(service: CommandService) -> None:
    # Slack has a More button and DingTalk a line of its own; the console said nothing.
    first = service.run("mentions since:30d", ANN)
    assert reply_text(first).endswith("\n  more: add offset:10 (or page:2)")
    paged = service.run("mentions since:30d limit:2 page:2", ANN)
    assert reply_text(paged).endswith("\n  more: add offset:4 (or page:3)")
    third = service.run("mentions since:30d limit:2 page:2 page:3", ANN)  # as the hint says
    assert [m["id"] for m in third.mentions] == [
        m["id"] for m in service.run("mentions since:30d limit:2 offset:4", ANN).mentions
    ]
    odd = service.run("mentions since:30d limit:4 offset:3", ANN)
    assert reply_text(odd).endswith("\n  more: add offset:7")  # no page starts there
    last = service.run("mentions since:30d offset:55", ANN)
    assert last.ok and len(last.mentions) == 5 and "more:" not in reply_text(last)


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("stats since:1d since:7d", "since:1d and since:7d disagree"),
        ("digest since:2d since:24h", "since:2d and since:24h disagree"),
        ("stats Acme Beta", "Unknown brand 'Beta'"),
    ],
)
def test_a_report_refuses_a_repeated_filter_too(
    service: CommandService, text: str, said: str
) -> None:
    reply = service.run(text, ANN)
    assert not reply.ok and said in reply.text


def test_a_report_takes_one_brand(tmp_path: Path, clock: FakeClock) -> None:
    two = [{"name": "Acme", "keywords": ["acme"]}, {"name": "Beta", "keywords": ["beta"]}]
    config = make_config(tmp_path, brands=two)
    repo = open_repository("sqlite", config.data_dir, clock=clock)
    try:
        commands = CommandService(config, repo, AlertService(repo, clock), clock)
        refused = commands.run("stats acme brand:beta", ANN)
        assert not refused.ok
        assert "brand Acme and brand Beta: a report is about one brand" in refused.text
        assert not commands.run("stats Acme brand:acme since:2d since:7d", ANN).ok
        assert commands.run("stats Acme brand:acme since:2d Since:48h", ANN).ok
    finally:
        repo.close()


@pytest.mark.parametrize("word", ["lang:en", "aspect:price", "Sentiment=neg", "12:30", "a.b:c"])
def test_an_empty_result_names_a_word_that_looked_like_a_filter(
    service: CommandService, word: str
) -> None:
    reply = service.run(f"mentions post {word}", ANN)
    assert reply.ok and reply.total == 0
    key = word.partition(":")[0]
    if word in ("lang:en", "aspect:price"):
        assert f"`{key}:` is not a filter, so it was searched for as a word" in reply.text
        assert "filters: since: sentiment: flag: brand: source: limit: offset:" in reply.text
    else:
        assert reply.text == f"No mentions of post {word} in the last 7d."


def test_a_full_width_colon_after_a_filter_name_is_a_colon(service: CommandService) -> None:
    # What a Chinese keyboard types: since：2h was searched for as a word.
    reply = service.run("mentions post since：2h limit：2", ANN)
    assert reply.ok and reply.query is not None
    assert reply.query.words == ["post"] and reply.query.since == timedelta(hours=2)
    assert reply.total == 3
    assert not service.run("stats since：1d since:7d", ANN).ok  # read as two since:
    assert tokenize("assign A1 张三：客服") == ["assign", "A1", "张三：客服"]


@pytest.mark.parametrize("typed", ["[A1]", "#A1", "a1"])
def test_an_alert_id_copied_from_an_alert_is_taken(typed: str) -> None:
    assert alert_id([typed], "ack <id>") == "A1"


def test_a_mention_row_shows_only_what_the_post_has() -> None:
    # An imported row with no author, flags or link: nothing but its sentiment after it (it
    # ended "? · - · sentiment +0.00 · ").
    bare = Mention(id="i1", source=IMPORT_SOURCE, url="", title="", text="艾克米不错")
    full = Mention(
        id="i2",
        source="weibo",
        url="https://weibo.example/2",
        title="t",
        text="x",
        author="ann",
        flags=["negative", "question"],
        sentiment=-0.5,
    )
    text = reply_text(Reply("2 mentions", mentions=[bare.to_dict(), full.to_dict()]))
    tails = [line for line in text.splitlines() if line.startswith("      ")]
    assert tails == [
        "      sentiment +0.00",
        "      ann · negative,question · sentiment -0.50 · https://weibo.example/2",
    ]
