"""Storm detection on synthetic series: raised once, cleared once, never on a quiet night."""

from __future__ import annotations

from datetime import timedelta

import pytest

from core.config import StormRule
from core.domain.clock import FakeClock
from core.domain.repository import Repository
from core.reports.storms import StormWatch, Window, count_windows, evaluate, top_terms
from storage.factory import open_repository
from tests.digest.helpers import mention, setup, utc

NOW = utc(2026, 11, 28, 12, 0)
STORMS = {"window": "1h", "baseline_days": 7, "k": 3, "min_ratio": 3, "min_volume": 20}
RULES = {"negative_threshold": -0.2, "positive_threshold": 0.5}


def baseline(per_day: list[int], sentiment: float = 0.3) -> list:
    """Mentions in the same hour on each past day: per_day[0] is yesterday."""
    out = []
    for day, n in enumerate(per_day, 1):
        for i in range(n):
            when = NOW - timedelta(days=day, minutes=5 + i * 50 / max(n, 1))
            out.append(mention(f"b{day}-{i}", when, sentiment, text="午饭 lunch"))
    return out


def burst(n: int, start: timedelta, prefix: str, negative: int = 0, text: str = "") -> list:
    """n mentions spread over the hour before NOW + start; the first `negative` negative."""
    out = []
    for i in range(n):
        when = NOW + start - timedelta(minutes=55) + timedelta(minutes=55 * i / max(n, 1))
        score = -0.8 if i < negative else 0.3
        out.append(
            mention(
                f"{prefix}{i}",
                when,
                score,
                text=text or "ordinary day",
                reach=1000 * i,
                source="weibo" if i % 2 else "reddit",
            )
        )
    return out


def storm_messages(repo: Repository) -> list[dict]:
    return [i.message for i in repo.pending_outbox() if i.message.get("kind") == "text"]


def test_raised_once_and_cleared_once(tmp_path) -> None:
    clock = FakeClock(NOW)
    poisoned = "艾克米 食物中毒 拉肚子 food poisoning at Acme"
    mentions = baseline([4, 6, 5, 4, 6, 5, 5]) + burst(40, timedelta(0), "s", 30, poisoned)
    config, repo = setup(tmp_path, clock, mentions, storms=STORMS, rules=RULES)
    watch = StormWatch(config, repo, clock)
    raised = watch.check()
    assert len(raised) == 1 and raised[0].destination == "console"
    msg = raised[0].message
    assert msg["kind"] == "text" and msg["severity"] == "critical"
    assert msg["title"] == "🔴 CRITICAL · Storm · Acme: 40 mentions in the last 1h"
    text = msg["text"]
    assert "Usual for this time: 5.0 ± 0.8" in text
    assert "Negative: 30 of 40 (75%; usually 0%)." in text
    assert "Raised by: volume." in text
    terms_line = next(line for line in text.splitlines() if line.startswith("Top terms: "))
    assert "中毒 (40)" in terms_line and "poisoning (40)" in terms_line
    assert "艾克" not in terms_line and "acme" not in terms_line  # the brand is no news
    assert text.count("https://example.com/s") == 3  # three examples, with links
    # Still stormy a minute later: nothing new; a restart does not raise it again.
    clock.advance(60)
    assert watch.check() == []
    repo.close()
    repo = open_repository(config.storage.backend, config.data_dir, clock=clock)
    watch = StormWatch(config, repo, clock)
    assert watch.check() == []
    assert len(storm_messages(repo)) == 1
    # Two hours on, the hour holds 3 mentions: the storm is over, said once.
    clock.advance(timedelta(hours=2))
    repo.save_cycle(burst(3, timedelta(hours=2, minutes=1), "q"), [], [], [])
    cleared = watch.check()
    assert len(cleared) == 1
    assert cleared[0].message["title"] == "✅ Storm over · Acme: 3 mentions in the last 1h"
    assert "peak 40 mentions" in cleared[0].message["text"]
    assert watch.check() == []
    assert len(storm_messages(repo)) == 2
    assert repo.get_state("storm:Acme")["active"] is False
    repo.close()


def test_no_storm_on_a_quiet_night(tmp_path) -> None:
    clock = FakeClock(NOW)
    # Nothing in this hour on past days, then three mentions: thrice nothing, but only three.
    config, repo = setup(
        tmp_path, clock, burst(3, timedelta(0), "n", 3), storms=STORMS, rules=RULES
    )
    assert StormWatch(config, repo, clock).check() == []
    repo.close()


