import gzip
import json
import math
import random
import re

import pytest

from rules import sentiment as rs
from rules.sentiment import NEGATIVE_THRESHOLD, sentiment_score


def is_negative(text, lang, domain_words=None):
    return sentiment_score(text, lang, domain_words) < NEGATIVE_THRESHOLD


def margin(text):
    """Log-odds behind a Chinese score: 2 * atanh(score)."""
    return 2 * math.atanh(sentiment_score(text, "zh"))


ZH_POSITIVE = [
    "太好吃了，下次还来",
    "服务态度很好，上菜也快，强烈推荐！",
    "包装很用心，味道正宗，分量足",
    "酒店位置方便，房间干净，前台小姐姐很热情",
    "喜茶新品真的绝了，超好喝[赞]",
    "外卖小哥冒雨送餐，辛苦了，五星好评",
    "@海底捞 生日惊喜太感动了[心][心] #海底捞#",
    "一点都不贵，性价比很高",
]
ZH_NEGATIVE = [
    "难吃死了，再也不来了",
    "等了一个半小时才送到，菜全凉了",
    "客服态度太差了，问什么都说不知道",
    "吃完拉肚子一整晚，已经投诉",
    "房间有霉味，隔音很差，一晚上没睡好",
    "送错了还不给退款，垃圾商家",
    "等了两个小时[怒][怒]",
    "又涨价了，分量还越来越少[泪]",
    "避雷！这家奶茶店的珍珠是硬的",
    "这也叫服务？服务员一直在玩手机",
]
EN_POSITIVE = [
    "I love this place, the staff are amazing!",
    "Best burger I've had in years 🍔😍",
    "Thanks @Chipotle for fixing my order so quickly, great service",
]
EN_NEGATIVE = [
    "Worst customer service ever. Never ordering again 😡",
    "The food was cold and the delivery took two hours. Terrible.",
    "@Delta lost my bag AGAIN, this is ridiculous",
]


@pytest.mark.parametrize("text", ZH_POSITIVE)
def test_zh_positive(text):
    assert sentiment_score(text, "zh") > 0.2


@pytest.mark.parametrize("text", ZH_NEGATIVE)
def test_zh_negative(text):
    assert is_negative(text, "zh")


@pytest.mark.parametrize("text", EN_POSITIVE)
def test_en_positive(text):
    assert sentiment_score(text, "en") > 0.2


@pytest.mark.parametrize("text", EN_NEGATIVE)
def test_en_negative(text):
    assert is_negative(text, "en")


@pytest.mark.parametrize(
    ("negative", "positive"),
    [
        ("不好吃", "好吃"),
        ("服务不好", "服务很好"),
        ("不推荐", "推荐"),
        ("没有想象中好吃", "比想象中好吃"),
        ("not good at all", "good"),
    ],
)
def test_negation_flips_polarity(negative, positive):
    lang = "en" if negative.isascii() else "zh"
    assert is_negative(negative, lang)
    assert not is_negative(positive, lang)


@pytest.mark.parametrize("text", ["不难吃", "一点都不贵", "不是不好吃，就是有点贵"])
def test_negated_negative_is_not_negative(text):
    assert not is_negative(text, "zh")


@pytest.mark.parametrize(
    ("with_code", "without"),
    [("等了半小时[怒]", "等了半小时"), ("收到了[泪]", "收到了"), ("收到了😡", "收到了")],
)
def test_negative_emoticons_pull_down(with_code, without):
    # Compared in log-odds (score = tanh(margin / 2)): near -1 the score saturates, so a
    # fixed score gap would test how negative the base text is, not the emoticon.
    assert margin(with_code) < margin(without) - 0.6


@pytest.mark.parametrize(
    ("with_code", "without"),
    [("收到了[哈哈]", "收到了"), ("收到了[赞]", "收到了"), ("收到了👍", "收到了")],
)
def test_positive_emoticons_pull_up(with_code, without):
    assert margin(with_code) > margin(without) + 0.6


BRAND = {"食物中毒": -1.0, "退款": -0.6, "refund": -0.6, "好评返现": 0.3, "宝藏店": 0.8}


@pytest.mark.parametrize(
    ("text", "lang", "check"),
    [
        # |d| == 1 fixes the score whatever the model says
        ("太好吃了，环境也好，就是吃完食物中毒了", "zh", lambda s: s == -1.0),
        # |d| >= 0.5: the sign follows the domain word even against a glowing text
        ("服务超级好，味道超级棒，但我要退款", "zh", lambda s: s < NEGATIVE_THRESHOLD),
        ("Amazing staff, great food, but I want a REFUND", "en", lambda s: s < NEGATIVE_THRESHOLD),
        ("Refunded quickly, great service", "en", lambda s: s < 0),  # word-start match
        ("这家真的是宝藏店", "zh", lambda s: s >= 0.8),
    ],
)
def test_domain_words_dominate(text, lang, check):
    assert check(sentiment_score(text, lang, BRAND))


