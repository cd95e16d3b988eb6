"""Storm detection: a brand's mention volume, or its share of negative mentions, far above
what is usual for this time of day.

For each brand, the last `window` is compared with the same window at the same time on each
of the past `baseline_days` days. A storm needs at least `min_volume` mentions, and either
a volume over max(mean + k * stddev, min_ratio * mean), or a negative share of at least
`negative_share` (higher than the baseline's). It stays on until the volume falls under
`clear_ratio` of that level, so a storm hovering at the threshold is raised once and
cleared once. The active storm per brand is kept in repository state, stored in the same
write as its message, so a restart neither repeats nor loses it.
"""

from __future__ import annotations

import logging
import re
import statistics
import threading
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from core.alerting.views import human_number
from core.config import BrandConfig, Config, StormRule
from core.domain.clock import Clock
from core.domain.durations import format_duration
from core.domain.models import OutboxItem, from_iso, to_iso
from core.domain.repository import Repository
from rules.text import cap, normalize, one_line

log = logging.getLogger("buzzwatch.storms")

DAY = timedelta(days=1)
EXAMPLES = 3
TERMS = 6
_WORD = re.compile(r"[a-z][a-z0-9'’\-]{2,}")
_CJK_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]{2,}")
STOPWORDS = set(
    [
        "the",
        "and",
        "for",
        "that",
        "this",
        "with",
        "you",
        "your",
        "are",
        "was",
        "were",
        "have",
        "has",
        "had",
        "not",
        "but",
        "they",
        "them",
        "their",
        "from",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "how",
        "all",
        "any",
        "can",
        "could",
        "would",
        "should",
        "will",
        "just",
        "about",
        "into",
        "out",
        "our",
        "over",
        "than",
        "then",
        "there",
        "these",
        "those",
        "been",
        "being",
        "its",
        "it's",
        "i'm",
        "i've",
        "don't",
        "very",
        "really",
        "more",
        "most",
        "some",
        "such",
        "only",
        "also",
        "get",
        "got",
        "one",
        "two",
        "too",
        "here",
        "after",
        "before",
        "again",
        "http",
        "https",
        "www",
        "com",
    ]
)
# Common two-character function words that say nothing about a storm.
CJK_STOP = set(
    [
        "我们",
        "你们",
        "他们",
        "这个",
        "那个",
        "就是",
        "不是",
        "没有",
        "一个",
        "什么",
        "怎么",
        "今天",
        "还是",
        "真的",
        "可以",
        "已经",
    ]
)


@dataclass
class Window:
    total: int = 0
    negative: int = 0

    @property
    def share(self) -> float:
        return self.negative / self.total if self.total else 0.0


@dataclass
class Verdict:
    storm: bool
    reason: str  # "volume", "negative share" or ""
    level: float  # the volume that makes a storm
    mean: float
    stddev: float
    base_share: float


def evaluate(current: Window, baseline: list[Window], rule: StormRule, active: bool) -> Verdict:
    totals = [w.total for w in baseline] or [0]
    mean = statistics.fmean(totals)
    stddev = statistics.pstdev(totals)
    level = max(float(rule.min_volume), mean + rule.k * stddev, rule.min_ratio * mean)
    base_total = sum(w.total for w in baseline)
    base_share = sum(w.negative for w in baseline) / base_total if base_total else 0.0
    # Raising needs the full level; staying on needs only clear_ratio of it (hysteresis).
    scale = rule.clear_ratio if active else 1.0
    by_volume = current.total >= level * scale
    by_share = (
        current.total >= rule.min_volume * scale
        and current.share >= rule.negative_share
        and current.share > base_share
    )
    reason = "volume" if by_volume else "negative share" if by_share else ""
    return Verdict(bool(reason), reason, level, mean, stddev, base_share)


def top_terms(
    texts: Iterable[str], skip: Iterable[str] = (), n: int = TERMS
) -> list[tuple[str, int]]:
    """The words (Latin) and character bigrams (CJK) found in the most texts."""
    skipped = {normalize(s) for s in skip}
    df: Counter[str] = Counter()
    for text in texts:
        norm = normalize(text)
        terms = {w.strip("'’-") for w in _WORD.findall(norm)}
        for run in _CJK_RUN.findall(norm):
            terms.update(run[i : i + 2] for i in range(len(run) - 1))
        df.update(
            t
            for t in terms
            if t not in STOPWORDS
            and t not in CJK_STOP
            and not any(t in s or s in t for s in skipped)
        )
    return sorted(df.items(), key=lambda kv: (-kv[1], kv[0]))[:n]


@dataclass
class BrandWindows:
    current: Window = field(default_factory=Window)
    baseline: list[Window] = field(default_factory=list)
    docs: list[dict[str, Any]] = field(default_factory=list)


