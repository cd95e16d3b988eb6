"""Is a post a question someone wants answered?  ``is_question(text, lang)``.

Precompiled regexes, no model.  The post is cleaned (URLs, @handles, repost chains) and split
into sentences; a sentence is a question when it carries a question cue (a ``?``, a
sentence-final particle 吗/呢, an explicit ask such as 请问 / "anyone know", a wh-word or an
auxiliary verb opening an English clause, a Chinese interrogative word that is not used as
an indefinite).  Rhetorical complaint-questions (这也叫服务？ 凭什么？ "Are you kidding me?")
and outcries (就这？ 又涨价了？) are complaints, not questions a team must answer: once a post
contains one, only an explicit ask (请问, "does anyone know") in another sentence makes it a
question.

Both languages' rules run on every post (brand posts mix them freely); ``lang`` is accepted
for symmetry with the rest of ``rules/`` and to allow language-specific tuning later.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from rules.social import split_repost

__all__ = ["asks_only", "cache_clear", "is_question"]

_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_MENTION = re.compile(r"@[\w\-\u4e00-\u9fff]{1,30}[:：]?")
_HASHTAG_ZH = re.compile(r"#[^#\n]{1,40}#")
_EMOTICON = re.compile(r"\[[^\[\]\s]{1,8}\]")
# Sentence ends: CJK and Latin terminators (a '.' between digits, as in 4.5, is not one).
_SENTENCE_END = re.compile(r"(?<=[。！？!?\n])(?![。！？!?])|(?<=\.)(?![\d.])")
_WORD = re.compile(r"\w")

# --- rhetorical complaint-questions ------------------------------------------------------
_RHETORICAL_ZH = re.compile(
    r"这(?:也|还|都)(?:敢|能|配|好意思)?(?:叫|算|是人)"  # 这也叫服务 / 这还敢叫五星级
    r"|这就是.{0,6}(?:说的|所谓的?)"  # 这就是你们说的新鲜
    r"|还有比这(?:更|还)"  # 还有比这更差的吗
    r"|凭什么|难道|岂不是|何必|何苦|怎么好意思"
    r"|(?:有|见过)(?:这么|这样|如此).{0,14}[吗么]"  # 有这么做生意的吗 / 你见过...这么大的吗
    r"|你见过"
    r"|良心|脸呢|要脸|故意的|摆设|是机器人"
    r"|是人(?:能|吃|用|喝|干|住)"  # 这是人能吃的东西吗
    r"|敢(?:吃|喝|用|买|住|来)[吗么]"
    r"|让不让人|还要什么|还想怎样|还能怎样|有意思吗|有必要吗|好意思吗"
    r"|说好的.{0,20}呢"
    r"|谁(?:能想到|说|懂|敢|信|会买|会信|让你)"
    r"|什么(?:破|垃圾|鬼|玩意|东西啊)|搞什么|干什么吃的|是不是有病|有病吧"
    r"|怎么(?:会|能|可能|可以)(?:有|这么|那么|这样)?"  # 我怎么会买这种东西
    r"|(?:怎么|为什么|为啥|咋)[^，,。？?！!]{0,10}(?:这么|那么|如此)"  # exclamative
    r"|太[^，,。？?！!]{1,8}了吧"  # 也太离谱了吧？？？
    r"|能不能别|能不能不要|可不可以别|可不可以不要|能别"  # a plea, not a question
    r"|就这(?:[？?!！]|$|么点|样\s*[？?!！]|种|点|水平|服务|质量|味道|速度|态度)"  # 就这服务？
    r"|又[^，,。？?！!吗么呢]{1,8}了[啊吧呀]?\s*[？?]"  # 又涨价了？ 又要排队了？ (an outcry)
)
_RHETORICAL_EN = re.compile(
    r"\b(?:are|r) (?:you|u) (?:kidding|serious|joking|for real)"
    r"|\byou(?:'ve| have)? (?:got|gotta) to be kidding"
    r"|\b(?:even|actually|seriously|really)\b"
    r"|\bwhy (?:would|on earth) (?:anyone|anybody|you|they|i)\b"
    r"|\bwhy (?:do|did|am|was|would|should) i\b"
    r"|\bwhy is it (?:that|always)\b"
    r"|\bhow hard (?:is|can|could|would)\b"
    r"|\btoo much to ask\b"
    r"|\bwhat(?:'s| is| the hell is| the heck is) wrong with\b"
    r"|\bwhat kind of\b|\bwho asked for\b|\bwho does that\b|\bwho knew\b|\bwho cares\b"
    r"|\bwhat happened to\b|\bi guess\s*\?"
    r"|\bhow (?:do|does|can|could) (?:they|you people|these people) still\b"
    r"|^\W*what an?\b"
    r"|\banyone else (?:notice|think|feel|hate|love|see|tired|sick)"
    r"|\bwho (?:designed|thought|approved)\b|\bhow dare\b|\bsince when\b"
    r"|\bwhat the (?:hell|heck|f\w*)\b|\bwtf\b|\bffs\b|\bsmh\b"
    r"|\bhow is (?:this|that|it) (?:legal|ok|okay|acceptable|possible|allowed)\b"
    r"|^\W*(?:that'?s|that is) it\s*\?",  # "That's it?" (就这？)
    re.IGNORECASE,
)
# A question answered by its own author in the next breath: 有用吗？没用 / "Who? Nobody."
_SELF_ANSWER = re.compile(
    r"^\s*(?:没用|没有|不会|不能|并没有|呵呵|笑死|做梦|想多了"
    r"|nobody|no one|none|nope|never|apparently|unbelievable|lol|smh|seriously|obviously)",
    re.IGNORECASE,
)

# --- question cues ---------------------------------------------------------------------
# Explicit asks: a question even without a question mark.
_ASK_ZH = re.compile(
    r"请问|求问|想问|问一下|问下|问问|请教|求助|求推荐|求解答|求回答|求告知|在线等"
    r"|有没有人|有人知道|有谁|谁知道(?!呢)|哪位.{0,8}知道|大家觉得|有人(?:用|试|去|吃|买|玩)过"
    r"|想知道|求科普"
)
_ASK_EN = re.compile(
    r"\b(?:any ?(?:one|body)|some ?(?:one|body)) (?:know|knows|tried|used|been|here|have|has)\b"
    r"|\b(?:does|did|has|can|could|will|would) (?:any ?(?:one|body)|some ?(?:one|body))\b"
    r"|\bquick question\b|\bany (?:idea|ideas|tips|advice|recommendations?|suggestions?)\b"
    r"|\bis there (?:a|an|any)\b|\bhow (?:do|can|should) (?:i|we|you)\b"
    r"|\bhow (?:long|much|many|often)\b|\bwhere can i\b|\bwhat time\b"
    r"|\bcan (?:i|we|you)\b|\bplease (?:help|advise|tell)\b|\bwondering (?:if|whether)\b",
    re.IGNORECASE,
)
# Sentence-final particles: 吗 么 呢 嘛, and A-not-A tails 好吃不 / 有货没.
_PARTICLE_ZH = re.compile(r"(?:[吗嘛呢]|(?<!什)么|(?<=[\u4e00-\u9fff])[不没])[啊呀哈哦呢啦]?\W*$")
_INTERROGATIVE_ZH = re.compile(
    r"怎么|怎样|如何|为什么|为啥|干嘛|多少|多久|多长|多大|多远|哪|几点|几号|几天|几分钟|几个|几次|几岁"
    r"|什么时候|啥时候|是否|能不能|可不可以|会不会|是不是|要不要|有没有|好不好|行不行|对不对"
    r"|是[^，,。]{1,12}还是|什么|啥"
)
# Interrogative words used as indefinites or in reported/unknown contexts: 哪里都买不到,
# 什么也不说, 不知道为什么, 都忘了, 就不说了.
_NOT_INTERROGATIVE_ZH = re.compile(
    r"(?:哪里?|哪儿|什么|啥|谁|怎么|多少)(?:都|也)|不知道|不清楚|忘了|不说了|不管|无论|不论"
    r"|[他她我]问(?:我|他|她|客服)|问客服"
)
_WH_START_EN = re.compile(
    r"^\W*(?:(?:how|what|when|where|which|who|whom|whose|why)(?:'s|'re|'d)?\b"
    r"|(?:is|are|am|was|were|do|does|did|can|could|should|would|will|won't|has|have|shall|may)"
    r"\s+(?:i|you|u|we|they|he|she|it|this|that|these|those|the|a|an|my|your|ur|our|their"
    r"|there|any|anyone|anybody|someone|somebody|people|y'all|[A-Z][\w'&-]*)\b)",
    re.IGNORECASE,
)
# Lead-ins that may come before the question proper: "hey guys,", "quick question:", "so".
_LEADIN_EN = re.compile(
    r"^\W*(?:(?:hey|hi|hello|ok|okay|so|um|also|question|help|pls|please|guys|all|team|folks"
    r"|r/\w+)\W+)+",
    re.IGNORECASE,
)


def _prepare(text: str) -> str:
    text = unicodedata.normalize("NFKC", text)
    own, quoted = split_repost(text)
    # The reposter's own words carry the intent; fall back to the quoted post if empty.
    text = own or (quoted[0] if quoted else "")
    text = _URL.sub(" ", text)  # a '?' inside a URL is a query string, not a question
    text = _MENTION.sub(" ", text)
    text = _HASHTAG_ZH.sub(" ", text)
    text = _EMOTICON.sub(" ", text)
    return text.strip()


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(text) if _WORD.search(s)]


# Every match of the case-insensitive English patterns (_ASK_EN, _RHETORICAL_EN) holds Latin
# letters, and under IGNORECASE only these characters match a Latin letter: a sentence
# without any (most Chinese ones) cannot match them, and is not scanned for their dozens of
# phrasings.
_LATIN_LETTER = re.compile("[A-Za-z\u0130\u0131\u017f\u212a]")


def _has_cue(sentence: str) -> tuple[bool, bool]:
    """(is a question, is an explicit ask) for one sentence."""
    ask = bool(
        _ASK_ZH.search(sentence) or (_LATIN_LETTER.search(sentence) and _ASK_EN.search(sentence))
    )
    if ask:
        return True, True
    if "?" in sentence or "？" in sentence:
        return True, False
    if _PARTICLE_ZH.search(sentence):
        return True, False
    if _WH_START_EN.search(_LEADIN_EN.sub("", sentence)):
        return True, False
    if _INTERROGATIVE_ZH.search(sentence) and not _NOT_INTERROGATIVE_ZH.search(sentence):
        return True, False
    return False, False


def _is_rhetorical(sentence: str) -> bool:
    return bool(
        _RHETORICAL_ZH.search(sentence)
        or (_LATIN_LETTER.search(sentence) and _RHETORICAL_EN.search(sentence))
    )


@lru_cache(maxsize=8192)
def _read(text: str) -> tuple[tuple[str, ...], tuple[tuple[bool, bool], ...]]:
    """A post's sentences and each one's cues (_has_cue): what is_question and asks_only
    both read, worked out once per text."""
    sentences = tuple(_sentences(_prepare(text)))
    return sentences, tuple(_has_cue(s) for s in sentences)


@lru_cache(maxsize=8192)
def _classify(text: str) -> bool:
    sentences, cues = _read(text)
    if not any(is_q for is_q, _ask in cues):
        return False  # no question at all: the rhetorical patterns could only say no again
    rhetorical_post = False
    questions: list[bool] = []  # for each question sentence: is it an explicit ask
    for i, s in enumerate(sentences):
        is_q, ask = cues[i]
        nxt = sentences[i + 1] if i + 1 < len(sentences) else ""
        if _is_rhetorical(s) or (is_q and nxt and _SELF_ANSWER.search(nxt)):
            rhetorical_post = True
            continue
        if is_q:
            questions.append(ask)
    if rhetorical_post:
        # A complaint post: only an explicit request for information still needs an answer.
        return any(questions)
    return bool(questions)


def _asks(sentence: str, cue: tuple[bool, bool]) -> bool:
    """A sentence that asks in so many words: an explicit ask, or a question cue and a
    question mark (a cue alone also takes 没什么吃的 or 还是…更好吃 in a review)."""
    question, ask = cue
    return ask or (question and sentence.rstrip().endswith(("?", "？")))


def _asks_only(text: str) -> bool:
    sentences, cues = _read(text)
    return (
        bool(sentences)
        and all(_asks(s, c) for s, c in zip(sentences, cues, strict=True))
        and _classify(text)
    )


def asks_only(text: str, lang: str) -> bool:
    """True when every sentence of ``text`` asks (an explicit ask, or a question ending in a
    question mark) and the post is a question (is_question): a post that only asks
    ("请问门店几点关门？"), not a review or a complaint with a question in it."""
    return bool(text) and _asks_only(text)


def is_question(text: str, lang: str) -> bool:
    """True when ``text`` asks something a brand should answer (zh or en; see module doc).

    False for statements, praise, complaints phrased as rhetorical questions, and for a
    ``?`` that only occurs inside a URL.  Results are cached by text.
    """
    if not text:
        return False
    return _classify(text)


def cache_clear() -> None:
    _classify.cache_clear()
    _read.cache_clear()
