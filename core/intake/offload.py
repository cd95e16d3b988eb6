"""A big batch's analysis shared with a worker process, while the bot's process stores it.

The analysis of a brand-matched mention is pure (rules.analyze: Inputs in, Findings out)
and most of a fast-engine batch's CPU; storing, routing and grouping are the rest and stay
here. For a batch of at least OFFLOAD_FROM brand-matched mentions (an import, a burst, a
first poll), its mentions are cut in CHUNK-mention chunks, all handed to the worker pool in
order; meanwhile this process stores and routes each chunk once it and those before it are
analysed (the rows in the same order and the same transactions as an in-process batch), and
when the next chunk is not analysed yet it takes the first chunk no worker has started and
analyses it itself. So both cores work on the batch and neither waits for the other's
share; a chunk a worker has started and not finished in PATIENCE times what one takes here
(a worker stuck, or short of CPU) is analysed here too.

Smaller batches (most poll cycles) are analysed in this process: no pickling, no waiting
for another process. The pool (``analysis.workers`` processes; 0: none) is started at the
first big batch, in the background: until a worker is up, big batches are analysed here
too; it stops after IDLE_STOP_S without a big batch (its memory back). A worker that dies
takes no more work: what it had is analysed here (nothing is lost), a warning is logged,
and the next big batch starts a new pool (after GIVE_UP_AFTER pools in a row died
before a worker analysed a chunk, none: big batches are then analysed here). The default engine never uses it: its encoder,
budgeted per poll cycle, runs in this process.

A worker is sent the Inputs of its chunk (capped text, language, brands, author, metrics)
and answers with their Findings; it builds its own Analyzer from the configuration's
analysis sections once, at start. Results equal in-process analysis (scores to ~1e-15: the
n-gram weights are summed in set order, which follows each process's string hash seed, as
it does between two runs of the bot).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import CancelledError, Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from core.config import Config
from core.domain.models import Mention
from core.domain.processes import worker_pool
from rules.analyze import Analyzer, Findings, Inputs

log = logging.getLogger("buzzwatch.pipeline")

# Brand-matched mentions in a batch from which a worker shares its analysis: below it, the
# pickling and the hand-over cost more than they save.
OFFLOAD_FROM = 200
# How many times what a chunk takes here this process waits for a chunk a worker started,
# before it analyses the chunk itself; before it has timed one here, UNTIMED_WAIT_S.
PATIENCE = 3.0
UNTIMED_WAIT_S = 30.0
# Seconds without a big batch after which the workers stop (their memory back: see README).
IDLE_STOP_S = 600.0
# Mentions per chunk: PostgreSQL's write transaction (storage.common.MENTION_TX; SQLite cuts
# each chunk into its own shorter slices), so a batch's rows go in the same transactions as
# when it is analysed here.
CHUNK = 50
# Worker pools that died in a row, none with a chunk analysed (an out-of-memory killer that
# takes each new worker as it loads its models): then no more are started.
GIVE_UP_AFTER = 3

_analyzer: Analyzer | None = None  # a worker process's own


def _worker_init(config: Config) -> None:
    global _analyzer
    _analyzer = Analyzer(config)
    for text, lang in (("warm up", "en"), ("预热", "zh")):  # load the models before any work
        _analyzer.findings(Inputs(text, lang, [], "", {}, text), encode=False)


def _analyse(chunk: list[Inputs]) -> list[Findings]:
    assert _analyzer is not None, "not an analysis worker"
    return [_analyzer.findings(inputs, encode=False) for inputs in chunk]


# The sections of the configuration analysis reads (rules.analyze.Analyzer): all a worker is
# sent. The others are left at their defaults: what a section added later holds, or a URL
# with a password in it (rsshub.base_url: https://user:pass@...), stays in the bot's process.
ANALYSIS_SECTIONS = frozenset({"brands", "kols", "rules", "analysis"})


def analysis_sections(config: Config) -> Config:
    """The configuration with only what analysis reads (sources, destinations, chat
    settings, URLs: what may name or hold a secret stays in the bot's process)."""
    unread = set(Config.model_fields) - ANALYSIS_SECTIONS
    return config.model_copy(update={k: Config.model_fields[k].get_default() for k in unread})


def _ready(future: Future[list[Findings]] | None) -> bool:
    return future is not None and future.done()


def _takes(future: Future[list[Findings]] | None, done: bool) -> bool:
    """Whether this process may take a chunk: not analysed here yet, and never handed over
    or taken back before a worker started it."""
    return not done and (future is None or future.cancel())


class AnalysisWorkers:
    def __init__(self, analyzer: Analyzer, workers: int | None = None) -> None:
        self.analyzer = analyzer
        if workers is None:
            workers = analyzer.analysis.workers
        self.workers = 0 if analyzer.analysis.engine == "default" else workers
        self._lock = threading.Lock()
        self._pool: ProcessPoolExecutor | None = None
        self._up: list[Future[int]] = []  # one per worker: done once it has started
        self._idle: threading.Timer | None = None  # stops the workers after IDLE_STOP_S
        self.idle_stop_s = IDLE_STOP_S
        self._chunk_s: float | None = None  # what a chunk takes here lately, in seconds
        self._closed = False  # close() was called: no pool is started again
        self._deaths = 0  # pools that died in a row, none with a chunk analysed

    def takes(self, matched: int) -> bool:
        """Whether a batch of this many brand-matched mentions is shared with the workers."""
        return (
            self.workers > 0
            and matched >= OFFLOAD_FROM
            and not self._closed
            and self._deaths < GIVE_UP_AFTER
        )

    def start(self, wait: bool = False) -> ProcessPoolExecutor:
        """The pool, started if it is not (in the background); with `wait`, once a worker
        is up."""
        pool = self._started()
        if pool is None:
            raise RuntimeError("the analysis workers were closed")
        if wait:
            for f in self._up:
                f.result()
        return pool

    def _started(self) -> ProcessPoolExecutor | None:
        """The pool, started if it is not; None once close() was called."""
        with self._lock:
            if self._pool is None and not self._closed:
                config = analysis_sections(self.analyzer.config)
                self._pool = worker_pool(self.workers, _worker_init, (config,))
                self._up = [self._pool.submit(os.getpid) for _ in range(self.workers)]
            return self._pool

    def pids(self) -> list[int]:
        """The process ids of the workers that have started."""
        return [f.result() for f in self._up if f.done() and not f.exception()]

    def close(self) -> None:
        """Stop the workers, for good: a batch in flight, or one that comes later (a poll
        thread the shutdown has not stopped yet), is analysed in this process. (A batch that
        started the pool again after close() left a worker for IDLE_STOP_S.)"""
        with self._lock:
            self._closed = True
        self._wake()
        self._discard(self._pool)

    def _wake(self) -> None:
        with self._lock:
            if self._idle is not None:
                self._idle.cancel()
                self._idle = None

    def _rest(self, pool: ProcessPoolExecutor) -> None:
        """After a big batch: the workers stop unless another comes within idle_stop_s."""
        with self._lock:
            if pool is not self._pool or self._closed:
                return
            self._idle = threading.Timer(self.idle_stop_s, self._discard, (pool,))
            self._idle.daemon = True
            self._idle.start()

    def _discard(self, pool: ProcessPoolExecutor | None) -> None:
        with self._lock:
            if pool is None or pool is not self._pool:
                return
            self._pool, self._up = None, []
        pool.shutdown(wait=False, cancel_futures=True)

    def analyse(self, mentions: list[Mention], analysed: Callable[[list[Mention]], None]) -> None:
        """Fill the analysis of brand-matched mentions (their brands set), the workers' share
        and this process's; `analysed` gets them chunk by chunk, in order, once analysed (to
        store and route them while the workers analyse the next ones)."""
        inputs = [self.analyzer.inputs(m) for m in mentions]
        self._wake()
        pool = self._started()
        try:
            if pool is not None and any(f.done() for f in self._up):
                self._share(pool, mentions, inputs, analysed)
            else:  # the workers' start does not hold a batch up (nor does a close()): all
                for lo in range(0, len(mentions), CHUNK):  # here, chunk by chunk
                    self._here(mentions, inputs, lo, lo + CHUNK)
                    analysed(mentions[lo : lo + CHUNK])
        finally:
            if pool is not None:
                self._rest(pool)

    def _share(
        self,
        pool: ProcessPoolExecutor,
        mentions: list[Mention],
        inputs: list[Inputs],
        analysed: Callable[[list[Mention]], None],
    ) -> None:
        cuts = list(range(0, len(mentions), CHUNK))
        futures: list[Future[list[Findings]] | None] = []
        for lo in cuts:
            try:
                futures.append(pool.submit(_analyse, inputs[lo : lo + CHUNK]))
            except RuntimeError:  # the pool broke, or was closed meanwhile: the rest here
                self._broken(pool)
                futures += [None] * (len(cuts) - len(futures))
                break
        try:
            done = [False] * len(cuts)
            for n, lo in enumerate(cuts):
                # Until chunk n is analysed: take the first chunk no worker has started yet
                # (the chunks so finish about in order, and are stored as they do).
                while not done[n] and not _ready(futures[n]):
                    k = next((k for k in range(n, len(cuts)) if _takes(futures[k], done[k])), -1)
                    if k < 0:
                        break  # all left are a worker's, or done
                    self._here(mentions, inputs, cuts[k], cuts[k] + CHUNK)
                    done[k] = True
                if not done[n]:
                    self._collect(pool, futures[n], mentions, inputs, lo, lo + CHUNK)
                analysed(mentions[lo : lo + CHUNK])
        finally:
            for f in futures:
                if f is not None:
                    f.cancel()

    def _collect(
        self,
        pool: ProcessPoolExecutor,
        future: Future[list[Findings]] | None,
        mentions: list[Mention],
        inputs: list[Inputs],
        lo: int,
        hi: int,
    ) -> None:
        assert future is not None  # a chunk never handed over is taken before (see analyse)
        try:
            # A worker that has not finished it in PATIENCE times what a chunk takes here
            # is stuck or short of CPU (a loaded machine): this process does it instead.
            wait = UNTIMED_WAIT_S if self._chunk_s is None else PATIENCE * self._chunk_s
            found = future.result(timeout=wait)
        except TimeoutError:
            self._here(mentions, inputs, lo, hi)
            return
        except (BrokenProcessPool, CancelledError):  # a worker died; the pool was closed
            self._broken(pool)
            self._here(mentions, inputs, lo, hi)
            return
        for m, f in zip(mentions[lo:hi], found, strict=True):
            f.apply(m)
        self._deaths = 0

    def _broken(self, pool: ProcessPoolExecutor) -> None:
        if pool is self._pool:
            self._deaths += 1
            if self._deaths < GIVE_UP_AFTER:
                log.warning("an analysis worker process died; its mentions are analysed here")
            else:
                log.warning(
                    "analysis worker processes died %d times in a row (out of memory?): big "
                    "batches are analysed in this process from now on (analysis.workers: 0 "
                    "says so for good)",
                    self._deaths,
                )
        self._discard(pool)

    def _here(self, mentions: list[Mention], inputs: list[Inputs], lo: int, hi: int) -> None:
        start = time.perf_counter()
        for m, i in zip(mentions[lo:hi], inputs[lo:hi], strict=True):
            self.analyzer.findings(i, encode=False).apply(m)
        if hi - lo >= CHUNK:  # a full chunk: what one takes here now (moving average)
            took = time.perf_counter() - start
            self._chunk_s = took if self._chunk_s is None else 0.7 * self._chunk_s + 0.3 * took
