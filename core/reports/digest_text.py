"""The digest as text: the words in each language (English, and Chinese for DingTalk), the
sparkline, and the plain-text digest and `stats` answer built from a computed Digest."""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo

from core.alerting.views import human_number
from core.domain.durations import format_duration
from core.reports.digest import Digest, MentionRef, Period

SPARK_BLOCKS = "▁▂▃▄▅▆▇█"

# The digest's words in each language it is written in: English, and Chinese for the
# DingTalk side (Chinese teams). Figures, names and links are the same in both.
WORDS: dict[str, dict[str, str]] = {
    "en": {
        "daily": "Buzzwatch daily digest · {who} · {date}",
        "rolling": "Buzzwatch digest · {who} · last {span}",
        "all": "all brands",
        "period": "{start:%a %d %b %H:%M} → {end:%a %d %b %H:%M} ({zone})",
        "day_before": "the day before",
        "none_before": "none then",
        "previous": "previous {span}",
        "mentions": "Mentions: {total} · {prev_label} {previous} ({prev_change})"
        " · 7-day average {base:.1f} ({base_change})",
        "per_day": "   {per_day:.1f} a day; 7-day average {base_day:.1f} a day",
        "sentiment": "Sentiment: 🔴 negative {neg} · ⚪ neutral {neu} · 🟢 positive {pos}",
        "volume_hour": "Volume by hour ({first} → {last}):",
        "volume_day": "Volume by day ({first} → {last}):",
        "peak": "peak {n} at {at}",
        "critical": "Critical: {n}",
        "most_negative": "Most negative:",
        "widest": "Widest reach:",
        "more": "   … and {n} more",
        "questions": "Questions waiting for an answer: {n}",
        "waiting": "• {id} · waiting {waited} · {title}",
        "more_questions": "   … and {n} more (`status`)",
        "kols": "KOL activity: {n} mention(s)",
        "kol": "• {author} ({reach}{tier}) · {n} mention(s) · sentiment {sentiment}",
        "aspects": "Aspects (negative / neutral / positive · mean sentiment):",
        "alerts": "Alerts: {opened} opened · {acked} acked · {resolved} resolved",
        "median_ack": " · median time to ack {ack}",
        "sources": "Busiest sources: ",
        "no_title": "(no title)",
    },
    "zh": {
        "daily": "Buzzwatch 日报 · {who} · {date}",
        "rolling": "Buzzwatch 摘要 · {who} · 最近 {span}",
        "all": "全部品牌",
        "period": "{start:%m-%d %H:%M} → {end:%m-%d %H:%M}（{zone}）",
        "day_before": "前一天",
        "none_before": "此前没有",
        "previous": "之前 {span}",
        "mentions": "提及：{total} · {prev_label} {previous}（{prev_change}）"
        " · 7 日均值 {base:.1f}（{base_change}）",
        "per_day": "   每天 {per_day:.1f} 条；7 日均值每天 {base_day:.1f} 条",
        "sentiment": "情感：🔴 负面 {neg} · ⚪ 中性 {neu} · 🟢 正面 {pos}",
        "volume_hour": "每小时提及量（{first} → {last}）：",
        "volume_day": "每天提及量（{first} → {last}）：",
        "peak": "峰值 {n}（{at}）",
        "critical": "严重：{n}",
        "most_negative": "最负面：",
        "widest": "传播最广：",
        "more": "   …… 还有 {n} 条",
        "questions": "待回复的问题：{n}",
        "waiting": "• {id} · 已等 {waited} · {title}",
        "more_questions": "   …… 还有 {n} 条（status 查看）",
        "kols": "KOL 动态：{n} 条提及",
        "kol": "• {author}（{reach}{tier}）· {n} 条 · 情感 {sentiment}",
        "aspects": "方面（负面 / 中性 / 正面 · 平均情感）：",
        "alerts": "告警：新开 {opened} · 已确认 {acked} · 已解决 {resolved}",
        "median_ack": " · 确认用时中位数 {ack}",
        "sources": "最活跃来源：",
        "no_title": "（无标题）",
    },
}
LANGS = tuple(WORDS)


