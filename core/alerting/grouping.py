"""Routed mentions -> alerts and the sends they need, with Alertmanager-style grouping.

- The same story (same dedup key, or a near-duplicate by SimHash) counts on the alert
  people already have instead of posting again; a resolved story that comes back reopens.
- A burst on one route (more than `burst.threshold` new alerts within `burst.window`)
  folds into one burst message that is updated as it grows.
- `group_wait` delays a first post so similar mentions can join it; automatic updates are
  sent at most once per `group_interval` (one pending update renders the latest state).
- Silenced brands, sources and routes make no alert (the mention is still stored).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

from core.alerting.lifecycle import dedup_key, new_alert, outbox_items
from core.alerting.routing import Router, route_label
from core.alerting.similarity import overlap, shingles, simhash, strip_publisher
from core.alerting.views import alert_view
from core.config import Config, RouteConfig
from core.domain.models import Alert, Mention, OutboxItem, Severity, Status, from_iso, to_iso
from rules.titles import says_nothing

log = logging.getLogger("buzzwatch.alerting")

# next_ids(n) reserves n alert ids.
NextIds = Callable[[int], list[str]]

# A burst on one route is one alert of its own (kind BURST_KIND, its members' `storm_of`
# naming it) whose message lists its members. People read it as a "storm" (that is the
# stored kind and the messages' wording); in the code it is a burst, to tell it from a
# brand's volume storm (core/reports/storms.py).
BURST_KIND = "storm"
BURST_LINES = 15  # member lines a burst's summary keeps


def story_text(title: str, text: str, author: str = "") -> str:
    """What near-duplicates are compared on. A title that says nothing (转发微博) is left
    out: every repost shares it, so it would only make unrelated texts look alike."""
    # Many feeds repeat the title as the text: the publisher suffix must go from both.
    body = "" if text.strip() == title.strip() else text[:1000]
    head = "" if says_nothing(title, author) else strip_publisher(title)
    return f"{head}\n{body}"


def _story_shingles(c: Alert | _Story) -> frozenset[str]:
    if isinstance(c, Alert):
        s = c.summary
        return frozenset(
            shingles(story_text(s.get("title", ""), s.get("text", ""), s.get("author", "")))
        )
    return c.shingles


@dataclass
class Batch:
    """What one cycle changes."""

    new: list[Alert] = field(default_factory=list)
    changed: list[Alert] = field(default_factory=list)
    outbox: list[OutboxItem] = field(default_factory=list)
    silenced: int = 0
    _seen: set[str] = field(default_factory=set)

    def add_new(self, alert: Alert) -> None:
        self.new.append(alert)
        self._seen.add(alert.id)

    def touch(self, alert: Alert) -> None:
        if alert.id not in self._seen:
            self._seen.add(alert.id)
            self.changed.append(alert)


@dataclass
class _Story:
    """A new story found in this cycle: its first mention, and copies of it from the same
    cycle (a syndicated item that arrives several times in one feed)."""

    mention: Mention
    route: str
    dests: list[str]
    fingerprint: int
    key: str
    shingles: frozenset[str] = frozenset()
    copies: list[Mention] = field(default_factory=list)

    @property
    def brand(self) -> str:
        return self.mention.brands[0] if self.mention.brands else ""

    @property
    def severity(self) -> str:
        return self.mention.severity


def may_hold(target: Alert | _Story, mention: Mention, route: str, dests: list[str]) -> bool:
    """Whether `mention` may count on `target` ("+1 similar") instead of alerting itself.

    Only where its own route would have sent it anyway, and no less urgently: the alert is
    at least as severe and went to every destination the mention would go to. A critical
    repost grouped into a delivery complaint was never seen by the crisis route, and its
    headline was the complaint's. So a more severe (or further-reaching) copy of a story
    gets an alert of its own, with its own text as the headline and its own route's
    destinations, SLA and quiet-hours rules. Raising the older alert's severity instead
    would only edit a message (an edit notifies nobody), keep the wrong post as the crisis
    route's headline, and re-route an alert people may already be working on.
    """
    if _RANK.get(target.severity, 0) < _RANK.get(mention.severity, 0):
        return False
    if isinstance(target, _Story):
        return set(dests) <= set(target.dests)
    if target.storm_of:  # shown in its burst's message, which went where its route sends
        return target.route == route
    return set(dests) <= set(target.destinations)


_RANK = {s.value: s.rank for s in Severity}

# What may hold a new mention: a stored alert, or a story found earlier in this cycle.
_Candidate = TypeVar("_Candidate", Alert, _Story)


def _holder(
    candidates: Sequence[_Candidate], mention: Mention, route: str, dests: list[str]
) -> _Candidate | None:
    """The newest of the alerts or stories sharing the mention's key that may hold it."""
    return next((c for c in reversed(candidates) if may_hold(c, mention, route, dests)), None)