def count_windows(
    mentions: Iterable[dict[str, Any]],
    brands: dict[str, StormRule],
    now: datetime,
    negative_threshold: float,
) -> dict[str, BrandWindows]:
    """One pass: per brand, the current window, the same window on each past day, and the
    current window's records."""
    out = {
        name: BrandWindows(baseline=[Window() for _ in range(r.baseline_days)])
        for name, r in brands.items()
    }
    folded = {name.casefold(): name for name in brands}
    for doc in mentions:
        names = [folded[b.casefold()] for b in doc.get("brands") or () if b.casefold() in folded]
        if not names:
            continue
        try:
            when = from_iso(doc.get("published") or doc.get("fetched_at"))
        except (TypeError, ValueError):
            continue
        if when is None or when > now:
            continue
        ago = now - when
        days = (ago - timedelta(microseconds=1)) // DAY if ago > timedelta(0) else 0
        into = ago - days * DAY  # in (0, 1 day]: how far back within that day's window
        negative = float(doc.get("sentiment") or 0.0) < negative_threshold
        for name in names:
            rule, bw = brands[name], out[name]
            if into > rule.window or days > rule.baseline_days:
                continue
            w = bw.current if days == 0 else bw.baseline[days - 1]
            w.total += 1
            w.negative += negative
            if days == 0:
                bw.docs.append(doc)
    return out


@dataclass
class StormChange:
    """What one check would store for a brand: its new state and the messages (none: a new
    peak), worked out from the state it read (`seen`)."""

    key: str
    seen: dict[str, Any]
    state: dict[str, Any]
    items: list[OutboxItem]
    note: str = ""  # logged once stored, at `level`
    level: int = logging.INFO

    def store(self, repo: Repository) -> list[OutboxItem]:
        """Under the storage lock: store it, unless the state changed since it was read (the
        storm raised, cleared or its peak moved by another process meanwhile): then drop it;
        the next check starts from the new state."""
        if (repo.get_state(self.key) or {}) != self.seen:
            log.info(
                "%s changed meanwhile (another process): this check's change dropped", self.key
            )
            return []
        if not self.items:
            repo.set_state(self.key, self.state)
            return []
        repo.add_outbox(self.items, state={self.key: self.state})
        log.log(self.level, "%s", self.note)
        return self.items


