import re
import sys
from pathlib import Path

import pytest

from rules import question
from rules.question import is_question

DATA = Path(__file__).resolve().parent.parent / "data" / "questions.tsv"


def load():
    rows = []
    with open(DATA, encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                label, lang, text = line.rstrip("\n").split("\t", 2)
                rows.append((int(label), lang, text))
    return rows


def test_labelled_set_is_big_and_balanced():
    rows = load()
    assert len(rows) >= 240
    share = sum(label for label, _, _ in rows) / len(rows)
    assert 0.4 <= share <= 0.6
    assert {lang for _, lang, _ in rows} == {"zh", "en"}


def test_precision_and_recall_on_labelled_set():
    rows = load()
    pred = [is_question(text, lang) for _, lang, text in rows]
    tp = sum(p and y == 1 for p, (y, _, _) in zip(pred, rows, strict=True))
    fp = sum(p and y == 0 for p, (y, _, _) in zip(pred, rows, strict=True))
    fn = sum((not p) and y == 1 for p, (y, _, _) in zip(pred, rows, strict=True))
    precision, recall = tp / (tp + fp), tp / (tp + fn)
    assert precision >= 0.9, precision
    assert recall >= 0.9, recall


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("请问几点开门？", "zh"),
        ("你们家能开发票吗", "zh"),
        ("外卖退款一般多久到账啊", "zh"),
        ("有没有人知道停车场在哪里", "zh"),
        ("这个是正品吗？链接 https://item.taobao.com/item.htm?id=1", "zh"),
        ("这也叫服务？请问怎么投诉", "zh"),  # complaint plus an explicit ask
        ("又涨价了？请问会员价还有吗？", "zh"),
        ("就这么定了吗？", "zh"),
        ("又涨价了吗？", "zh"),  # a yes/no question, not an outcry
        ("Does anyone know if they deliver to Brooklyn", "en"),
        ("How do I cancel my order?", "en"),
        ("@Apple is the battery covered under AppleCare+?", "en"),
        ("anyone know how long refunds take", "en"),
        ("Is the 海底捞 in London open on Mondays?", "en"),
    ],
)
def test_questions(text, lang):
    assert is_question(text, lang)


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        # a '?' inside a URL is not a question
        ("分享一下今天的探店 http://t.cn/RmERsf6?share=1", "zh"),
        ("Check out my review https://youtube.com/watch?v=abc123", "en"),
        ("Sale link: https://bit.ly/x?utm_source=twitter&a=b", "en"),
        # rhetorical complaint-questions
        ("这也叫服务？", "zh"),
        ("还有比这更差的吗？", "zh"),
        ("凭什么？", "zh"),
        ("难道顾客就活该被这样对待吗？", "zh"),
        ("你们良心不会痛吗？", "zh"),
        ("说好的半小时送达呢？", "zh"),
        ("第三次投诉了，有用吗？没用", "zh"),
        ("Are you kidding me?", "en"),
        ("Who even designs this?", "en"),
        ("Why would anyone pay $7 for this??", "en"),
        ("Who asked for this redesign? Nobody.", "en"),
        # outcries: 就这？ (that's it?) and 又…了？ (again?!)
        ("就这？", "zh"),
        ("这杯咖啡就这？还卖30块", "zh"),
        ("就这服务？", "zh"),
        ("瑞幸又涨价了？", "zh"),
        ("又要排队了？我服了", "zh"),
        ("That's it? For 12 dollars", "en"),
        # statements and praise
        ("今天的麻辣香锅超好吃，下次还来！", "zh"),
        ("不知道为什么，每次来都很开心", "zh"),
        ("哪里都买不到，只有你们家有", "zh"),
        ("Love the new holiday cups!", "en"),
        ("I asked the cashier how to use the coupon", "en"),
        ("", "zh"),
    ],
)
def test_not_questions(text, lang):
    assert not is_question(text, lang)


def test_latin_prefilter_lets_through_every_character_an_english_pattern_can_match() -> None:
    """The English patterns are skipped for a sentence with no character of _LATIN_LETTER:
    that set must hold every character that matches a Latin letter case-insensitively."""
    any_letter = re.compile("[a-z]", re.IGNORECASE)
    matching = {chr(c) for c in range(sys.maxunicode + 1) if any_letter.fullmatch(chr(c))}
    assert {c for c in matching if not question._LATIN_LETTER.fullmatch(c)} == set()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("İS THERE a store near me", True),  # dotted capital I still reads as "is"
        ("Are you KIDDING me? 等了一个小时", False),  # rhetorical, mixed scripts
        ("有人知道几点关门吗", True),
        ("客服呢？？？这也叫服务？", False),
    ],
)
def test_mixed_scripts_and_special_case_letters(text: str, expected: bool) -> None:
    assert is_question(text, "und") is expected


@pytest.mark.parametrize(
    ("text", "only"),
    [
        ("请问门店几点关门？", True),
        ("请问新品什么时候上市？有没有优惠？", True),
        ("Does anyone know if Acme opens on Sundays?", True),
        # a statement beside the question: it does not only ask
        ("味道不错，下次还点。怎么感觉第二次量少了？", False),
        # an interrogative word without a question mark (a review's 没什么吃的)
        ("早餐基本上没什么吃的", False),
        ("Acme opens on Sundays.", False),
    ],
)
def test_a_post_that_only_asks(text: str, only: bool) -> None:
    lang = "zh" if any("\u4e00" <= c <= "\u9fff" for c in text) else "en"
    assert question.asks_only(text, lang) is only
