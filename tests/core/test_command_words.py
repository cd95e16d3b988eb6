"""What a chat user sees of the command list: the help text word for word, every alias
(Chinese words too) doing what its English command does, and which lines only read."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.alerting.lifecycle import AlertService
from core.commands.context import Actor
from core.commands.service import CommandService, is_read_only
from core.domain.clock import FakeClock
from storage.tinydb_repo import TinyDBRepository
from tests.conftest import make_config

ANN = Actor("U1", "ann", "slack")

HELP = """Buzzwatch commands:
  mentions <words> [since:24h] [sentiment:neg|pos|neu] [flag:question|kol|negative|critical] [brand:NAME] [source:NAME] [limit:N] [offset:N] [page:N]
      search stored mentions, newest first (since defaults to 7d, limit to 10)
  ack <id>                 take an alert: you are on it
  assign <id> <person>     hand an alert to someone
  resolve <id>             close an alert
  snooze <id> <duration>   silence an alert for e.g. 1h, 4h, 24h
  status                   open alerts and the delivery queue
  status all [page:N]      every open alert with its status, severity, brand, age and title
  sources                  every source with its health (last success, errors)
  deadletters              the messages that could not be delivered, and why
  deadletters retry        queue them all again (once the cause is fixed)
  deadletters clear        delete them all
  digest [brand] [since:24h]   the digest: volume, sentiment, top mentions, questions, KOLs
  stats [brand] [since:7d]     mention counts by day, sentiment, source and aspect
  silence <brand|source|route> <name> <duration>   no new alerts for it until then
  silence                  list silences; unsilence <n> ends one
  help                     this text
Alert ids look like A12. 中文: 查询 确认 指派 解决 暂停 状态 静默 日报 统计 帮助"""

ALIASES = {
    "确认": "ack",
    "指派": "assign",
    "分配": "assign",
    "解决": "resolve",
    "查询": "mentions",
    "搜索": "mentions",
    "帮助": "help",
    "状态": "status",
    "暂停": "snooze",
    "日报": "digest",
    "摘要": "digest",
    "统计": "stats",
    "静默": "silence",
    "search": "mentions",
    "find": "mentions",
    "?": "help",
}


@pytest.fixture
def service(tmp_path: Path, clock: FakeClock):
    config = make_config(tmp_path)
    repo = TinyDBRepository(config.data_dir, clock=clock)
    yield CommandService(config, repo, AlertService(repo, clock), clock)
    repo.close()


@pytest.mark.parametrize("text", ["help", "HELP", "/help", "", "   ", "帮助", "?"])
def test_the_help_text_word_for_word(service: CommandService, text: str) -> None:
    reply = service.run(text, ANN)
    assert reply.ok and reply.text == HELP


@pytest.mark.parametrize(("alias", "command"), sorted(ALIASES.items()))
@pytest.mark.parametrize("args", ["", " A1", " A1 bob", " since:24h"])
def test_an_alias_does_what_its_command_does(
    service: CommandService, alias: str, command: str, args: str
) -> None:
    english = service.run(command + args, ANN)
    aliased = service.run(alias + args, ANN)
    assert (aliased.text, aliased.ok) == (english.text, english.ok)


@pytest.mark.parametrize(
    ("line", "read_only"),
    [
        ("", True),
        ("help", True),
        ("帮助", True),
        ("mentions refund", True),
        ("查询 退款", True),
        ("status", True),
        ("status all page:2", True),
        ("/status", True),
        ("状态", True),
        ("sources", True),
        ("digest acme", True),
        ("日报", True),
        ("stats", True),
        ("统计 acme", True),
        ("silence", True),
        ("静默", True),
        ("silence source weibo 2h", False),
        ("静默 source weibo 2h", False),
        ("unsilence 1", False),
        ("unsilence", False),
        ("deadletters", True),
        ("deadletters retry", False),
        ("deadletters clear", False),
        ("ack A1", False),
        ("确认 A1", False),
        ("assign A1 bob", False),
        ("分配 A1 bob", False),
        ("resolve A1", False),
        ("snooze A1 1h", False),
        ("暂停 A1 1h", False),
        ("no-such-command", True),
        ("run", True),  # CommandService's own method names are not commands
        ("x" * 501, True),
    ],
)
def test_which_lines_only_read(line: str, read_only: bool) -> None:
    assert is_read_only(line) is read_only


@pytest.mark.parametrize("word", ["run", "__init__", "_guarded", "alert_id", "permission"])
def test_only_commands_are_commands(service: CommandService, word: str) -> None:
    reply = service.run(word, ANN)
    assert not reply.ok and reply.text.startswith("Unknown command")
