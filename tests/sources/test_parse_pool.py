"""Answers parsed in worker processes (configs with many feeds) give the same mentions, the
same errors and the same log lines as parsed in the thread that fetched them."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sources import parsing
from sources.base import SourceError
from sources.records import MAX_ENTRIES
from sources.rss import parse_feed
from tests.conftest import make_config
from tests.standin.feeds import rss

NOW = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _workers() -> Iterator[None]:
    parsing.start(wait=True)
    yield
    parsing.close()


def items(n: int) -> list[dict[str, str]]:
    return [
        {
            "title": f"Acme story {i}",
            "description": f"&lt;p&gt;Acme <b>{i}</b>&lt;/p&gt;",
            "link": f"https://news.example.com/{i}",
            "guid": f"https://news.example.com/{i}",
            "pubDate": f"Sat, 28 Nov 2026 0{i % 8}:00:00 GMT",
        }
        for i in range(n)
    ]


def test_same_mentions_as_in_the_thread() -> None:
    body = rss(items(MAX_ENTRIES + 3), title="many")
    assert parsing._started()
    here = parse_feed(body, "feed", NOW)
    there = parsing.pooled(parse_feed)(body, "feed", NOW, None)
    assert [m.to_dict() for m in there] == [m.to_dict() for m in here]
    assert getattr(there, "cut", None) == here.cut == 3


def test_errors_and_log_lines_come_back(caplog: pytest.LogCaptureFixture) -> None:
    with pytest.raises(SourceError, match="HTML page"):
        parsing.parse_in_pool(parse_feed, b"<!doctype html><html>hi</html>", "feed", NOW, None)
    with caplog.at_level(logging.WARNING, logger="buzzwatch.sources"):
        parsing.parse_in_pool(parse_feed, rss(items(MAX_ENTRIES + 1)), "big", NOW, None)
    assert any(
        r.name == "buzzwatch.sources"
        and "source=big" in r.getMessage()
        and "1 older cut" in r.getMessage()
        for r in caplog.records
    )


def test_only_configs_with_many_feeds_use_it(tmp_path: Path) -> None:
    def feeds(n: int) -> list[dict[str, str]]:
        return [{"name": f"f{i}", "type": "rss", "url": f"https://x.example/{i}"} for i in range(n)]

    few = make_config(tmp_path, sources=feeds(parsing.PROCESSES_FROM - 1))
    many = make_config(tmp_path, sources=feeds(parsing.PROCESSES_FROM))
    assert not parsing.uses_pool(few)
    assert parsing.uses_pool(many)


def test_workers_exit_when_the_bot_is_killed(tmp_path: Path) -> None:
    """A bot killed outright (no clean exit) leaves no parsing process behind."""
    script = tmp_path / "bot.py"
    script.write_text(
        "import sys\n"
        f"sys.path.insert(0, {str(Path(__file__).resolve().parents[2])!r})\n"
        "import multiprocessing\n"
        "from datetime import UTC, datetime\n"
        "from sources import parsing\n"
        "from sources.rss import parse_feed\n"
        "if __name__ == '__main__':\n"
        "    parsing.start(wait=True)\n"
        "    parsing.parse_in_pool(parse_feed, b'<rss version=\"2.0\"><channel></channel></rss>',"
        " 'f', datetime.now(UTC), None)\n"
        "    print(' '.join(str(p.pid) for p in multiprocessing.active_children()),"
        " flush=True)\n"
        "    import time; time.sleep(60)\n"
    )
    bot = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        assert bot.stdout is not None
        workers = [int(p) for p in bot.stdout.readline().split()]
        assert workers
    finally:
        bot.kill()
        bot.wait()
    deadline = time.monotonic() + 15
    alive = workers
    while alive and time.monotonic() < deadline:
        time.sleep(0.1)
        alive = [p for p in workers if _running(p)]
    assert alive == []


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A worker that exited but is not reaped yet (its parent, killed, was init's to reap).
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] == "Z")


def dies_in_a_worker(
    content: bytes, source: str, now: datetime, headers: dict[str, str] | None = None
) -> list:
    """Kills the worker process that runs it (as the OOM killer would); parses in the bot."""
    import multiprocessing

    if multiprocessing.parent_process() is not None:
        os._exit(1)
    return parse_feed(content, source, now, headers)


class Picky(Exception):
    """An error that cannot be rebuilt from its args in another process."""

    def __init__(self, what: str, why: str) -> None:
        super().__init__(f"{what}: {why}")


def raises_picky(
    content: bytes, source: str, now: datetime, headers: dict[str, str] | None = None
) -> list:
    raise Picky("odd", "feed")


def test_a_dead_worker_costs_one_parse_in_the_thread_not_every_later_one(
    caplog: pytest.LogCaptureFixture,
) -> None:
    body = rss(items(3))
    with caplog.at_level(logging.WARNING, logger="buzzwatch.sources"):
        first = parsing.parse_in_pool(dies_in_a_worker, body, "feed", NOW, None)
    assert [m.title for m in first] == [m.title for m in parse_feed(body, "feed", NOW)]
    assert any("worker process died" in r.getMessage() for r in caplog.records)
    parsing.start(wait=True)  # a new pool
    again = parsing.parse_in_pool(parse_feed, body, "feed", NOW, None)
    assert len(again) == 3


def test_an_error_that_cannot_cross_processes_comes_back_as_a_source_error() -> None:
    with pytest.raises(SourceError, match="Picky: odd: feed"):
        parsing.parse_in_pool(raises_picky, rss(items(1)), "feed", NOW, None)
    assert len(parsing.parse_in_pool(parse_feed, rss(items(2)), "feed", NOW, None)) == 2
