"""The chat-neutral command layer: Slack, DingTalk and the console all call this.

`CommandService.run(text, actor)` parses one command line and returns a Reply whose text
is plain (no markup): each adapter escapes and formats it for its platform.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from core.alerting.lifecycle import ACTIVE, ActionResult, AlertService
from core.alerting.routing import route_label
from core.config import Config
from core.domain.clock import Clock
from core.domain.durations import check_report_since, format_duration, parse_duration
from core.domain.models import Alert, Flag, Status, from_iso, to_iso
from core.domain.query import MAX_LIMIT, SENTIMENTS, MentionQuery
from core.domain.repository import Repository
from core.intake.health import sources_report
from core.reports.digest_service import DigestService
from core.reports.digest_text import stats_text
from rules.text import cap, clean_name, one_line, strip_invisible

MAX_COMMAND_CHARS = 500
MAX_SNOOZE = timedelta(days=7)
# Alerts a `status all` page lists: a page fits one Slack section (3,000 characters).
STATUS_PAGE = 20
STATUS_ORDER = (Status.OPEN, Status.ACKED, Status.ASSIGNED, Status.SNOOZED)

# Chinese command words, for DingTalk users (and anyone else).
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

HELP = """Buzzwatch commands:
  mentions <words> [since:24h] [sentiment:neg|pos|neu] [flag:question|kol|negative|critical] [brand:NAME] [source:NAME] [limit:N]
      search stored mentions, newest first (since defaults to 7d, limit to 10)
  ack <id>                 take an alert: you are on it
  assign <id> <person>     hand an alert to someone
  resolve <id>             close an alert
  snooze <id> <duration>   silence an alert for e.g. 1h, 4h, 24h
  status                   open alerts and the delivery queue
  status all [page:N]      every open alert with its status, severity, brand, age and title
  sources                  every source with its health (last success, errors)
  digest [brand] [since:24h]   the digest: volume, sentiment, top mentions, questions, KOLs
  stats [brand] [since:7d]     mention counts by day, sentiment, source and aspect
  silence <brand|source|route> <name> <duration>   no new alerts for it until then
  silence                  list silences; unsilence <n> ends one
  help                     this text
