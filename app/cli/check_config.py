"""`check-config`: validate the config and print a summary (`--sample`: how a text is routed)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TextIO

from core.alerting.routing import Router, route_label
from core.config import Config, config_warnings
from core.domain.durations import format_duration
from core.domain.models import Mention, Severity
from rules.analyze import Analyzer


def cmd_check_config(config: Config, path: Path, out: TextIO, sample: str | None = None) -> int:
    print(f"{path}: OK", file=out)
    for warning in [*config_warnings(config), *empty_sections(config)]:
        print(f"  warning: {warning}", file=out)
    print(f"  data_dir: {config.data_dir}   timezone: {config.timezone}", file=out)
    for b in config.brands:
        aspects = ", ".join(f"{n}{'!' if a.critical else ''}" for n, a in b.aspects.items()) or "-"
        print(f"  brand {b.name}: keywords {', '.join(b.keywords)}; aspects {aspects}", file=out)
    print(
        f"  KOLs listed: {len(config.kols)}; follower threshold {config.rules.kol_followers:,}",
        file=out,
    )
    for s in config.sources:
        where = getattr(s, "url", None) or getattr(s, "path", None) or ""
        state = "" if s.enabled else " (disabled)"
        print(
            f"  source {s.name} [{s.type}] every {int(s.every.total_seconds())}s {where}{state}",
            file=out,
        )
    for name, d in config.destinations.items():
        quiet, held = d.quiet_hours, ""
        if quiet:
            sent = " and ".join(s.value for s in Severity if s.rank >= quiet.allow_severity.rank)
            held = (
                f"; quiet hours {quiet.start}-{quiet.end} ({config.timezone}): only {sent} "
                f"alerts go out then, the rest wait until {quiet.end}"
            )
        print(f"  destination {name} [{d.type}]{held}", file=out)
    print(f"  {digest_summary(config)}", file=out)
    print("  routes (tried in order; the first match wins unless it says continue):", file=out)
    for i, r in enumerate(config.routes):
        m = r.match.model_dump(exclude_defaults=True, by_alias=True, mode="json")
        cont = " (continue)" if r.continue_ else ""
        when = json.dumps(m, ensure_ascii=False) if m else "everything"
        print(f"    {route_label(r, i)}: {when} -> {', '.join(r.to)}{cont}", file=out)
        timers = f"group_wait {format_duration(r.group_wait)}, group_interval {format_duration(r.group_interval)}"
        burst = (
            f"storm above {r.burst.threshold} in {format_duration(r.burst.window)}"
            if r.burst
            else "no storms"
        )
        sla = (
            f"respond within {format_duration(r.respond_within)}, then escalate to {', '.join(r.escalate_to) or 'the same channel'} (at most {r.max_escalations}x)"
            if r.respond_within
            else "no response target"
        )
        print(f"      {timers}; {burst}; {sla}", file=out)
    if sample:
        print_sample_route(config, sample, out)
    return 0


def print_sample_route(config: Config, text: str, out: TextIO) -> None:
    """Which route a mention with this text would take: for checking rules before going live."""
    mention = Analyzer(config).analyze(
        Mention(id="sample", source="sample", url="", title="", text=text)
    )
    print(f"  sample: {text[:80]!r}", file=out)
    print(
        f"    brands {mention.brands or '-'}; lang {mention.lang}; sentiment {mention.sentiment:+.2f}; "
        f"flags {mention.flags or '-'}; aspects {mention.aspects or '-'}; severity {mention.severity}",
        file=out,
    )
    if not mention.brands:
        print("    -> no brand matched: not stored, no alert", file=out)
        return
    taken = Router(config.routes).routes_for(mention)
    if not taken:
        print("    -> no route matched: stored, no alert", file=out)
    for label, route in taken:
        print(f"    -> route {label} -> {', '.join(route.to)}", file=out)


def digest_summary(config: Config) -> str:
    """When the daily digest goes out and where: a first run after its time sends none
    until the next day, so say the time here."""
    d = config.digest
    if not d.enabled:
        return "digest: off (digest.enabled: false)"
    zone = d.timezone or config.timezone
    to = ", ".join(d.destinations or config.destinations) or "no destination"
    each = "one per brand" if d.per_brand else "all brands in one"
    return (
        f"digest: daily at {d.time} ({zone}), {each}, to {to}; "
        f"a start later than {format_duration(d.grace)} after it waits for the next day"
    )


def empty_sections(config: Config) -> list[str]:
    """What a valid config may leave out and then does nothing: a bot with no sources
    polls nothing and said "OK" all the same."""
    found = []
    if not any(s.enabled for s in config.sources) and config.inbound is None:
        found.append("no source to poll (`sources:`) and no `inbound:` endpoint: nothing comes in")
    if not config.destinations:
        found.append("no destinations (`destinations:`): alerts and the digest go nowhere")
    elif not config.routes:
        found.append("no routes (`routes:`): mentions are stored, nothing is alerted")
    return found
