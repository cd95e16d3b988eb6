import pytest

from rules.social import clean, emoticon_token, has_cjk, split_repost


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("@小明 你好", "你好"),
        ("好吃 http://t.cn/RmERsf6 推荐", "好吃 推荐"),
        ("看 https://example.com/a?b=1&c=2 这个", "看 这个"),
        ("#海底捞# 服务好", "海底捞 服务好"),
        ("{%#阿拉蕾#%} 可爱", "阿拉蕾 可爱"),
        ("{%围观明星大宝贝的秒拍视频%} 好看", "好看"),
        ("哈哈哈哈哈哈", "哈哈"),
        ("好的好的好的好的", "好的好的"),
        ("太棒了！！！！", "太棒了!!"),
        ("ＡＢＣ１２３", "ABC123"),  # NFKC
        ("零\u200b宽", "零宽"),
        ("等了两小时[怒]", "等了两小时 〔负:怒〕"),
        ("[哈哈][哈哈][哈哈][哈哈]", "〔正:哈哈〕〔正:哈哈〕"),
        ("[二哈]", "〔表:二哈〕"),
        ("难吃😡", "难吃 〔负:😡〕"),
        ("好吃👍🏻", "好吃 〔正:👍〕"),
        ("", ""),
    ],
)
def test_clean_zh(raw, expected):
    assert clean(raw, "zh") == expected


def test_repost_chain_keeps_own_words_first():
    text = "我觉得还行//@张三:难吃死了[泪]//@李四: 避雷"
    assert split_repost(text) == ("我觉得还行", ["难吃死了[泪]", "避雷"])
    assert clean(text) == "我觉得还行 难吃死了 〔负:泪〕 避雷"


@pytest.mark.parametrize(
    ("raw", "own", "quoted"),
    [
        ("转发微博//@甲:好评", "", ["好评"]),
        ("RT @bob: great coffee", "", ["great coffee"]),
        ("no repost here", "no repost here", []),
    ],
)
def test_split_repost(raw, own, quoted):
    assert split_repost(raw) == (own, quoted)


def test_english_keeps_emoji_and_case_for_vader():
    assert clean("@Delta SO bad 😭 #fail https://x.co/a?b=1", "en") == "SO bad 😭 fail"


def test_emoticon_token_polarity():
    assert emoticon_token("怒") == "〔负:怒〕"
    assert emoticon_token("赞") == "〔正:赞〕"
    assert emoticon_token("doge") == "〔表:doge〕"


@pytest.mark.parametrize(("text", "expected"), [("abc", False), ("abc中", True), ("", False)])
def test_has_cjk(text, expected):
    assert has_cjk(text) is expected