def sparkline(values: list[int]) -> str:
    """One block per value, scaled to the largest; zero is always the lowest block and any
    non-zero value at least the second, so "none" and "a few" stay apart."""
    peak = max(values, default=0)
    if peak <= 0:
        return SPARK_BLOCKS[0] * len(values)
    top = len(SPARK_BLOCKS) - 1
    return "".join(
        SPARK_BLOCKS[0] if v <= 0 else SPARK_BLOCKS[max(1, round(v / peak * top))] for v in values
    )


def change(now: float, before: float, lang: str = "en") -> str:
    if before <= 0:  # no percentage of nothing: "(new)" after "0.0" read as a puzzle
        return WORDS[lang]["none_before"] if now > 0 else "±0%"
    pct = (now - before) / before * 100
    return f"{pct:+.0f}%"


def _share(n: int, total: int) -> str:
    return f"{n} ({n / total:.0%})" if total else str(n)


def _stamp(when: datetime | None, tz: tzinfo) -> str:
    return f"{when.astimezone(tz):%m-%d %H:%M}" if when else ""


def _period_label(p: Period, lang: str = "en") -> str:
    zone = getattr(p.tz, "key", str(p.tz))
    return WORDS[lang]["period"].format(start=p.start, end=p.end, zone=zone)


def span_label(span: timedelta) -> str:
    return "24h" if span == timedelta(days=1) else format_duration(span)


def digest_title(d: Digest, lang: str = "en") -> str:
    w = WORDS[lang]
    who = d.brand or w["all"]
    if d.period.daily:
        return w["daily"].format(who=who, date=f"{d.period.end:%Y-%m-%d}")
    return w["rolling"].format(who=who, span=span_label(d.period.span))


def _mention_line(m: MentionRef, lead: str, tz: tzinfo, lang: str) -> list[str]:
    meta = " · ".join(x for x in (m.source, m.author, _stamp(m.when, tz)) if x)
    lines = [f"• {lead} {m.title or WORDS[lang]['no_title']}", f"   {meta}"]
    if m.url:
        lines.append(f"   {m.url}")
    return lines


def volume_lines(d: Digest, lang: str = "en") -> list[str]:
    w = WORDS[lang]
    values = [b.total for b in d.buckets]
    hourly = d.bucket < timedelta(days=1)
    fmt = "%H:%M" if hourly else "%m-%d"
    first, last = f"{d.buckets[0].start:{fmt}}", f"{d.buckets[-1].start:{fmt}}"
    lines = [w["volume_hour" if hourly else "volume_day"].format(first=first, last=last)]
    lines.append(sparkline(values))
    if any(values):
        peak = max(range(len(values)), key=lambda i: values[i])
        lines.append(w["peak"].format(n=values[peak], at=f"{d.buckets[peak].start:{fmt}}"))
    return lines