def active_silence(
    silences: list[dict[str, Any]], mention: Mention, route: str, now: datetime
) -> dict[str, Any] | None:
    stamp = to_iso(now) or ""
    for s in silences:
        if s.get("until", "") <= stamp:
            continue
        kind, value = s.get("kind"), str(s.get("value", "")).casefold()
        if (
            (kind == "brand" and value in (b.casefold() for b in mention.brands))
            or (kind == "source" and value == mention.source.casefold())
            or (kind == "route" and value == route.casefold())
        ):
            return s
    return None


@dataclass
class Routed:
    """A mention a route takes, with what grouping compares it on, worked out once: its
    dedup key, and (grouping enabled) its SimHash fingerprint and shingles."""

    mention: Mention
    route: str
    dests: list[str]
    key: str
    fingerprint: int = 0
    shingles: frozenset[str] | None = None


@dataclass
class Routing:
    """A cycle's mentions that go somewhere (in order), and how many a silence kept quiet."""

    routed: list[Routed] = field(default_factory=list)
    silenced: int = 0


class AlertMaker:
    def __init__(self, config: Config, router: Router) -> None:
        self.config = config
        self.router = router
        self.routes = {route_label(r, i): r for i, r in enumerate(config.routes)}

    def route(
        self, mentions: list[Mention], silences: list[dict[str, Any]], now: datetime
    ) -> Routing:
        """The mentions a route sends somewhere and no silence holds, each with its dedup key
        and fingerprint: the rest are stored and make no alert, so grouping never needs
        theirs (most of a busy cycle's mentions route nowhere)."""
        routing = Routing()
        grouping = self.config.grouping.enabled
        for m in mentions:
            route, dests = self.router.destinations_for(m)
            if not dests:
                log.debug(
                    "mention %s: no route matched (flags=%s); stored, no alert", m.id, m.flags
                )
                continue
            if active_silence(silences, m, route, now):
                log.debug("mention %s: route %s is silenced; stored, no alert", m.id, route)
                routing.silenced += 1
                continue
            r = Routed(m, route, dests, dedup_key(m))
            if grouping:
                features = shingles(story_text(m.title, m.text, m.author))
                r.fingerprint = simhash(features)
                r.shingles = frozenset(features) if r.fingerprint else None
            routing.routed.append(r)
        return routing

    def make(
        self,
        mentions: list[Mention],
        alerts: list[Alert],
        pending: list[OutboxItem],
        silences: list[dict[str, Any]],
        next_ids: NextIds,
        now: datetime,
        backlog: bool = False,
        routing: Routing | None = None,
    ) -> Batch:
        """`alerts`: the stored alerts that may still group; `pending`: the outbox as it is;
        `next_ids(n)`: reserves n alert ids. `backlog`: these mentions are what a source had
        before its first poll, however fast they arrive now, so they are no burst.
        `routing`: what route(mentions, silences, now) gave, when the caller has it."""
        if routing is None:
            routing = self.route(mentions, silences, now)
        batch = Batch(silenced=routing.silenced)
        if not routing.routed:
            return batch

        grouping = self.config.grouping
        window_start = to_iso(now - grouping.window) or ""
        # A key may name several alerts: a more severe copy of a story gets its own (see
        # may_hold), and the less severe copies after it still belong to the first.
        by_key: dict[str, list[Alert]] = {}
        for a in alerts:
            if a.kind == "mention":
                by_key.setdefault(a.dedup_key, []).append(a)
        near = [a for a in alerts if a.kind == "mention" and a.created_at >= window_start]
        bursts = {
            a.route: a for a in alerts if a.kind == BURST_KIND and a.status != Status.RESOLVED
        }
        burst_by_id = {a.id: a for a in alerts if a.kind == BURST_KIND}
        # An update is redundant while the alert's post is still queued, or another update
        # is: either one renders the alert as it is when it goes out.
        pending_updates = {
            (o.alert_id, o.destination) for o in pending if o.action in ("update", "post")
        }
        recent_by_route: dict[str, list[Alert]] = {}
        for a in alerts:
            if a.kind == "mention":
                recent_by_route.setdefault(a.route, []).append(a)

        # First pass: each mention joins a stored alert, or starts a new story, or is a copy
        # of a story that an earlier mention of this same cycle started.
        fresh: list[_Story] = []
        fresh_by_key: dict[str, list[_Story]] = {}
        cache: dict[str, frozenset[str]] = {}  # stored alert id -> its shingles
        for r in routing.routed:
            mention, route, dests, key = r.mention, r.route, r.dests, r.key
            fp, own = r.fingerprint, r.shingles
            existing = _holder(by_key.get(key, []), mention, route, dests)
            if existing is None:
                existing = self._near(near, mention, route, dests, fp, own, cache) if own else None
            if existing is not None:
                burst = burst_by_id.get(existing.storm_of) if existing.storm_of else None
                self._join(existing, mention, now, batch, pending_updates, burst)
                continue
            story = _holder(fresh_by_key.get(key, []), mention, route, dests)
            if story is None:
                story = self._near(fresh, mention, route, dests, fp, own, cache) if own else None
            if story is not None:
                story.copies.append(mention)
                continue
            story = _Story(mention, route, dests, fp, key, own or frozenset())
            fresh_by_key.setdefault(key, []).append(story)
            fresh.append(story)

        ids = iter(next_ids(len(fresh)) if fresh else [])
        for story in fresh:
            mention, route, dests = story.mention, story.route, story.dests
            alert = new_alert(next(ids), mention, route, dests, now, key=story.key)
            alert.fingerprint = story.fingerprint
            alert.sla_from = alert.created_at
            alert.backlog = backlog
            by_key.setdefault(alert.dedup_key, []).append(alert)
            near.append(alert)
            batch.add_new(alert)
            for copy in story.copies:  # not posted yet: the post will show them
                self._count(alert, copy)
            cfg = self.routes.get(route)
            recent = recent_by_route.setdefault(route, [])
            recent.append(alert)
            burst = None
            if not backlog and Severity(alert.severity).rank < Severity.HIGH.rank:
                # High and critical alerts are never folded: each needs its own message.
                burst = self._burst_for(
                    route, cfg, recent, bursts, now, batch, next_ids, pending_updates
                )
            if burst is not None:
                alert.storm_of = burst.id
                alert.destinations = []  # delivered inside the burst message
                burst.members.append(alert.id)
                self._refresh_burst(burst, alert, cfg)
                continue
            wait = cfg.group_wait if cfg else timedelta(0)
            for item in outbox_items(alert, "post", now):
                pending_updates.add((item.alert_id, item.destination))
                if wait:
                    item.next_attempt_at = to_iso(now + wait) or ""
                batch.outbox.append(item)
        return batch

    def _near(
        self,
        candidates: Sequence[_Candidate],
        mention: Mention,
        route: str,
        dests: list[str],
        fp: int,
        own: frozenset[str],
        cache: dict[str, frozenset[str]],
    ) -> _Candidate | None:
        """The first alert or story of the same brand whose text is a near-duplicate: its
        SimHash within `max_distance` bits (a cheap filter), then enough shared shingles
        (SimHash alone merged unrelated short posts and missed one-word edits)."""
        grouping = self.config.grouping
        for c in candidates:
            if not c.fingerprint or c.brand not in mention.brands:
                continue
            if (c.fingerprint ^ fp).bit_count() > grouping.max_distance:
                continue
            if not may_hold(c, mention, route, dests):
                continue
            theirs = cache.get(c.id) if isinstance(c, Alert) else None
            if theirs is None:
                theirs = _story_shingles(c)
                if isinstance(c, Alert):
                    cache[c.id] = theirs
            if overlap(own, theirs) >= grouping.min_overlap:
                return c
        return None

    @staticmethod
    def _count(alert: Alert, mention: Mention) -> None:
        """One more mention of the alert's story ("+N similar")."""
        alert.count += 1
        if mention.url and mention.url not in alert.similar:
            alert.similar = [*alert.similar, mention.url][-20:]

    def _join(
        self,
        existing: Alert,
        mention: Mention,
        now: datetime,
        batch: Batch,
        pending_updates: set[tuple[str, str]],
        burst: Alert | None = None,
    ) -> None:
        self._count(existing, mention)
        note = ""
        if existing.status == Status.RESOLVED:
            existing.status = Status.OPEN.value
            existing.resolved_by = existing.resolved_at = ""
            existing.acked_by = existing.acked_at = ""
            existing.escalations = 0
            existing.sla_from = to_iso(now) or ""
            existing.record(now, "reopened", by="buzzwatch", via="pipeline", detail=mention.id)
            note = f"{existing.id} reopened: a new mention of a resolved story ({mention.source})"
        batch.touch(existing)
        self._queue_update(existing, now, batch, pending_updates, note)
        if burst is not None and note:
            # A reopened burst member has no message of its own: the burst's shows it. (A
            # mere +1 changes nothing the burst's list shows.)
            self._queue_update(burst, now, batch, pending_updates, note)

    def _queue_update(
        self,
        alert: Alert,
        now: datetime,
        batch: Batch,
        pending_updates: set[tuple[str, str]],
        note: str = "",
    ) -> None:
        cfg = self.routes.get(alert.route)
        interval = cfg.group_interval if cfg else timedelta(0)
        for item in outbox_items(alert, "update", now, note):
            key = (item.alert_id, item.destination)
            if item.action == "update":
                if key in pending_updates:
                    continue  # the queued update renders the latest state when it goes
                pending_updates.add(key)
                item.next_attempt_at = to_iso(now + interval) or ""
            batch.outbox.append(item)

    def _burst_for(
        self,
        route: str,
        cfg: RouteConfig | None,
        recent: list[Alert],
        bursts: dict[str, Alert],
        now: datetime,
        batch: Batch,
        next_ids: NextIds,
        pending_updates: set[tuple[str, str]],
    ) -> Alert | None:
        """The burst this new alert belongs to, opening one when the route's burst threshold
        is crossed; None when the route is calm."""
        if cfg is None or cfg.burst is None:
            return None
        since = to_iso(now - cfg.burst.window) or ""
        burst = bursts.get(route)
        if burst is not None:
            last = from_iso(burst.summary.get("last_member_at")) or now
            if now - last <= cfg.burst.window:
                batch.touch(burst)
                self._queue_update(burst, now, batch, pending_updates)
                return burst
            bursts.pop(route)  # that burst has calmed down; a new burst starts a new one
        in_window = [
            a for a in recent if a.created_at >= since and not a.storm_of and not a.backlog
        ]
        if len(in_window) <= cfg.burst.threshold:
            return None
        burst_id = next_ids(1)[0]
        burst = Alert(
            id=burst_id,
            mention_id="",
            brand=recent[-1].brand,
            severity=Severity.LOW.value,  # then its worst member's
            flags=["storm"],  # a flag routes can match on, as people write it
            destinations=list(recent[-1].destinations),
            created_at=to_iso(now) or "",
            kind=BURST_KIND,
            route=route,
            sla_from=to_iso(now) or "",
        )
        burst.record(now, "opened", by="buzzwatch", via="pipeline", detail=f"burst on {route}")
        bursts[route] = burst
        batch.add_new(burst)
        for item in outbox_items(burst, "post", now):
            pending_updates.add((item.alert_id, item.destination))
            batch.outbox.append(item)
        return burst

    def _refresh_burst(self, burst: Alert, member: Alert, cfg: RouteConfig | None) -> None:
        """The burst's summary is what every platform renders: keep it current."""
        lines = burst.summary.get("lines", [])
        v = alert_view(member)
        lines = [*lines, f"{member.id} · {member.severity} · {v.headline}"][-BURST_LINES:]
        worst = max((Severity(burst.severity), Severity(member.severity)), key=lambda s: s.rank)
        burst.severity = worst.value
        burst.count = len(burst.members)
        burst.flags = sorted({*burst.flags, *member.flags})
        window = int(cfg.burst.window.total_seconds() // 60) if cfg and cfg.burst else 0
        burst.summary = {
            "title": f"Storm on route {burst.route}: {burst.count} alerts in one message "
            f"(more than {cfg.burst.threshold if cfg and cfg.burst else 0} new alerts in {window} min)",
            "text": "\n".join(lines),
            "lines": lines,
            "url": "",
            "author": "",
            "source": "",
            "when": member.summary.get("when"),
            "sentiment": member.summary.get("sentiment", 0.0),
            "aspects": sorted(
                {*burst.summary.get("aspects", []), *member.summary.get("aspects", [])}
            ),
            "reach": max(
                int(burst.summary.get("reach", 0) or 0), int(member.summary.get("reach", 0) or 0)
            ),
            "last_member_at": member.created_at,
        }
