"""Parsing fetched answers in worker processes, for configs with many feeds.

feedparser is pure Python: 2,000 feeds are ~10 s of parsing, and in the bot's own process
that time holds the interpreter lock the poll cycle's other threads (fetching, the
pipeline) need. With at least PROCESSES_FROM feed sources, answers are parsed in a pool of
worker processes (one per core, started the first time one is needed, shared by every
source of the process) and only the mentions come back; until a worker is up, answers
are parsed in the fetching thread. Smaller configs parse in the
thread that fetched, as before: no process is started for them.

What a parser logs in a worker is logged here, under the same logger; a SourceError it
raises is raised here.
"""

from __future__ import annotations

import logging
import os
import pickle
import threading
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor
from concurrent.futures import wait as wait_futures
from concurrent.futures.process import BrokenProcessPool
from datetime import datetime
from typing import Any

from core.domain.models import Mention
from core.domain.processes import worker_pool
from sources.base import SourceError
from sources.records import Parser

log = logging.getLogger("buzzwatch.sources")

PROCESSES_FROM = 100  # feed sources in a config from which answers are parsed in a pool

_lock = threading.Lock()
_pool: ProcessPoolExecutor | None = None
_up: list[Future[int]] = []  # one per worker: done once that worker has started


class _Collect(logging.Handler):
    """A worker's log records of one parse, to be logged again in the bot's process."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        # Only plain values cross the process boundary: the message as it reads.
        record.msg, record.args = record.getMessage(), None
        if record.exc_info:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
        self.records.append(record)


def _parse_here(
    parse: Parser,
    content: bytes,
    source: str,
    now: datetime,
    headers: dict[str, str] | None,
    level: int,
) -> tuple[list[Mention] | None, Exception | None, list[logging.LogRecord]]:
    collect = _Collect()
    root = logging.getLogger("buzzwatch")
    root.setLevel(level)
    root.addHandler(collect)
    try:
        return parse(content, source, now, headers), None, collect.records
    except Exception as err:
        return None, _portable(err), collect.records
    finally:
        root.removeHandler(collect)


def _portable(err: Exception) -> Exception:
    """`err` if it survives the trip back to the bot's process, else a SourceError that says
    what it was (an exception that cannot be rebuilt there would break the whole pool)."""
    try:
        pickle.loads(pickle.dumps(err))
    except Exception:
        return SourceError(f"{type(err).__name__}: {err}")
    return err


def start(wait: bool = False) -> ProcessPoolExecutor:
    """The worker pool, started if it is not (in the background: a worker takes a second or
    two to start); with `wait`, once a worker is up."""
    global _pool, _up
    with _lock:
        if _pool is None:
            workers = max(1, min(os.cpu_count() or 1, 4))
            _pool = worker_pool(workers)  # core.domain.processes: how workers start and stop
            _up = [_pool.submit(os.getpid) for _ in range(workers)]
        pool, up = _pool, _up
    if wait:
        wait_futures(up, return_when=FIRST_COMPLETED)
    return pool


def _started() -> bool:
    return any(f.done() for f in _up)


def parse_in_pool(
    parse: Parser, content: bytes, source: str, now: datetime, headers: dict[str, str] | None
) -> list[Mention]:
    """`parse(content, source, now, headers)` in a worker process; its result, its error."""
    pool = start()
    if not _started():  # the first answers of a run are not held up by the workers' start
        return parse(content, source, now, headers)
    level = logging.getLogger("buzzwatch.sources").getEffectiveLevel()
    try:
        future = pool.submit(_parse_here, parse, content, source, now, headers, level)
        mentions, err, records = future.result()
    except BrokenProcessPool:
        # A worker died (killed, out of memory): this pool takes no more work. The next
        # parse starts a new one; this answer is parsed here.
        log.warning("a feed-parsing worker process died; starting new ones")
        _discard(pool)
        return parse(content, source, now, headers)
    for record in records:
        logging.getLogger(record.name).handle(record)
    if err is not None:
        raise err
    assert mentions is not None
    return mentions


def pooled(parse: Parser) -> Parser:
    """`parse`, run in the worker pool."""

    def run(
        content: bytes, source: str, now: datetime, headers: dict[str, str] | None = None
    ) -> list[Mention]:
        return parse_in_pool(parse, content, source, now, headers)

    return run


def close() -> None:
    """Stop the workers (they are started again if a parse needs them)."""
    _discard(_pool)


def _discard(pool: ProcessPoolExecutor | None) -> None:
    """Stop `pool` and forget it, if it is still the current one."""
    global _pool, _up
    with _lock:
        if pool is None or pool is not _pool:
            return
        _pool, _up = None, []
    pool.shutdown(wait=False, cancel_futures=True)


def uses_pool(config: Any) -> bool:
    """Whether a config has enough feed sources for parsing in worker processes."""
    feeds = [s for s in config.sources if s.enabled and getattr(s, "path", None) is None]
    return len(feeds) >= PROCESSES_FROM