def test_domain_word_combination_rule():
    text = "这家很一般"
    m = sentiment_score(text, "zh")
    assert sentiment_score(text + "，好评返现", "zh", {"好评返现": 0.3}) == pytest.approx(
        0.3 + 0.7 * sentiment_score(text + "，好评返现", "zh"), abs=1e-9
    )
    # the strongest word decides, ties go to the negative one
    assert sentiment_score("退款", "zh", {"退款": -0.6, "好": 0.6}) < 0
    assert sentiment_score(text, "zh", {"不相关": -1.0}) == m  # no match: model score


def test_domain_words_latin_need_word_start():
    assert sentiment_score("great start", "en", {"art": -1.0}) == sentiment_score(
        "great start", "en"
    )


def test_domain_word_matches_equal_the_plain_word_start_regex():
    """The shipped alternation puts the word-start check after a word's first character;
    it must find what (?<![a-z0-9])word finds."""
    rng = random.Random(5)
    alphabet = [*"ab rt1-é退款艾\n", "art", "refund", "退款"]
    for _ in range(2000):
        words = {"".join(rng.choices(alphabet, k=rng.randint(1, 3))): -0.5 for _ in range(3)}
        text = "".join(rng.choices(alphabet, k=rng.randint(0, 14)))
        pattern, _values = rs._domain_matcher(tuple(sorted(words.items())))
        keys = sorted(
            {w.lower().strip() for w in words if w.strip()},
            key=lambda k: len(re.escape(k)) + (13 if k[0].isascii() and k[0].isalnum() else 0),
            reverse=True,
        )
        plain = re.compile(
            "|".join(
                ("(?<![a-z0-9])" if k[0].isascii() and k[0].isalnum() else "") + re.escape(k)
                for k in keys
            )
            or "(?!x)x"
        )
        found = [(m.start(), m.group(0)) for m in pattern.finditer(text)]
        assert found == [(m.start(), m.group(0)) for m in plain.finditer(text)], (words, text)


LANGS = ["zh", "en", "ja", ""]
LAUGHTER, ANGER = "哈哈哈哈哈哈哈哈" * 50, "[怒]" * 30


@pytest.mark.parametrize("text", ["", "   ", "@someone", "http://t.cn/abc"])
@pytest.mark.parametrize("lang", LANGS)
def test_nothing_to_judge_is_exactly_neutral(text, lang):
    assert sentiment_score(text, lang) == 0.0


@pytest.mark.parametrize(("text", "sign"), [(LAUGHTER, 1), (ANGER, -1)])
@pytest.mark.parametrize("lang", ["zh", "ja", ""])
def test_repeated_laughter_and_anger_saturate_within_range(text, sign, lang):
    # Read as Chinese (the script decides for ja and ""): strongly one way, never past 1.
    assert 0.9 <= sign * sentiment_score(text, lang) <= 1.0


@pytest.mark.parametrize("text", [LAUGHTER, ANGER])
def test_an_english_reader_finds_no_words_in_chinese_text(text):
    assert sentiment_score(text, "en") == 0.0


@pytest.mark.parametrize("text", ["?!?!", "a" * 5000])
@pytest.mark.parametrize("lang", LANGS)
def test_noise_stays_in_range_and_scores_the_same_every_time(text, lang):
    s = sentiment_score(text, lang)
    assert -1.0 <= s <= 1.0 and sentiment_score(text, lang) == s
    # What the Chinese model makes of punctuation or a letter run moves with retraining
    # and is not pinned; every other reader finds no words in it.
    if lang != "zh":
        assert s == 0.0


def test_empty_is_neutral():
    assert sentiment_score("", "zh") == 0.0
    assert sentiment_score("@somebody http://t.cn/x", "zh") == 0.0


def test_unknown_lang_uses_script():
    assert sentiment_score("难吃死了", "xx") == sentiment_score("难吃死了", "zh")
    assert sentiment_score("awful food", "und") == sentiment_score("awful food", "en")


def test_cache_hit_for_reposts():
    rs.cache_clear()
    sentiment_score("这家店的牛肉面真的好吃，汤很浓", "zh")
    raw, cleaned = rs.cache_info()
    assert (raw.misses, cleaned.misses) == (1, 1)
    sentiment_score("这家店的牛肉面真的好吃，汤很浓", "zh")  # exact repost
    raw, _ = rs.cache_info()
    assert raw.hits == 1
    # a copy that differs only in @handle / URL reuses the cleaned-text entry
    sentiment_score("@小王 这家店的牛肉面真的好吃，汤很浓 http://t.cn/abc", "zh")
    _, cleaned = rs.cache_info()
    assert cleaned.hits == 1 and cleaned.misses == 1