Alert ids look like A12. 中文: 查询 确认 指派 解决 暂停 状态 静默 日报 统计 帮助"""


# Commands that only read: they change no alert, silence or queue, so they can run on a
# read-only view of the data folder, next to a running bot (`python bot.py command status`).
READ_ONLY_COMMANDS = frozenset({"help", "mentions", "status", "sources", "digest", "stats"})


def is_read_only(text: str) -> bool:
    """Whether this command line can change nothing: a read-only command, `silence` with no
    arguments (the list), or a line `CommandService.run` only answers with an error (too long,
    an unknown command)."""
    text = (text or "").strip()
    if len(text) > MAX_COMMAND_CHARS:
        return True
    words = tokenize(text)
    if not words:
        return True  # the help text
    name = words[0].lstrip("/").lower()
    name = ALIASES.get(name, name)
    if name == "silence":
        return len(words) == 1
    known = name.isidentifier() and hasattr(CommandService, f"_cmd_{name}")
    return name in READ_ONLY_COMMANDS or not known


@dataclass
class Actor:
    """Who typed the command, and from where."""

    id: str
    name: str
    platform: str  # console | slack | dingtalk
    groups: tuple[str, ...] = ()  # groups the platform says this person is in (Slack: S…)

    @property
    def label(self) -> str:
        return clean_name(self.name or self.id) or "someone"


@dataclass
class Reply:
    text: str
    ok: bool = True
    mentions: list[dict[str, Any]] = field(default_factory=list)
    total: int = 0
    query: MentionQuery | None = None
    next_offset: int | None = None
    alert: Alert | None = None
    changed: bool = False


class UsageError(ValueError):
    pass


# Who may change an alert: (actor, alert) -> None to allow, or a refusal to show.
Permission = Callable[[Actor, Alert], str | None]


def allow_everyone(actor: Actor, alert: Alert) -> str | None:
    return None


def tokenize(text: str) -> list[str]:
    try:
        return shlex.split(text)
    except ValueError:  # an unbalanced quote: fall back to plain words
        return text.split()


def parse_query(args: list[str]) -> MentionQuery:
    q = MentionQuery()
    for arg in args:
        key, sep, value = arg.partition(":")
        key = key.lower()
        if not sep or key not in {
            "since",
            "sentiment",
            "flag",
            "brand",
            "source",
            "limit",
            "page",
            "offset",
        }:
            q.words.append(arg)
            continue
        if not value:
            raise UsageError(f"`{key}:` needs a value")
        if key == "since":
            try:
                q.since = parse_duration(value)
            except ValueError:
                raise UsageError(
                    f"since:{value[:20]} is not a duration; try since:24h or since:7d"
                ) from None
        elif key == "sentiment":
            if value.lower() not in SENTIMENTS:
                raise UsageError("sentiment: takes neg, pos or neu")
            q.sentiment = SENTIMENTS[value.lower()]
        elif key == "flag":
            try:
                q.flags.append(Flag(value.lower()).value)
            except ValueError:
                raise UsageError(
                    f"unknown flag {value!r}; flags: {', '.join(f.value for f in Flag)}"
                ) from None
        elif key in ("brand", "source"):
            setattr(q, key, value)
        else:
            if not (value.isascii() and value.isdigit()):
                raise UsageError(f"{key}: takes a whole number")
            n = int(value)
            if key == "limit":
                q.limit = max(1, min(MAX_LIMIT, n))
            else:
                q.offset = n
    return q


def search_mentions(
    repo: Repository, config: Config, query: MentionQuery, now
) -> tuple[list[dict[str, Any]], int]:
    """Matching mention records, newest first: the requested page and the total count."""
    return repo.search_mentions(
        query, now, config.rules.negative_threshold, config.rules.positive_threshold
    )


class CommandService:
    def __init__(
        self,
        config: Config,
        repo: Repository,
        alerts: AlertService,
        clock: Clock,
        permission: Permission = allow_everyone,
    ) -> None:
        self.config = config
        self.repo = repo
        self.alerts = alerts
        self.clock = clock
        self.permission = permission

    def run(self, text: str, actor: Actor) -> Reply:
        text = (text or "").strip()
        if len(text) > MAX_COMMAND_CHARS:
            return Reply(
                f"That command is too long ({len(text)} characters, at most {MAX_COMMAND_CHARS}).",
                ok=False,
            )
        words = tokenize(text)
        if not words:
            return Reply(HELP)
        name = words[0].lstrip("/").lower()
        name = ALIASES.get(name, name)
        args = words[1:]
        handler = getattr(self, f"_cmd_{name}", None) if name.isidentifier() else None
        if handler is None:
            return Reply(f"Unknown command {words[0][:40]!r}. Type `help` for the list.", ok=False)
        try:
            return handler(args, actor)
        except UsageError as err:
            return Reply(f"{err}. Type `help` for usage.", ok=False)

    # --- commands ---------------------------------------------------------------------------

    def _cmd_help(self, args: list[str], actor: Actor) -> Reply:
        return Reply(HELP)

    def _cmd_mentions(self, args: list[str], actor: Actor) -> Reply:
        query = parse_query(args)
        if query.brand and self.config.brand(query.brand) is None:
            known = ", ".join(b.name for b in self.config.brands)
            return Reply(f"Unknown brand {query.brand!r}; brands: {known}.", ok=False)
        page, total = search_mentions(self.repo, self.config, query, self.clock.now())
        shown_to = query.offset + len(page)
        what = " ".join(query.words) or "anything"
        if not page:
            text = f"No mentions of {what} in the last {format_duration(query.since)}."
        else:
            text = f"{total} mention(s) of {what} in the last {format_duration(query.since)}; showing {query.offset + 1}-{shown_to}."
        return Reply(
            text,
            mentions=page,
            total=total,
            query=query,
            next_offset=shown_to if shown_to < total else None,
        )

    def _alert_id(self, args: list[str], usage: str) -> str:
        if not args:
            raise UsageError(f"usage: {usage}")
        alert_id = args[0].strip().upper()
        if (
            not alert_id.startswith("A")
            or not (alert_id.isascii() and alert_id[1:].isdigit())
            or len(alert_id) > 10
        ):
            raise UsageError(f"{args[0][:20]!r} is not an alert id (they look like A12)")
        return alert_id

    def _guarded(self, alert_id: str, actor: Actor, action: Callable[[], ActionResult]) -> Reply:
        alert = self.repo.get_alert(alert_id)
        if alert is None:
            return Reply(f"No alert {alert_id}. `status` lists the open ones.", ok=False)
        refusal = self.permission(actor, alert)
        if refusal:
            return Reply(refusal, ok=False, alert=alert)
        result = action()
        return Reply(result.text, ok=result.ok, alert=result.alert, changed=result.changed)

    def _cmd_ack(self, args: list[str], actor: Actor) -> Reply:
        alert_id = self._alert_id(args, "ack <id>")
        return self._guarded(
            alert_id, actor, lambda: self.alerts.ack(alert_id, actor.label, actor.platform)
        )

    def _cmd_resolve(self, args: list[str], actor: Actor) -> Reply:
        alert_id = self._alert_id(args, "resolve <id>")
        return self._guarded(
            alert_id, actor, lambda: self.alerts.resolve(alert_id, actor.label, actor.platform)
        )

    def _cmd_assign(self, args: list[str], actor: Actor) -> Reply:
        alert_id = self._alert_id(args, "assign <id> <person>")
        if len(args) < 2:
            raise UsageError("usage: assign <id> <person>")
        person = clean_name(" ".join(args[1:]))
        return self._guarded(
            alert_id,
            actor,
            lambda: self.alerts.assign(alert_id, person, actor.label, actor.platform),
        )

    def _cmd_snooze(self, args: list[str], actor: Actor) -> Reply:
        alert_id = self._alert_id(args, "snooze <id> <duration>")
        if len(args) < 2:
            raise UsageError("usage: snooze <id> <duration>, e.g. snooze A12 4h")
        try:
            duration = parse_duration(args[1])
        except ValueError as err:
            raise UsageError(str(err)) from None
        if not timedelta(minutes=1) <= duration <= MAX_SNOOZE:
            raise UsageError("snooze for between 1m and 7d")
        return self._guarded(
            alert_id,
            actor,
            lambda: self.alerts.snooze(alert_id, duration, actor.label, actor.platform),
        )

    def _cmd_silence(self, args: list[str], actor: Actor) -> Reply:
        now = self.clock.now()
        stamp = to_iso(now) or ""
        silences = [
            s for s in self.repo.get_state("silences", []) or [] if s.get("until", "") > stamp
        ]
        if not args:
            if not silences:
                return Reply("No silences.")
            lines = [f"{len(silences)} silence(s):"]
            for n, s in enumerate(silences, 1):
                until = from_iso(s["until"]) or now
                lines.append(
                    f"  {n}. {s['kind']} {s['value']} for {format_duration(until - now)} more (by {s.get('by', '?')})"
                )
            return Reply("\n".join(lines))
        if len(args) != 3 or args[0].lower() not in ("brand", "source", "route"):
            raise UsageError(
                "usage: silence <brand|source|route> <name> <duration>, e.g. silence source weibo 2h"
            )
        kind, value = args[0].lower(), args[1][:80]
        known = {
            "brand": [b.name for b in self.config.brands],
            "source": [s.name for s in self.config.sources],
            "route": [route_label(r, i) for i, r in enumerate(self.config.routes)],
        }[kind]
        match = next((k for k in known if k.casefold() == value.casefold()), None)
        if match is None:
            return Reply(
                f"Unknown {kind} {value!r}; known: {', '.join(known) or 'none'}.", ok=False
            )
        try:
            duration = parse_duration(args[2])
        except ValueError as err:
            raise UsageError(str(err)) from None
        if not timedelta(minutes=1) <= duration <= timedelta(days=30):
            raise UsageError("silence for between 1m and 30d")
        # Silencing stops alerts as surely as resolving them: the same people may do it.
        refusal = self._silence_refusal(actor, kind, match)
        if refusal:
            return Reply(refusal, ok=False)
        with self.repo.locked():  # two silences at once must not lose one
            current = [
                s for s in self.repo.get_state("silences", []) or [] if s.get("until", "") > stamp
            ]
            current.append(
                {"kind": kind, "value": match, "until": to_iso(now + duration), "by": actor.label}
            )
            self.repo.set_state("silences", current)
        return Reply(
            f"Silenced {kind} {match} for {format_duration(duration)}: no new alerts from it until then."
        )

    def _silence_refusal(self, actor: Actor, kind: str, value: str) -> str | None:
        """A source or a route can carry any brand's alerts: silencing one needs the right to
        change every brand's alerts; silencing a brand, that brand's."""
        brands = [value] if kind == "brand" else [b.name for b in self.config.brands]
        return next(
            (why for why in (self.permission(actor, _scope(b)) for b in brands) if why), None
        )

    def _cmd_unsilence(self, args: list[str], actor: Actor) -> Reply:
        stamp = to_iso(self.clock.now()) or ""
        silences = [
            s for s in self.repo.get_state("silences", []) or [] if s.get("until", "") > stamp
        ]
        if (
            len(args) != 1
            or not (args[0].isascii() and args[0].isdigit())
            or not 1 <= int(args[0]) <= len(silences)
        ):
            raise UsageError(
                f"usage: unsilence <n>, n from the `silence` list (1-{len(silences)})"
                if silences
                else "there are no silences"
            )
        chosen = silences[int(args[0]) - 1]
        refusal = self._silence_refusal(actor, chosen["kind"], chosen["value"])
        if refusal:
            return Reply(refusal, ok=False)
        with self.repo.locked():
            current = self.repo.get_state("silences", []) or []
            self.repo.set_state("silences", [s for s in current if s != chosen])
        gone = chosen
        return Reply(f"Silence on {gone['kind']} {gone['value']} ended by {actor.label}.")

    def _digest_args(self, args: list[str], default: timedelta) -> tuple[str | None, timedelta]:
        brand, since = None, default
        for arg in args:
            key, sep, value = arg.partition(":")
            if sep and key.lower() == "since":
                try:
                    since = parse_duration(value)
                except ValueError:
                    raise UsageError(
                        f"since:{value[:20]} is not a duration; try since:7d"
                    ) from None
                try:
                    check_report_since(since)
                except ValueError as err:
                    raise UsageError(f"since: {err}") from None
                continue
            name = value if sep and key.lower() == "brand" else arg
            found = self.config.brand(name)
            if found is None:
                known = ", ".join(b.name for b in self.config.brands)
                raise UsageError(f"unknown brand {name[:40]!r}; brands: {known}")
            brand = found.name
        return brand, since

    def _cmd_digest(self, args: list[str], actor: Actor) -> Reply:
        brand, since = self._digest_args(args, timedelta(hours=24))
        digests = DigestService(self.config, self.repo, self.clock, charts=False)
        messages = digests.on_demand(since, brand)
        return Reply("\n\n".join(f"{m.title}\n{m.text}" for m in messages))

    def _cmd_stats(self, args: list[str], actor: Actor) -> Reply:
        brand, since = self._digest_args(args, timedelta(days=7))
        digests = DigestService(self.config, self.repo, self.clock, charts=False)
        messages = digests.on_demand(since, brand)
        return Reply("\n\n".join(stats_text(m.digest) for m in messages))

    def _cmd_sources(self, args: list[str], actor: Actor) -> Reply:
        now = self.clock.now()
        return Reply(sources_report(self.config, self.repo, now, self.config.tz))

    def _cmd_status(self, args: list[str], actor: Actor) -> Reply:
        if args:
            return self._status_all(args)
        now = self.clock.now()
        active = [a for a in self.repo.active_alerts() if a.status in ACTIVE]
        lines = [f"{len(active)} alert(s) not resolved."]
        cut = False
        for status in STATUS_ORDER:
            group = sorted((a for a in active if a.status == status), key=lambda a: a.created_at)
            if group:
                ages = ", ".join(
                    f"{a.id} ({format_duration(now - (from_iso(a.created_at) or now))})"
                    for a in group[:10]
                )
                more = f" +{len(group) - 10} more" if len(group) > 10 else ""
                cut = cut or bool(more)
                lines.append(f"{status.value}: {ages}{more}")
        if cut:
            lines.append("status all: every one, with titles")
        pending = self.repo.pending_outbox()
        dead = self.repo.dead_letters()
        lines.append(f"delivery queue: {len(pending)} pending, {len(dead)} dead letter(s)")
        for item in dead[-5:]:
            lines.append(
                f"  dead: {item.destination} {item.alert_id or item.message.get('kind')}: {item.last_error[:120]}"
            )
        return Reply("\n".join(lines))

    def _status_all(self, args: list[str]) -> Reply:
        """Every alert not resolved, STATUS_PAGE a page (a page fits one chat message)."""
        if args[0].lower() not in ("all", "全部") or len(args) > 2:
            raise UsageError("usage: status, or status all [page:N]")
        page = 1
        if len(args) == 2:
            key, _, value = args[1].partition(":")
            if key.lower() != "page" or not (value.isascii() and value.isdigit()):
                raise UsageError("usage: status all [page:N], e.g. status all page:2")
            page = int(value)
        now = self.clock.now()
        order = {s.value: n for n, s in enumerate(STATUS_ORDER)}
        active = sorted(
            self.repo.find_alerts(lambda a: a.status in ACTIVE),
            key=lambda a: (order.get(a.status, len(order)), a.created_at, a.id),
        )
        if not active:
            return Reply("No alerts are open.")
        pages = -(-len(active) // STATUS_PAGE)
        if not 1 <= page <= pages:
            raise UsageError(f"page: takes 1 to {pages}")
        shown = active[(page - 1) * STATUS_PAGE : page * STATUS_PAGE]
        first = (page - 1) * STATUS_PAGE + 1
        lines = [
            f"{len(active)} alert(s) not resolved; {first}-{first + len(shown) - 1}, "
            f"oldest first by status:"
        ]
        for a in shown:
            age = format_duration(now - (from_iso(a.created_at) or now))
            who = f" → {clean_name(a.assignee)}" if a.assignee else ""
            title = a.summary.get("title") or a.summary.get("text") or ""
            title = cap(one_line(strip_invisible(str(title))), 60)
            lines.append(f"{a.id} {a.status}{who} · {a.severity} · {a.brand} · {age} · {title}")
        if page < pages:
            lines.append(f"page {page} of {pages}; next: status all page:{page + 1}")
        return Reply("\n".join(lines))


def _scope(brand: str) -> Alert:
    """A stand-in alert for the permission check of a change that is not about one alert
    (a silence): the brand's rules apply, or the default ones."""
    return Alert(
        id="the silence",
        mention_id="",
        brand=brand,
        severity="low",
        flags=[],
        destinations=[],
        created_at="",
    )