def digest_text(d: Digest, lang: str = "en") -> str:
    """The whole digest as plain text (no markup: each platform escapes it), in `lang`
    (one of LANGS)."""
    w = WORDS[lang]
    tz = d.period.tz
    daily = d.period.daily
    prev_label = w["day_before"] if daily else w["previous"].format(span=span_label(d.period.span))
    lines = [_period_label(d.period, lang), ""]
    lines.append(
        w["mentions"].format(
            total=d.total,
            prev_label=prev_label,
            previous=d.previous,
            prev_change=change(d.total, d.previous, lang),
            base=d.baseline_per_period,
            base_change=change(d.total, d.baseline_per_period, lang),
        )
    )
    if d.days > 1:
        lines.append(w["per_day"].format(per_day=d.total / d.days, base_day=d.baseline_per_day))
    lines.append(
        w["sentiment"].format(
            neg=_share(d.negative, d.total),
            neu=_share(d.neutral, d.total),
            pos=_share(d.positive, d.total),
        )
    )
    lines += ["", *volume_lines(d, lang)]
    # Critical first: a critical post may read as mild (a regulator's fine, a shard of
    # plastic) and miss "most negative".
    lines += ["", w["critical"].format(n=d.critical_total)]
    for m in d.critical:
        aspects = ", ".join(m.aspects)
        lines += _mention_line(
            m, f"[{signed(m.sentiment)}{' ' + aspects if aspects else ''}]", tz, lang
        )
    if d.critical_total > len(d.critical):
        lines.append(w["more"].format(n=d.critical_total - len(d.critical)))
    if d.top_negative:
        lines += ["", w["most_negative"]]
        for m in d.top_negative:
            lines += _mention_line(m, f"[{signed(m.sentiment)}]", tz, lang)
    if d.top_reach:
        lines += ["", w["widest"]]
        for m in d.top_reach:
            tier = f" {m.kol_tier}" if m.kol_tier else ""
            lines += _mention_line(m, f"[{human_number(m.reach)}{tier}]", tz, lang)
    lines += ["", w["questions"].format(n=d.unanswered_total)]
    for q in d.unanswered:
        waited = format_duration(q.waiting)
        title = q.title or w["no_title"]
        lines.append(w["waiting"].format(id=q.alert_id, waited=waited, title=title))
        if q.url:
            lines.append(f"   {q.url}")
    if d.unanswered_total > len(d.unanswered):
        lines.append(w["more_questions"].format(n=d.unanswered_total - len(d.unanswered)))
    if d.kols:
        lines += ["", w["kols"].format(n=d.kol_mentions)]
        for k in d.kols:
            tier = f" {k.tier}" if k.tier else ""
            lines.append(
                w["kol"].format(
                    author=k.author,
                    reach=human_number(k.reach),
                    tier=tier,
                    n=k.mentions,
                    sentiment=signed(k.sentiment),
                )
            )
    if d.aspects:
        lines += ["", w["aspects"]]
        for a in d.aspects:
            lines.append(
                f"• {a.name} {a.total}: {a.negative} / {a.neutral} / {a.positive}"
                f" · {signed(a.sentiment)}"
            )
    ack = w["median_ack"].format(ack=format_duration(d.median_ack)) if d.median_ack else ""
    alerts = w["alerts"].format(
        opened=d.alerts_opened, acked=d.alerts_acked, resolved=d.alerts_resolved
    )
    lines += ["", alerts + ack]
    if d.sources:
        lines.append(w["sources"] + " · ".join(f"{s} {n}" for s, n in d.sources))
    return "\n".join(lines)


def signed(score: float) -> str:
    """A sentiment score as `+0.42` / `-0.42`; a mean just below zero reads +0.00, not -0.00."""
    text = f"{score:+.2f}"
    return "+0.00" if text == "-0.00" else text


def stats_text(d: Digest) -> str:
    """Counts by day, sentiment, source and aspect: the `stats` command's reply."""
    who = d.brand or "all brands"
    lines = [f"Stats · {who} · {_period_label(d.period)}", f"Mentions: {d.total}"]
    if d.by_day:
        lines.append("By day: " + " · ".join(f"{day:%m-%d} {n}" for day, n in d.by_day))
    lines.append(
        f"Sentiment: negative {_share(d.negative, d.total)} · neutral "
        f"{_share(d.neutral, d.total)} · positive {_share(d.positive, d.total)}"
    )
    if d.sources:
        lines.append("Sources: " + " · ".join(f"{s} {n}" for s, n in d.sources))
    if d.aspects:
        lines.append(
            "Aspects: "
            + " · ".join(
                f"{a.name} {a.total} ({a.negative} neg, {signed(a.sentiment)})" for a in d.aspects
            )
        )
    return "\n".join(lines)