def test_threshold_matches_model_file():
    with gzip.open(rs.MODEL_PATH, "rt", encoding="utf-8") as fh:
        meta = json.load(fh)
    assert meta["negative_threshold"] == NEGATIVE_THRESHOLD
    assert meta["ngram_max"] == rs.NGRAM_MAX


def test_model_file_is_small_and_loads():
    # Load time and scoring speed are measured by bench/accuracy.py, not asserted here.
    assert rs.MODEL_PATH.stat().st_size < 5_000_000
    model = rs.ZhModel.load(rs.MODEL_PATH)
    assert model is not None


def test_runtime_imports_no_heavy_dependencies():
    import subprocess
    import sys

    code = (
        "import sys; from rules.sentiment import sentiment_score; "
        "sentiment_score('好吃', 'zh'); sentiment_score('good', 'en'); "
        "heavy = {'numpy', 'sklearn', 'snownlp', 'jieba', 'scipy'} & set(sys.modules); "
        "print(sorted(heavy))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=rs.MODEL_PATH.parents[2],
    )
    assert out.stdout.strip() == "[]"


def test_gated_domain_model_formula():
    # Tiny hand-made model: the margin must follow the formula in ZhModel's docstring.
    model = rs.ZhModel(
        0.5,
        {"好": 1.0},
        nmax=2,
        domains={
            "a": {"bias": 0.2, "weights": {"好": 2.0}, "gate_bias": 0.0, "gate_weights": {}},
            "b": {
                "bias": -1.0,
                "weights": {"坏": -3.0},
                "gate_bias": 1.0,
                "gate_weights": {"好": 2.0},
            },
        },
    )
    grams = rs.ngrams("好坏")  # 好, 坏, 好坏 -> s = 1/sqrt(3)
    s = 1 / math.sqrt(len(grams))
    ga, gb = math.exp(0.0), math.exp(1.0 + 2.0 * s)
    pa, pb = ga / (ga + gb), gb / (ga + gb)
    expected = 0.5 + 1.0 * s + pa * (0.2 + 2.0 * s) + pb * (-1.0 - 3.0 * s)
    assert model.margin_prepared("好坏") == pytest.approx(expected)
    assert sum(model.gate(grams, s)) == pytest.approx(1.0)
    # without domains it is one linear model
    assert rs.ZhModel(0.5, {"好": 1.0}, nmax=2).margin_prepared("好坏") == pytest.approx(0.5 + s)


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("房间很干净，前台服务热情，早餐品种也多，下次出差还住这家酒店", "hotel"),
        ("送餐太慢了，外卖小哥送到的时候饭都凉了，米饭也不够", "waimai"),
        ("今天和闺蜜去看电影啦，好开心[哈哈] #周末#", "weibo2018"),
    ],
)
def test_shipped_gate_recognises_text_kind(text, kind):
    model = rs.ZhModel.load(rs.MODEL_PATH)
    grams = rs.ngrams(rs.prepare_zh(text))
    gate = model.gate(grams, 1 / math.sqrt(len(grams)))
    assert model.domains[gate.index(max(gate))] == kind


# Short social complaints and praise that reviews did not teach the model (from a new-user
# test): a complaint scored 0 or above never alerts.
@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("泽飞茶的奶茶太甜了，而且太贵", "zh"),
        ("艾克米又涨价了，吃不起了", "zh"),
        ("太贵了", "zh"),
        ("Acme customer service hung up on me twice. Never again.", "en"),
        ("Acme the burgers were cold", "en"),
        ("Why is Acme so expensive now?", "en"),
        ("Acme is a total rip-off", "en"),
    ],
)
def test_short_social_complaints_are_negative(text, lang):
    assert is_negative(text, lang)


@pytest.mark.parametrize(
    "text", ["I can't recommend Acme enough!", "Acme's new burger is fire 🔥", "Acme slaps, 10/10"]
)
def test_english_social_praise_is_not_negative(text):
    assert not is_negative(text, "en")


def test_a_long_review_weighs_a_small_complaint_against_the_rest():
    review = "房间太小了，不过前台服务非常热情，早餐丰富，位置也方便，下次出差还会选择这家酒店"
    assert len(review) > rs._SHORT_POST_CHARS
    assert not is_negative(review, "zh")
    assert is_negative("房间太小了", "zh")
