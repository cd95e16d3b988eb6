"""Every figure of a digest, from a fixed set of stored mentions and alerts."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from core.domain.clock import FakeClock
from core.reports.digest import daily_period
from core.reports.digest_service import DigestService
from core.reports.digest_text import digest_text, stats_text
from tests.digest.helpers import alert, mention, setup, utc

SHANGHAI = ZoneInfo("Asia/Shanghai")
RULES = {"negative_threshold": -0.2, "positive_threshold": 0.5}
# The digest sent at 09:00 on 11-29 (Shanghai) covers [11-28 01:00Z, 11-29 01:00Z).
DAY = date(2026, 11, 29)
NOW = utc(2026, 11, 29, 1, 0)

MENTIONS = [
    # in the period
    mention(
        "m1",
        utc(2026, 11, 28, 1, 30),
        -0.9,
        reach=1_200_000,
        author="美食家小王",
        flags=["kol", "negative"],
        kol_tier="mega",
        aspects=["food_safety"],
    ),
    mention("m2", utc(2026, 11, 28, 2, 10), -0.5, source="reddit", reach=50, aspects=["price"]),
    mention("m3", utc(2026, 11, 28, 2, 40), 0.0, source="reddit"),
    mention(
        "m4",
        utc(2026, 11, 28, 5, 0),
        0.8,
        source="news",
        reach=350_000,
        author="foodie_jane",
        flags=["kol"],
        kol_tier="macro",
        aspects=["taste"],
    ),
    mention("m5", utc(2026, 11, 29, 0, 59), 0.5, reach=10, aspects=["price"]),  # 0.5: positive
    mention("m6", utc(2026, 11, 28, 3, 0), -0.2, brand="Beta"),  # -0.2: neutral; other brand
    mention("m8", utc(2026, 11, 28, 1, 0), -0.3),  # exactly at the start: in
    # after the period
    mention("m7", utc(2026, 11, 29, 1, 0), -0.9),  # exactly at the end: out
    # the day before
    mention("p1", utc(2026, 11, 27, 12, 0)),
    mention("p2", utc(2026, 11, 28, 0, 59)),
    # the rest of the 7 days before
    mention("b1", utc(2026, 11, 22, 0, 0)),
    mention("b2", utc(2026, 11, 21, 1, 0)),  # exactly 7 days before the start: in
    mention("b3", utc(2026, 11, 21, 0, 59)),  # out
]

ALERTS = [
    alert(
        "A1",
        utc(2026, 11, 28, 2, 0),
        flags=["negative"],
        status="resolved",
        acked=utc(2026, 11, 28, 2, 10),
        resolved=utc(2026, 11, 28, 3, 0),
    ),
    alert(
        "A2",
        utc(2026, 11, 28, 3, 0),
        flags=["question"],
        status="acked",
        acked=utc(2026, 11, 28, 3, 30),
    ),
    alert("A3", utc(2026, 11, 28, 4, 0), flags=["question"], title="Do you deliver to Pudong?"),
    alert("A4", utc(2026, 11, 27, 20, 0), flags=["question"], title="会员积分怎么兑换？"),
    alert(
        "A5",
        utc(2026, 11, 27, 10, 0),
        flags=["negative"],
        status="acked",
        acked=utc(2026, 11, 28, 1, 30),
    ),
    alert("A6", utc(2026, 11, 28, 5, 0), flags=["question"], status="snoozed"),
    alert("A7", utc(2026, 11, 28, 5, 0), brand="Beta", flags=["question"]),
    alert("A8", utc(2026, 11, 29, 2, 0), flags=["question"]),  # after the period
]


@pytest.fixture
def service(tmp_path):
    clock = FakeClock(NOW)
    config, repo = setup(tmp_path, clock, MENTIONS, ALERTS, rules=RULES)
    yield DigestService(config, repo, clock, charts=False)
    repo.close()


def test_period_is_the_local_day_that_ended_at_the_digest_time() -> None:
    p = daily_period(DAY, time(9, 0), SHANGHAI)
    assert p.start.astimezone(ZoneInfo("UTC")) == utc(2026, 11, 28, 1, 0)
    assert p.end.astimezone(ZoneInfo("UTC")) == utc(2026, 11, 29, 1, 0)
    assert p.daily and p.hours == 24


def test_brand_digest_figures(service: DigestService) -> None:
    d = service.compute(daily_period(DAY, time(9, 0), SHANGHAI), "Acme")
    assert (d.total, d.previous, d.baseline_total) == (6, 2, 4)
    assert d.baseline_per_day == pytest.approx(4 / 7)
    assert (d.negative, d.neutral, d.positive) == (3, 1, 2)
    totals = [b.total for b in d.buckets]
    assert len(totals) == 24 and sum(totals) == 6
    assert totals[0] == 2 and totals[1] == 2 and totals[4] == 1 and totals[23] == 1
    assert (d.buckets[0].negative, d.buckets[1].negative, d.buckets[1].neutral) == (2, 1, 1)
    assert d.buckets[0].start.hour == 9 and d.buckets[23].start.hour == 8
    assert [m.id for m in d.top_negative] == ["m1", "m2", "m8"]
    assert [m.id for m in d.top_reach] == ["m1", "m4", "m2", "m5"]
    assert d.top_reach[0].url == "https://example.com/m1"
    assert d.kol_mentions == 2
    assert [(k.author, k.tier, k.reach, k.mentions) for k in d.kols] == [
        ("美食家小王", "mega", 1_200_000, 1),
        ("foodie_jane", "macro", 350_000, 1),
    ]
    aspects = {a.name: (a.total, a.negative, a.neutral, a.positive) for a in d.aspects}
    assert aspects == {
        "price": (2, 1, 0, 1),
        "food_safety": (1, 1, 0, 0),
        "taste": (1, 0, 0, 1),
    }
    assert d.aspects[0].name == "price"
    assert next(a for a in d.aspects if a.name == "price").sentiment == pytest.approx(0.0)
    assert d.sources == [("weibo", 3), ("reddit", 2), ("news", 1)]
    # Alerts: A1, A2, A3, A6 opened; A1, A2, A5 acked (10m, 30m, 15h30m); A1 resolved.
    assert (d.alerts_opened, d.alerts_acked, d.alerts_resolved) == (4, 3, 1)
    assert d.median_ack == timedelta(minutes=30)
    # Unanswered questions, oldest first: A4 (before the period), A3, A6 (snoozed).
    assert d.unanswered_total == 3
    assert [q.alert_id for q in d.unanswered] == ["A4", "A3", "A6"]
    assert d.unanswered[1].waiting == timedelta(hours=21)


def test_all_brands_digest_counts_every_brand(service: DigestService) -> None:
    d = service.compute(daily_period(DAY, time(9, 0), SHANGHAI), None)
    assert (d.total, d.neutral) == (7, 2)
    assert d.alerts_opened == 5  # A7 of Beta too
    assert d.unanswered_total == 4


def test_digest_text_says_each_figure(service: DigestService) -> None:
    d = service.compute(daily_period(DAY, time(9, 0), SHANGHAI), "Acme")
    text = digest_text(d)
    lines = text.splitlines()
    assert lines[0] == "Sat 28 Nov 09:00 → Sun 29 Nov 09:00 (Asia/Shanghai)"
    assert "Mentions: 6 · the day before 2 (+200%) · 7-day average 0.6 (+950%)" in lines
    assert "Sentiment: 🔴 negative 3 (50%) · ⚪ neutral 1 (17%) · 🟢 positive 2 (33%)" in lines
    assert "Volume by hour (09:00 → 08:00):" in lines
    assert "██▁▁▅" + "▁" * 18 + "▅" in lines
    assert "peak 2 at 09:00" in lines
    assert "• [-0.90] title m1" in lines
    assert "• [1.2M mega] title m1" in lines
    assert "Questions waiting for an answer: 3" in lines
    assert "• A3 · waiting 21h · Do you deliver to Pudong?" in lines
    assert "• 美食家小王 (1.2M mega) · 1 mention(s) · sentiment -0.90" in lines
    assert "• price 2: 1 / 0 / 1 · +0.00" in lines
    assert "Alerts: 4 opened · 3 acked · 1 resolved · median time to ack 30m" in lines
    assert "Busiest sources: weibo 3 · reddit 2 · news 1" in lines
    assert "https://example.com/m1" in lines[lines.index("• [-0.90] title m1") + 2]


def test_stats_text_counts_by_day(service: DigestService) -> None:
    messages = service.on_demand(timedelta(days=7), "Acme")
    text = stats_text(messages[0].digest)
    # Since 11-22 01:00Z: m1-m5, m8, p1 and p2 (b1 and b2 are earlier); days are local.
    assert "Mentions: 8" in text
    assert "By day: 11-27 1 · 11-28 6 · 11-29 1" in text
    assert "Sources: weibo 5 · reddit 2 · news 1" in text


def test_untrusted_titles_are_one_line_and_capped(tmp_path) -> None:
    clock = FakeClock(NOW)
    long = "A" * 500 + "\nsecond line"
    config, repo = setup(
        tmp_path, clock, [mention("x", utc(2026, 11, 28, 3), -0.9, title=long)], rules=RULES
    )
    d = DigestService(config, repo, clock, charts=False).compute(
        daily_period(DAY, time(9, 0), SHANGHAI), None
    )
    assert len(d.top_negative[0].title) == 90 and "\n" not in d.top_negative[0].title


# --- what a reader needs first: critical posts, telling titles, real questions ---------------


def _digest(tmp_path, mentions, alerts=()):
    clock = FakeClock(NOW)
    config, repo = setup(tmp_path, clock, mentions, list(alerts), rules=RULES)
    try:
        return DigestService(config, repo, clock, charts=False).compute(
            daily_period(DAY, time(9, 0), SHANGHAI), None
        )
    finally:
        repo.close()


def test_critical_mentions_have_a_section_whatever_their_score(tmp_path) -> None:
    at = utc(2026, 11, 28, 3)
    fine = mention(
        "fine",
        at,
        -0.04,
        title="市场监管局对艾克米罚款50万",
        flags=["critical"],
        aspects=["food_safety"],
    )
    shard = mention("shard", at, -0.15, title="咖啡里喝出塑料片", flags=["critical"])
    angry = [mention(f"n{i}", at, -0.9) for i in range(6)]  # fill "Most negative"
    d = _digest(tmp_path, [fine, shard, *angry])
    assert [m.id for m in d.critical] == ["shard", "fine"] and d.critical_total == 2
    assert not {"fine", "shard"} & {m.id for m in d.top_negative}
    lines = digest_text(d).splitlines()
    assert "Critical: 2" in lines
    assert lines.index("Critical: 2") < lines.index("Most negative:")
    assert "• [-0.04 food_safety] 市场监管局对艾克米罚款50万" in lines
    assert "严重：2" in digest_text(d, "zh").splitlines()


def test_a_title_that_says_nothing_shows_the_posts_text(tmp_path) -> None:
    at = utc(2026, 11, 28, 3)
    posts = [
        mention("rp", at, -0.9, title="转发微博", text="艾克米的三明治吃出头发"),
        mention("pic", at, -0.8, title="分享图片", text="门店地板全是水"),
        mention("me", at, -0.7, title="foodie_jane", author="foodie_jane", text="Acme cold fries"),
        mention("ok", at, -0.6, title="Acme refund refused", text="long story"),
    ]
    asked = alert("A9", at, flags=["question"], title="Repost")
    asked.summary["text"] = "会员积分怎么兑换？"
    d = _digest(tmp_path, posts, [asked])
    titles = {m.id: m.title for m in d.top_negative}
    assert titles == {
        "rp": "艾克米的三明治吃出头发",
        "pic": "门店地板全是水",
        "me": "Acme cold fries",
        "ok": "Acme refund refused",
    }
    assert [q.title for q in d.unanswered] == ["会员积分怎么兑换？"]


def test_rhetorical_complaints_are_not_questions_waiting(tmp_path) -> None:
    """Alerts flagged as the analyser flags the posts: only the real question waits."""
    from rules.analyze import Analyzer
    from tests.conftest import make_config

    analyzer = Analyzer(make_config(tmp_path))
    posts = {"A1": "艾克米又涨价了？", "A2": "艾克米就这？", "A3": "艾克米门店几点开门？"}
    alerts = []
    for aid, text in posts.items():
        m = analyzer.analyze(mention(aid.lower(), utc(2026, 11, 28, 3), title=text, text=text))
        alerts.append(alert(aid, utc(2026, 11, 28, 3), flags=m.flags, title=text))
    d = _digest(tmp_path, [], alerts)
    assert [q.alert_id for q in d.unanswered] == ["A3"] and d.unanswered_total == 1


@pytest.mark.parametrize(
    ("now", "before", "lang", "said"),
    [
        (5, 0, "en", "none then"),
        (5, 0, "zh", "此前没有"),
        (0, 0, "en", "±0%"),
        (6, 4, "en", "+50%"),
    ],
)
def test_a_change_from_nothing_is_said_in_words_not_new(
    now: int, before: int, lang: str, said: str
) -> None:
    # "7-day average 0.0 (new)" puzzled a new user: there were no mentions to compare with.
    from core.reports.digest_text import change

    assert change(now, before, lang) == said


def test_a_rolling_period_counts_each_day_under_its_own_date() -> None:
    """`digest since:3d` typed at 23:34: the days are calendar days in the digest's zone, so
    mentions said on 11-28 are 11-28's (24-hour windows from 11-27 23:34 put them under 11-27),
    and the partial first and last days are days of their own."""
    from core.reports.digest import compute_digest, rolling_period

    now = datetime(2026, 11, 30, 23, 34, tzinfo=SHANGHAI)
    said = [datetime(2026, 11, 28, h, 0, tzinfo=SHANGHAI) for h in (9, 12, 18)]
    said.append(datetime(2026, 11, 30, 8, 0, tzinfo=SHANGHAI))
    docs = [mention(f"r{i}", at.astimezone(UTC)).to_dict() for i, at in enumerate(said)]
    d = compute_digest(docs, [], rolling_period(now, timedelta(days=3), SHANGHAI), now)
    by_day = {b.start.date(): b.total for b in d.buckets}
    assert by_day == {
        date(2026, 11, 27): 0,
        date(2026, 11, 28): 3,
        date(2026, 11, 29): 0,
        date(2026, 11, 30): 1,
    }
    assert all(b.start.time() == time(0, 0) and b.start.tzinfo == SHANGHAI for b in d.buckets)
    assert "peak 3 at 11-28" in digest_text(d)