def test_no_storm_on_an_ordinary_busy_hour(tmp_path) -> None:
    clock = FakeClock(NOW)
    mentions = baseline([30, 34, 28, 31, 35, 29, 33]) + burst(36, timedelta(0), "o")
    config, repo = setup(tmp_path, clock, mentions, storms=STORMS, rules=RULES)
    assert StormWatch(config, repo, clock).check() == []
    assert storm_messages(repo) == []
    repo.close()


def test_negative_share_storm_without_more_volume(tmp_path) -> None:
    clock = FakeClock(NOW)
    mentions = baseline([24, 26, 25, 24, 26, 25, 25]) + burst(26, timedelta(0), "x", 22)
    config, repo = setup(tmp_path, clock, mentions, storms=STORMS, rules=RULES)
    raised = StormWatch(config, repo, clock).check()
    assert len(raised) == 1
    assert "Raised by: negative share." in raised[0].message["text"]
    repo.close()


def test_per_brand_rule_and_disabled(tmp_path) -> None:
    clock = FakeClock(NOW)
    mentions = burst(12, timedelta(0), "p")
    storms = {**STORMS, "brands": {"Acme": {"min_volume": 10, "min_ratio": 2}}}
    config, repo = setup(tmp_path, clock, mentions, storms=storms, rules=RULES)
    assert len(StormWatch(config, repo, clock).check()) == 1
    repo.close()
    config, repo = setup(
        tmp_path / "off", clock, mentions, storms={**storms, "enabled": False}, rules=RULES
    )
    assert StormWatch(config, repo, clock).check() == []
    repo.close()


def test_check_if_due_is_throttled(tmp_path) -> None:
    clock = FakeClock(NOW)
    config, repo = setup(tmp_path, clock, storms={**STORMS, "check_every": "1m"})
    watch = StormWatch(config, repo, clock)
    watch.check_if_due()
    repo.save_cycle(burst(40, timedelta(0), "late"), [], [], [])
    clock.advance(30)
    assert watch.check_if_due() == []  # too soon after the last check
    clock.advance(31)
    assert len(watch.check_if_due()) == 1
    repo.close()


def test_evaluate_hysteresis() -> None:
    rule = StormRule(min_volume=20, k=3, min_ratio=3, clear_ratio=0.5)
    base = [Window(5) for _ in range(7)]
    assert not evaluate(Window(19), base, rule, active=False).storm
    assert evaluate(Window(20), base, rule, active=False).storm
    # Once on, it stays on down to half the level (20 * 0.5), then clears.
    assert evaluate(Window(11), base, rule, active=True).storm
    assert not evaluate(Window(9), base, rule, active=True).storm


def test_top_terms_count_documents_not_repeats() -> None:
    terms = dict(top_terms(["退款 退款 退款", "要求退款", "the refund the refund"], skip=["Acme"]))
    assert terms["退款"] == 2
    assert terms["refund"] == 1
    assert "the" not in terms


@pytest.mark.parametrize("backend", ["sqlite", "tinydb"])
def test_the_store_counts_the_windows_as_count_windows_counts_the_records(
    tmp_path, backend: str
) -> None:
    clock = FakeClock(NOW)
    tick, hour, day = timedelta(microseconds=1), timedelta(hours=1), timedelta(days=1)
    ages = [  # edges of the current window, of the past days' windows and of the baseline
        *(timedelta(0), hour, hour + tick, hour - tick, -tick),
        *(day, day + tick, day + hour, day + hour + tick, 3 * day + 30 * timedelta(minutes=1)),
        *(7 * day + hour, 7 * day + hour + tick, 8 * day, timedelta(minutes=7)),
    ]
    mentions = [
        mention(f"m{i}", NOW - age, -0.5 if i % 3 else 0.1) for i, age in enumerate(ages)
    ] + [mention("other", NOW - timedelta(minutes=3), -0.9, brand="Other")]
    config, repo = setup(
        tmp_path, clock, mentions, storms=STORMS, rules=RULES, storage={"backend": backend}
    )
    watch = StormWatch(config, repo, clock)
    rule = watch.rule_for(config.brands[0])
    counted = watch.count("Acme", rule, NOW, -0.2)
    want = count_windows(repo.iter_mentions(NOW - 9 * day), {"Acme": rule}, NOW, -0.2)["Acme"]
    assert (counted.current, counted.baseline) == (want.current, want.baseline)
    # (exactly a day ago is the end of day 0's window, not within day 1's: out of both)
    assert counted.current.total == 4
    assert [w.total for w in counted.baseline] == [2, 0, 1, 0, 0, 0, 1]
    assert [d["id"] for d in watch.current_docs("Acme", rule, NOW)] == [d["id"] for d in want.docs]
    repo.close()
