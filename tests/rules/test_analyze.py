"""The rules layer as a whole: what one mention gets from Analyzer.analyze."""

from __future__ import annotations

import pytest

from core.domain.models import Mention
from rules.analyze import Analyzer
from tests.conftest import make_config


@pytest.fixture(scope="module")
def analyzer(tmp_path_factory: pytest.TempPathFactory) -> Analyzer:
    return Analyzer(make_config(tmp_path_factory.mktemp("cfg")))


def analyze(
    analyzer: Analyzer, text: str, author: str = "", metrics: dict[str, int] | None = None
) -> Mention:
    return analyzer.analyze(
        Mention(
            id="x", source="s", url="", title="", text=text, author=author, metrics=metrics or {}
        )
    )


@pytest.mark.parametrize(
    ("text", "flags", "severity"),
    [
        # A fan asking: a question, not a complaint.
        ("请问艾克米的会员积分怎么兑换？", {"question"}, "medium"),
        ("有人知道艾克米周末营业吗？", {"question"}, "medium"),
        ("Does anyone know if Acme is open on Sunday?", {"question"}, "medium"),
        # The brand's own complaint words keep a question negative.
        ("请问艾克米怎么退款？", {"question", "negative"}, "medium"),
        # Complaints, by one person and by a KOL.
        ("艾克米外卖洒了一地，客服不理人，再也不点了", {"negative"}, "medium"),
        (
            "Worst service ever at Acme, staff were rude and the food was cold",
            {"negative"},
            "medium",
        ),
        # Critical aspect.
        ("吃完艾克米拉肚子了，怀疑食物中毒", {"negative", "critical"}, "critical"),
        # Praise and noise.
        ("艾克米的薯条真的太好吃了，强烈推荐！", {"positive"}, "low"),
    ],
)
def test_flags_and_severity(analyzer: Analyzer, text: str, flags: set[str], severity: str) -> None:
    m = analyze(analyzer, text)
    assert m.brands == ["Acme"]
    assert set(m.flags) == flags
    assert m.severity == severity


def test_a_kol_complaint_is_high_and_a_mega_reach_one_critical(analyzer: Analyzer) -> None:
    text = "艾克米外卖洒了一地，客服不理人，再也不点了"
    assert (
        analyze(analyzer, text, author="someone", metrics={"followers": 20_000}).severity == "high"
    )
    kol = analyze(analyzer, text, author="美食家小王")
    assert "kol" in kol.flags and kol.severity == "critical" and kol.kol_tier == "mega"


def test_brand_named_late_in_a_long_article_still_matches(analyzer: Analyzer) -> None:
    text = "今天的新闻很多。" * 300 + "最后说一句，艾克米的新店开业了。"
    assert analyze(analyzer, text).brands == ["Acme"]


def test_noise_and_exclusions(analyzer: Analyzer) -> None:
    assert analyze(analyzer, "The Acmeville fair is on Saturday").brands == []
    assert analyze(analyzer, "Acme Corp stock rose 3% today").brands == []
    skipped = analyzer.analyze(
        Mention(id="n", source="s", url="", title="", text="今天天气真好"), only_brands=True
    )
    assert skipped.brands == [] and skipped.flags == [] and skipped.lang == ""
