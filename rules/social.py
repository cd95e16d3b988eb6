"""Social-text cleanup shared by sentiment scoring (run time) and model training.

Weibo / Twitter posts carry a lot of noise that says nothing about how the author feels
(``@user`` handles, URLs, repost chains, ``{%...%}`` Weibo card markup) and some markup
that says a great deal (``[怒]``, ``[泪]`` emoticon codes, emoji).  ``clean`` removes the
first kind and turns the second kind into explicit, readable tokens so that a character
n-gram model (and a human reading the cleaned text) can use them.

The training script (``tools/train_zh_sentiment.py``) runs exactly this function, so any
change here changes the features the shipped model expects: retrain after editing.

Stdlib only: this module is imported on the hot path.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

__all__ = [
    "EMOTICON_POLARITY",
    "clean",
    "clean_cached",
    "emoticon_token",
    "has_cjk",
    "split_repost",
]


def _words(spaced: str) -> list[str]:
    return spaced.split()


# Polarity of the most common Weibo emoticon codes and emoji.  "+" positive, "-" negative.
# Codes not listed here still become a token (category "表"), so the model can learn them
# from data; the listed ones share a category prefix, which lets a rare or new code such as
# [怒骂] borrow strength from the frequent ones.  Ambiguous ones ([允悲] = laughing at one's
# own misfortune, [doge], [二哈], [微笑], which Weibo users mostly use sarcastically) are left
# unlisted on purpose: the data, not us, decides what they mean.
_POS = _words(
    "哈哈 嘻嘻 爱你 心 太开心 开心 鼓掌 赞 赞啊 good 好喜欢 好爱哦 憧憬 可爱 亲亲 抱抱 偷笑 偷乐 "
    "笑哈哈 耶 鲜花 加油 色 害羞 羞嗒嗒 馋嘴 给力 威武 ok 棒棒糖 礼物 蛋糕 太阳 中国赞 "
    "拳头 握手 胜利 作揖 奥特曼 酷 舔屏 有钱 钱 鼓掌 兔子 星星 笑而不语 挤眼 din推撞 "
    "心动 点赞 干杯 牛 厉害 感动"
)
_NEG = _words(
    "怒 怒骂 泪 悲伤 伤心 失望 委屈 可怜 抓狂 哼 鄙视 吐 衰 生病 晕 汗 黑线 白眼 打脸 "
    "伤心 心碎 伤 崩溃 困 睡 累 闭嘴 嘘 拜拜 跪了 费解 疑问 左哼哼 右哼哼 阴险 怒火 "
    "泪流满面 大哭 哭 弱 囧 不高兴 生气 呕吐 炸 蜡烛 NO 哈欠 傻眼 摊手 敲打 "
    "草泥马 神马 浮云 骷髅 便便"
)
EMOTICON_POLARITY: dict[str, str] = {name.lower(): "-" for name in _NEG}
EMOTICON_POLARITY.update({name.lower(): "+" for name in _POS})

# Emoji: a short list of the ones that carry clear polarity in complaints and praise.
_EMOJI_POS = "😀😁😂🤣😃😄😅😆😉😊😋😍😘🥰😗😙😚🙂🤗🤩👍👏🙌💪❤💕💖💗💓💞💯🎉✨🌹🥳😎🤤☺♥"
_EMOJI_NEG = "😞😟😠😡🤬😢😭😤😩😫😖😣😔😕🙁☹😒🙄😓😰😨😱🤮🤢💩👎💔😑😐😬😪😷🤒🤕"
EMOTICON_POLARITY.update(dict.fromkeys(_EMOJI_POS, "+"))
EMOTICON_POLARITY.update(dict.fromkeys(_EMOJI_NEG, "-"))

_CATEGORY = {"+": "正", "-": "负"}


def emoticon_token(name: str) -> str:
    """Token that replaces an emoticon code or emoji: ``〔负:怒〕``, ``〔正:哈哈〕``, ``〔表:doge〕``.

    The prefix carries the known polarity (正 positive, 负 negative, 表 unknown), the name
    keeps the identity.  Full-width brackets never occur in the codes themselves.
    """
    cat = _CATEGORY.get(EMOTICON_POLARITY.get(name.lower(), ""), "表")
    return f"〔{cat}:{name}〕"


# The shapes of platform markup, one place for each: rules/titles.py builds on them too.
URL_START = r"(?:https?://|www\.)"
# Weibo handles: letters, digits, CJK, '-' and '_', up to 30 chars; stop at ':' / space.
HANDLE = r"@[\w\-\u4e00-\u9fff]{1,30}"
TOPIC = r"#([^#\n]{1,40})#"  # Weibo's #话题#
EMOTICON_CODE = r"\[([^\[\]\s]{1,8})\]"  # [哈哈], [doge]
REPOST_WORDS = r"转发微博|轉發微博|repost|rt"  # what a repost says before its own words
HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"  # Chinese characters (a class's ranges)

_URL = re.compile(URL_START + r"[^\s\u3000，。！？；、（）【】「」“”<>\"']+", re.IGNORECASE)
_MENTION = re.compile(HANDLE)
_REPOST_SPLIT = re.compile(rf"\s*//\s*{HANDLE}\s*[:：]?\s*")
_REPOST_PREFIX = re.compile(rf"^\s*(?:{REPOST_WORDS})\s*[:：]?\s*", re.IGNORECASE)
_RT_HEAD = re.compile(r"^\s*RT\s+@[\w\-]{1,30}\s*:?\s*")
# Weibo export markup seen in weibo2018: {%#话题#%}, {%某某的秒拍视频%}, {%北京·三里屯%}
_WEIBO_CARD = re.compile(r"\{%\s*(.*?)\s*%\}")
_VIDEO_CARD = re.compile(r"\S{0,20}的(?:秒拍|微博|美拍)视频")
_TOPIC = re.compile(TOPIC)
_HASHTAG = re.compile(r"(?<![\w&])#(\w{1,40})")
_EMOTICON_CODE = re.compile(EMOTICON_CODE)
# Ranges covering the emoji we meet in posts (pictographs, dingbats, symbols).
_EMOJI = re.compile(
    "[\U0001f300-\U0001faff\u2600-\u27bf\u2b50\u2764\u263a\u2639]\ufe0f?",
)
_SKIN_ZWJ = re.compile("[\U0001f3fb-\U0001f3ff\u200d\ufe0e\ufe0f\u20e3]")
_INVISIBLE = re.compile("[\u200b\u200c\u200e\u200f\u2060\ufeff\u00ad]")
# Three or more of the same character collapse to two: 哈哈哈哈 -> 哈哈, !!!!! -> !!, sooo -> soo.
_REPEAT_CHAR = re.compile(r"(.)\1{2,}", re.DOTALL)
# A repeated 2-char unit (呵呵呵呵 is covered above; 好的好的好的 -> 好的好的).
_REPEAT_PAIR = re.compile(r"(..)\1{2,}", re.DOTALL)
# Same token repeated: 〔负:怒〕〔负:怒〕〔负:怒〕 -> two of them.
_REPEAT_TOKEN = re.compile(r"(〔[^〕]{1,12}〕)(?:\s*\1){2,}")
_SPACES = re.compile(r"[ \t\u3000]+")
_CJK = re.compile(f"[{HAN}]")


def has_cjk(text: str) -> bool:
    """True when the text contains at least one CJK ideograph."""
    return _CJK.search(text) is not None


def split_repost(text: str) -> tuple[str, list[str]]:
    """Split a Weibo repost ``我的话//@甲:甲的话//@乙:乙的话`` into (own words, [quoted ...]).

    Also handles Twitter's ``RT @user: ...`` (the whole text is then quoted, own words empty)
    and the bare ``转发微博`` placeholder Weibo inserts when the reposter wrote nothing.
    """
    if _RT_HEAD.match(text):
        return "", [_RT_HEAD.sub("", text, count=1).strip()]
    parts = _REPOST_SPLIT.split(text)
    own = _REPOST_PREFIX.sub("", parts[0]).strip()
    quoted = [p.strip() for p in parts[1:] if p.strip()]
    return own, quoted


def _emoticon_sub(match: re.Match[str]) -> str:
    return " " + emoticon_token(match.group(1)) + " "


def _emoji_sub(match: re.Match[str]) -> str:
    return " " + emoticon_token(match.group(0)[0]) + " "


def _card_sub(match: re.Match[str]) -> str:
    inner = match.group(1)
    if _VIDEO_CARD.fullmatch(inner):
        return " "  # "xx的秒拍视频" is boilerplate, not opinion
    return " " + inner + " "


def clean(text: str, lang: str = "zh") -> str:
    """Normalise a social post for sentiment scoring.

    - NFKC (full-width Latin/digits -> ASCII, compatibility forms folded), invisible
      characters dropped.  Full-width CJK punctuation such as ，。！？ is kept by NFKC...
      except ！？ which become ASCII !? -- consistent for training and run time.
    - Repost chains: own words first, then the quoted posts (own words matter most and
      come first so a truncation keeps them).
    - URLs and ``@user`` handles removed; ``#话题#`` / ``#hashtag`` / ``{%#话题#%}`` keep
      their words without the markers; Weibo video-card boilerplate removed.
    - Emoticon codes ``[怒]`` and emoji become tokens such as ``〔负:怒〕`` (see
      ``emoticon_token``).  For ``lang="en"`` emoji are left alone because VADER has its
      own emoji lexicon; Weibo codes are still tokenised.
    - Runs of 3+ identical characters (or 2-character units, or identical emoticon
      tokens) collapse to two.
    - Whitespace collapsed.  Case is kept (VADER uses capitals as emphasis); the Chinese
      model lower-cases on its own.
    """
    if not text:
        return ""
    text = unicodedata.normalize("NFKC", text)
    text = _INVISIBLE.sub("", text)
    own, quoted = split_repost(text)
    text = " ".join(p for p in [own, *quoted] if p)
    text = _URL.sub(" ", text)
    text = _WEIBO_CARD.sub(_card_sub, text)
    text = _MENTION.sub(" ", text)
    text = _TOPIC.sub(r" \1 ", text)
    text = _HASHTAG.sub(r"\1", text)
    text = _EMOTICON_CODE.sub(_emoticon_sub, text)
    if lang != "en":
        text = _SKIN_ZWJ.sub("", text)
        text = _EMOJI.sub(_emoji_sub, text)
    text = _REPEAT_CHAR.sub(r"\1\1", text)
    text = _REPEAT_PAIR.sub(r"\1\1", text)
    text = _REPEAT_TOKEN.sub(r"\1\1", text)
    text = _SPACES.sub(" ", text)
    return text.strip()


@lru_cache(maxsize=4096)
def clean_cached(text: str, lang: str = "zh") -> str:
    """``clean``, remembered for the last few thousand texts: one post's analysis cleans the
    same text for its sentiment score, its complaint features and its cues."""
    return clean(text, lang)
