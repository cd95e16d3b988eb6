"""Chat commands typed (or sent as JSON) by a hostile or careless user: characters nobody
sees, a lone surrogate, NUL; the reply is an answer, never a traceback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from core.alerting.lifecycle import AlertService
from core.commands.context import Actor
from core.commands.parsing import tokenize
from core.commands.service import CommandService
from core.domain.clock import FakeClock
from storage.sqlite_repo import SQLiteRepository
from tests.conftest import make_config

ANN = Actor("U1", "ann", "slack")


@pytest.fixture
def service(tmp_path: Path, clock: FakeClock) -> Iterator[CommandService]:
    config = make_config(tmp_path)
    repo = SQLiteRepository(config.data_dir, clock=clock)
    yield CommandService(config, repo, AlertService(repo, clock), clock)
    repo.close()


@pytest.mark.parametrize(
    "text",
    [
        "mentions acme \x00",  # JSON "\u0000": SQLite's full-text query was cut short
        "mentions \x00acme\x01\x1b[31m",
        "mentions acme \ud800",  # JSON "\ud800", or argv bytes that are not UTF-8
        "mentions \udcff",
        "mentions brand:\ud83d",
        "stats \udcff",
    ],
)
def test_invisible_or_broken_characters_get_an_answer(service: CommandService, text: str) -> None:
    reply = service.run(text, ANN)  # raised sqlite3.OperationalError / UnicodeEncodeError
    assert reply.text
    assert not any("\ud800" <= c <= "\udfff" for c in reply.text)
    assert "\x00" not in reply.text and "\x1b" not in reply.text


def test_a_filter_with_a_zero_width_or_bidi_mark_in_it_is_still_a_filter(
    service: CommandService,
) -> None:
    plain = service.run("mentions acme since:24h", ANN).text
    for typed in ("acme \u200bsince:24h", "acme since\u200b:24h", "acme \u202esince:24h\u202c"):
        assert service.run(f"mentions {typed}", ANN).text == plain
    assert "last 24h" in plain


def test_words_lose_what_nobody_sees_and_keep_the_rest() -> None:
    assert tokenize("退款\u200b\u3000limit：5\x00") == ["退款", "limit:5"]
    assert tokenize("a\x1fb\x0bc") == ["a", "b", "c"]  # separators that are whitespace
    assert tokenize("x\udcffy") == ["x\ufffdy"]