class StormWatch:
    def __init__(self, config: Config, repo: Repository, clock: Clock) -> None:
        self.config = config
        self.repo = repo
        self.clock = clock
        self._lock = threading.Lock()
        self._last_check: datetime | None = None

    def rule_for(self, brand: BrandConfig) -> StormRule:
        return self.config.storms.brands.get(brand.name) or self.config.storms

    def destinations(self) -> list[str]:
        return list(self.config.storms.destinations or self.config.destinations)

    def check_if_due(self) -> list[OutboxItem]:
        """After a poll: check unless the last check was under `check_every` ago. A failure
        is logged, never raised: it must not stop the poll job that calls it."""
        now = self.clock.now()
        last = self._last_check
        if last is not None and now - last < self.config.storms.check_every:
            return []
        try:
            return self.check()
        except Exception:
            log.exception("storm check failed")
            return []

    def check(self) -> list[OutboxItem]:
        """Evaluate every brand now; queue and return the raised and cleared messages."""
        if not self.config.storms.enabled:
            return []
        with self._lock:
            now = self.clock.now()
            self._last_check = now
            rules = {b.name: self.rule_for(b) for b in self.config.brands}
            threshold = self.config.rules.negative_threshold
            # Counted by the store from narrow columns; the records themselves are read only
            # when a storm is raised (issue 15: parsing a week of mentions every minute).
            windows = {name: self.count(name, rule, now, threshold) for name, rule in rules.items()}
            # Each brand's change is worked out (its records read, its message written) with
            # no lock held (issue 16: an ack waited for it); the storage lock (shared by the
            # processes of one database) is held only to re-read the state and store the
            # change: a storm is raised or cleared once, by whichever process stores it first.
            changes = [
                self._one(b, rules[b.name], windows[b.name], now) for b in self.config.brands
            ]
            queued: list[OutboxItem] = []
            with self.repo.locked():
                for change in changes:
                    if change is not None:
                        queued += change.store(self.repo)
            return queued

    def count(
        self, brand: str, rule: StormRule, now: datetime, negative_threshold: float
    ) -> BrandWindows:
        """The current window and the same window on each past day, as count_windows
        counts them: [now - window, now], then [now - d days - window, now - d days)."""
        window = min(rule.window, DAY)
        spans = [(now - window, now + timedelta(microseconds=1))]
        spans += [(now - d * DAY - window, now - d * DAY) for d in range(1, rule.baseline_days + 1)]
        counts = [
            Window(*c) for c in self.repo.count_mentions_between(brand, spans, negative_threshold)
        ]
        return BrandWindows(current=counts[0], baseline=counts[1:])

    def current_docs(self, brand: str, rule: StormRule, now: datetime) -> list[dict[str, Any]]:
        """The records of a brand's current window (for a raised storm's terms and examples)."""
        since = now - min(rule.window, DAY)
        mentions = self.repo.iter_mentions(since.astimezone(UTC))
        threshold = self.config.rules.negative_threshold
        return count_windows(mentions, {brand: rule}, now, threshold)[brand].docs

    def _one(
        self, brand: BrandConfig, rule: StormRule, bw: BrandWindows, now: datetime
    ) -> StormChange | None:
        key = f"storm:{brand.name}"
        state = self.repo.get_state(key) or {}
        active = bool(state.get("active"))
        v = evaluate(bw.current, bw.baseline, rule, active)
        if v.storm and not active:
            bw.docs = self.current_docs(brand.name, rule, now)
            title, text = self.raised_text(brand, rule, bw, v)
            new_state = {
                "active": True,
                "since": to_iso(now),
                "peak": bw.current.total,
                "reason": v.reason,
            }
            window = format_duration(rule.window)
            note = f"storm raised for {brand.name}: {bw.current.total} mentions in {window}"
            level = logging.WARNING
        elif active and not v.storm:
            title, text = self.cleared_text(brand, rule, bw, v, state, now)
            new_state = {
                "active": False,
                "cleared_at": to_iso(now),
                "last_peak": state.get("peak", 0),
            }
            note, level = f"storm cleared for {brand.name}", logging.INFO
        else:
            if active and bw.current.total > int(state.get("peak", 0)):
                return StormChange(key, state, {**state, "peak": bw.current.total}, [])
            return None
        stamp = to_iso(now) or ""
        msg = {
            "kind": "text",
            "title": title,
            "text": text,
            "severity": "critical" if v.storm else "low",
        }
        items = [OutboxItem("", dest, "post", dict(msg), stamp) for dest in self.destinations()]
        return StormChange(key, state, new_state, items, note, level)

    # --- message text (plain: each platform escapes it) -------------------------------------

    def raised_text(
        self, brand: BrandConfig, rule: StormRule, bw: BrandWindows, v: Verdict
    ) -> tuple[str, str]:
        c = bw.current
        window = format_duration(rule.window)
        title = f"🔴 CRITICAL · Storm · {brand.name}: {c.total} mentions in the last {window}"
        lines = [
            f"Usual for this time: {v.mean:.1f} ± {v.stddev:.1f} (the same {window} on the past "
            f"{rule.baseline_days} days); a storm from {v.level:.0f}.",
            f"Negative: {c.negative} of {c.total} ({c.share:.0%}; usually {v.base_share:.0%}).",
            f"Raised by: {v.reason}.",
        ]
        texts = (f"{d.get('title', '')}\n{d.get('text', '')}" for d in bw.docs)
        terms = top_terms(texts, skip=brand.keywords)
        if terms:
            lines.append("Top terms: " + " · ".join(f"{t} ({n})" for t, n in terms))
        lines.append("Examples:")
        threshold = self.config.rules.negative_threshold
        examples = sorted(
            bw.docs,
            key=lambda d: (
                float(d.get("sentiment") or 0.0) >= threshold,  # negative ones first
                -int(d.get("reach") or 0),
                float(d.get("sentiment") or 0.0),
            ),
        )[:EXAMPLES]
        for d in examples:
            title_text = one_line(d.get("title") or "") or one_line(d.get("text") or "")
            who = " · ".join(
                x
                for x in (
                    str(d.get("source") or ""),
                    cap(one_line(str(d.get("author") or "")), 40),
                    f"{human_number(int(d.get('reach') or 0))} followers" if d.get("reach") else "",
                    f"sentiment {float(d.get('sentiment') or 0.0):+.2f}",
                )
                if x
            )
            lines.append(f"• {cap(title_text, 90) or '(no title)'}")
            lines.append(f"   {who}")
            if d.get("url"):
                lines.append(f"   {d['url']}")
        lines.append("A message follows when the volume falls back.")
        return title, "\n".join(lines)

    def cleared_text(
        self,
        brand: BrandConfig,
        rule: StormRule,
        bw: BrandWindows,
        v: Verdict,
        state: dict[str, Any],
        now: datetime,
    ) -> tuple[str, str]:
        window = format_duration(rule.window)
        since = from_iso(state.get("since"))
        lasted = f"; it lasted {format_duration(now - since)}" if since else ""
        title = f"✅ Storm over · {brand.name}: {bw.current.total} mentions in the last {window}"
        text = (
            f"Back under {v.level * rule.clear_ratio:.0f} (usual {v.mean:.1f} ± {v.stddev:.1f})"
            f"{lasted}, peak {int(state.get('peak', 0))} mentions in {window}."
        )
        return title, text
