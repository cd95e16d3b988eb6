"""One poll cycle's mentions -> analysis -> routing -> alerts -> storage, in one batch.

Nothing leaves the process here: alerts and their sends are stored (the outbox) and the
delivery worker sends them. A mention seen before is skipped, also after a restart.

Sources polled at once share a batch: what several threads hand in while another batch is
being processed is taken together (one pass of the encoder, one grouping query, one
transaction), and each caller gets its own source's result. Alone (one source, an import),
a call is its own batch, as before.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from core.alerting.grouping import BURST_KIND, AlertMaker, Batch
from core.alerting.routing import Router
from core.config import Config
from core.domain.clock import Clock
from core.domain.models import Alert, Mention, to_iso
from core.domain.repository import Repository
from core.intake.offload import CHUNK, AnalysisWorkers
from core.intake.routing_ahead import RoutingAhead, read_silences
from rules.analyze import Analyzer

log = logging.getLogger("buzzwatch.pipeline")

# A batch takes waiting calls up to about this many mentions (always at least one call):
# enough for the encoder's batches and one transaction, small enough for a short one.
BATCH_MENTIONS = 4000
# The interpreter's thread switch interval the bot runs with (sys.setswitchinterval; Python's
# default is 5 ms): a batch's analysis and rows are CPU-bound Python, and a chat thread
# waited up to the interval for the GIL after each of an ack's database calls (issue 16:
# ack p50 16 -> 7 ms, p95 50 -> 24 ms on SQLite with a writer storing 500-mention cycles).
SWITCH_INTERVAL = 0.0005


class PipelineStopped(Exception):
    """Buzzwatch is shutting down: a batch was left between two of its chunks. None of it was
    marked seen (the seen ids go with the alerts): the next start processes it again."""

    deferred = True  # the poller does not count this as the source failing


@dataclass
class CycleResult:
    source: str
    fetched: int = 0
    new: int = 0
    matched: int = 0
    alerts: list[Alert] = field(default_factory=list)
    grouped: int = 0


@dataclass
class _Call:
    """One process() call waiting for a batch: its source's mentions and, once done, what
    came of them."""

    source: str
    mentions: list[Mention]
    alert: bool
    backlog: bool
    result: CycleResult | None = None
    error: BaseException | None = None


class Pipeline:
    def __init__(
        self, config: Config, repo: Repository, analyzer: Analyzer, router: Router, clock: Clock
    ) -> None:
        self.config = config
        self.maker = AlertMaker(config, router)
        self.repo = repo
        self.analyzer = analyzer
        self.router = router
        self.clock = clock
        # Cycles from several sources may finish at once; grouping must see each other's
        # alerts: one batch at a time, under this lock.
        self._lock = threading.Lock()
        self._waiting: deque[_Call] = deque()
        self._waiting_lock = threading.Lock()
        self.workers = AnalysisWorkers(analyzer)
        self._stopping = threading.Event()

    def stop(self) -> None:
        """Shutting down (Ctrl-C, SIGTERM): a batch being analysed is left at its next chunk
        (a first poll of many feeds took seconds to finish), and later ones at their first.
        Safe from any thread."""
        self._stopping.set()

    def close(self) -> None:
        """Stop the analysis worker processes, if any were started."""
        self.workers.close()

    def process(
        self, source: str, mentions: list[Mention], alert: bool = True, backlog: bool = False
    ) -> CycleResult:
        """With alert=False (a backfill), mentions are analysed and stored, and no alert is made.
        With backlog=True (a source's first poll), alerts are made, each on its own: what had
        piled up before Buzzwatch looked is not a burst."""
        if not mentions:
            # Nothing to analyse, store or group (a feed that has not changed): no waiting
            # behind a busy batch, which in a burst kept every poll thread waiting here
            # while other sources' polls and lease take-overs were due (bench/scale.py).
            log.info("source=%s fetched=0 new=0 matched=0 alerts=0 grouped=0 stormed=0", source)
            return CycleResult(source=source)
        call = _Call(source, list(mentions), alert, backlog)
        with self._waiting_lock:
            self._waiting.append(call)
        # Whoever holds the lock processes every call waiting then (this one's, too, or a
        # later holder does): calls that arrive during a batch make the next one.
        with self._lock:
            while call.result is None and call.error is None:
                self._run(self._take())
        if call.error is not None:
            raise call.error
        assert call.result is not None
        return call.result

    def _analyse(
        self,
        mentions: list[Mention],
        found: list[list[str]],
        analysed: Callable[[list[Mention]], None],
    ) -> list[Mention]:
        """The brand-matched ones of these mentions (`found`: each one's brands), analysed;
        `analysed` gets them CHUNK by CHUNK, in order."""
        if self.workers.takes(sum(1 for brands in found if brands)):
            # A big batch: a worker process analyses part of it while this one stores it.
            for m, brands in zip(mentions, found, strict=True):
                m.brands = list(brands)
            matched = [m for m in mentions if m.brands]
            self.workers.analyse(matched, analysed)
            return matched
        matched, chunk = [], []
        for m, brands in zip(mentions, found, strict=True):
            self.analyzer.analyze(m, only_brands=True, encode=False, matched=brands)
            if m.brands:
                matched.append(m)
                chunk.append(m)
                if len(chunk) == CHUNK:
                    analysed(chunk)
                    chunk = []
        if chunk:
            analysed(chunk)
        return matched

    def _take(self) -> list[_Call]:
        """The oldest waiting call, and those after it that can share its batch (the same
        alert and backlog settings) up to BATCH_MENTIONS mentions."""
        with self._waiting_lock:
            first = self._waiting.popleft()
            calls, size, rest = [first], len(first.mentions), deque[_Call]()
            while self._waiting:
                call = self._waiting.popleft()
                same = (call.alert, call.backlog) == (first.alert, first.backlog)
                if same and size + len(call.mentions) <= BATCH_MENTIONS:
                    calls.append(call)
                    size += len(call.mentions)
                else:
                    rest.append(call)
            self._waiting = rest
        return calls

    def _run(self, calls: list[_Call]) -> None:
        try:
            try:
                self._process(calls)
            except Exception as err:
                if len(calls) == 1 or isinstance(err, PipelineStopped):
                    for call in calls:
                        call.error = err
                    return
                # None of the batch was marked seen (its seen ids go with its alerts, in one
                # transaction; mentions stored before are stored again, replaced by id):
                # each source alone, so the one whose mentions fail is the only one that fails.
                log.warning("a batch of %d sources failed (%s); each alone", len(calls), err)
                for call in calls:
                    try:
                        self._process([call])
                    except Exception as one:
                        call.error = one
        except BaseException as err:  # a stop, even mid-retry: no caller waits for ever
            for call in calls:
                if call.result is None and call.error is None:
                    call.error = err
            raise

    def _process(self, calls: list[_Call]) -> None:
        alert, backlog = calls[0].alert, calls[0].backlog
        results = [CycleResult(source=c.source, fetched=len(c.mentions)) for c in calls]
        # The first call to bring a mention has it (an entry another source already brought
        # is seen, as it would be a moment later); within one answer a repeat's last copy.
        by_id: dict[str, Mention] = {}
        owner: dict[str, int] = {}
        for n, call in enumerate(calls):
            for i, m in {m.id: m for m in call.mentions}.items():
                if i not in owner:
                    by_id[i], owner[i] = m, n
        unseen = self.repo.unseen(by_id)
        for i in unseen:
            results[owner[i]].new += 1
        analysis = self.config.analysis
        if backlog and analysis.encoder_rate:
            # A first poll's backlog (posts written before Buzzwatch looked) is decided by
            # the fast model: where the encoder has a time budget, that time goes to posts
            # as they come, and starting many feeds does not wait for it.
            found = self.analyzer.match([by_id[i] for i in unseen])
        else:
            # The encoder reads the batch's unsure posts together, within its time budget.
            found = list(self.analyzer.prepare([by_id[i] for i in unseen]))
        # The mentions first, outside the storage lock (the store writes them in short
        # transactions: an ack typed meanwhile waits for one of those, not for the cycle),
        # chunk by chunk as they are analysed (with a worker, while it analyses the next);
        # their seen ids go with the alerts below, so a crash in between redoes the cycle.
        # They are routed then too (routing_ahead: checked again under the lock).
        ahead = self.repo.stores_mentions_ahead
        routes = RoutingAhead(self.maker, self.repo, alert, self.clock.now())

        def analysed(mentions: list[Mention]) -> None:
            if self._stopping.is_set():
                raise PipelineStopped("stopped before its mentions were all analysed")
            if ahead:
                self.repo.save_cycle(mentions, [], [], [])
            routes.add(mentions)

        matched = self._analyse([by_id[i] for i in unseen], found, analysed)
        for i in unseen:
            m = by_id[i]
            if m.brands:
                results[owner[i]].matched += 1
                log.debug(
                    "mention %s %.60r: brands=%s lang=%s sentiment=%+.2f flags=%s severity=%s",
                    m.id,
                    m.title or m.text,
                    m.brands,
                    m.lang,
                    m.sentiment,
                    m.flags,
                    m.severity,
                )
            else:
                log.debug(
                    "mention %s %.60r: no brand keyword matched; remembered as seen",
                    i,
                    m.title or m.text,
                )

        now = self.clock.now()
        routed: list[int] = [0] * len(calls)
        # Grouping reads alerts, changes them and writes them back: under the storage lock,
        # so an ack or a delivery record made meanwhile is not overwritten.
        with self.repo.locked():
            batch = Batch()
            if matched and alert:
                # Routing first: only the mentions a route takes are grouped, so only theirs
                # need a dedup key and a fingerprint (most of a busy cycle's route nowhere).
                silences = read_silences(self.repo)
                routing = routes.routing(matched, silences, now)
                batch.silenced = routing.silenced
                for r in routing.routed:
                    routed[owner[r.mention.id]] += 1
                if routing.routed:
                    # Only what grouping can use: recent alerts, open ones of these mentions'
                    # stories, open storms, and open alerts a route's burst still counts.
                    horizon = to_iso(now - self.config.grouping.window) or ""
                    bursts = [r.burst.window for r in self.config.routes if r.burst]
                    counted = to_iso(now - max(bursts)) if bursts else horizon
                    grouping = self.config.grouping
                    fps = [r.fingerprint for r in routing.routed] if grouping.enabled else []
                    candidates = self.repo.grouping_candidates(
                        {r.key for r in routing.routed},
                        horizon,
                        counted or horizon,
                        near=(fps, grouping.max_distance),
                    )
                    batch = self.maker.make(
                        matched,
                        candidates,
                        self.repo.pending_outbox(),
                        silences,
                        self.repo.next_alert_ids,
                        now,
                        backlog=backlog,
                        routing=routing,
                    )
            stored = [] if ahead else matched
            self.repo.save_cycle(stored, unseen, batch.new + batch.changed, batch.outbox)

        # Each new alert is its source's: a mention's alert the mention's, a burst the
        # source of the alert that opened it.
        made = {a.id: a for a in batch.new}
        stormed = [0] * len(calls)
        for a in batch.new:
            first = made.get(a.members[0]) if a.kind == BURST_KIND and a.members else a
            n = owner.get(first.mention_id, 0) if first is not None else 0
            if a.storm_of:
                stormed[n] += 1
            else:
                results[n].alerts.append(a)
            if a.kind != BURST_KIND:
                routed[n] -= 1  # started a story; the others of the route's joined one
        for n, (call, result) in enumerate(zip(calls, results, strict=True)):
            result.grouped = max(0, routed[n])
            log.info(
                "source=%s fetched=%d new=%d matched=%d alerts=%d grouped=%d stormed=%d%s",
                call.source,
                result.fetched,
                result.new,
                result.matched,
                len(result.alerts),
                result.grouped,
                stormed[n],
                " (first poll: a backlog, not a burst)" if backlog and result.alerts else "",
            )
            call.result = result
        if batch.silenced:
            log.info("silenced: %d mentions stored without an alert", batch.silenced)
