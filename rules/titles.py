"""Titles that say nothing about their post.

Feeds give every item a title, and where the author wrote none the platform fills one in:
Weibo's 转发微博 for a repost without comment or 分享图片 for a photo, "Repost", the author's
name, a bare #topic#. Such a title is the same for unrelated posts, so it can neither tell
two stories apart (a grouping key) nor tell a reader what the post says (a headline): the
post's text stands in for it.

Besides a short list of placeholders, the rules are structural, so a placeholder nobody
listed is still caught when it has the shape of one: nothing left once @handles, URLs,
#topics#, [emoticons], repost markers and punctuation are gone; the author's name (or
"<author>的微博"-style cards); only the brand's name; or too short to name a story.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

from rules.social import EMOTICON_CODE, HAN, HANDLE, REPOST_WORDS, TOPIC, URL_START
from rules.text import normalize, one_line

# Compared after normalize() and noise removal (so "转发微博：", "Repost!" and "[图片]" match).
# Generic wording platforms and feed bridges (RSSHub, Nitter, Mastodon) use for an item
# without a title of its own; no post-specific words.
PLACEHOLDERS = frozenset(
    {
        # Weibo and other Chinese platforms: reposts, media-only posts, empty titles
        "转发微博",
        "轉發微博",
        "转发",
        "轉發",
        "快转",
        "快转微博",
        "转载",
        "转帖",
        "分享",
        "分享图片",
        "分享圖片",
        "分享视频",
        "分享視頻",
        "分享链接",
        "分享網址",
        "分享动态",
        "图片",
        "圖片",
        "图片评论",
        "评论配图",
        "查看图片",
        "网页链接",
        "網頁鏈接",
        "视频",
        "視頻",
        "微博视频",
        "微博",
        "动态",
        "笔记",
        "小红书笔记",
        "抖音视频",
        "无标题",
        "無標題",
        "无题",
        "未命名",
        "回复",
        "评论",
        # English-language platforms and bridges
        "repost",
        "reposted",
        "retweet",
        "retweeted",
        "rt",
        "boost",
        "boosted",
        "quote",
        "quote tweet",
        "share",
        "shared",
        "shared a post",
        "shared a photo",
        "shared a video",
        "shared a link",
        "photo",
        "photos",
        "image",
        "picture",
        "video",
        "link",
        "post",
        "new post",
        "status",
        "tweet",
        "toot",
        "note",
        "comment",
        "reply",
        "untitled",
        "no title",
        "none",
        "null",
    }
)

# The platform markup patterns are rules/social.py's; a title's differ only where noted.
# A link runs to the next space (a title keeps nothing glued to its link).
_URL = re.compile(URL_START + r"\S+")
_HANDLE = re.compile(HANDLE)
_TOPIC = re.compile(rf"{TOPIC}|#\w{{1,40}}")  # also a bare #tag, even inside a word
_EMOTICON = re.compile(EMOTICON_CODE)
# Repost markers: "转发微博:" or "RT" before the words (as a whole word), "//" between a
# repost chain's parts.
_REPOST_MARK = re.compile(rf"^\s*(?:{REPOST_WORDS}|转发)\b\s*[:：]?|//")
# Weibo's media cards ("某某的秒拍视频") and "<author>的微博": the platform speaking, not the author.
_CARD = re.compile(r"^.{0,30}的(?:微博|秒拍视频|美拍视频|微博视频|视频|动态|笔记|主页)$")
# What is left to read: letters (any script) and digits, one space between words.
_NOT_WORD = re.compile(r"[^\w]+|_")
# Scripts written without spaces: Chinese, and Japanese kana and Korean hangul too.
_CJK_CLASS = HAN + "\u3040-\u30ff\uac00-\ud7af"
_CJK = re.compile(f"[{_CJK_CLASS}]")
_LATIN_WORD = re.compile(f"[^\\W_{_CJK_CLASS}]+")

# Fewer than this many CJK characters and Latin words cannot name one story ("差评",
# "Help!", "OMG"): many unrelated posts share such a title.
MIN_CJK = 3
MIN_WORDS = 2


def _words(text: str) -> str:
    return _NOT_WORD.sub(" ", text).strip()


def _bare(title: str) -> str:
    """The words of a title without the platform's noise around them."""
    return _bare_normalized(normalize(title or ""))


def _bare_normalized(norm: str) -> str:
    norm = _URL.sub(" ", norm)
    norm = _EMOTICON.sub(" ", _TOPIC.sub(" ", _HANDLE.sub(" ", norm)))
    return _words(_REPOST_MARK.sub(" ", norm))


@lru_cache(maxsize=4096)
def _read_title(title: str, author: str) -> tuple[bool, str, str]:
    """(says nothing, its bare words, its normalize()d form): says_nothing, story_title and
    normalized share the work (each normalize() of a title is most of their cost).
    Remembered for the last few thousand titles: grouping reads one mention's title and
    text three times or more (its story text, its dedup key, its near-duplicate check)."""
    norm = normalize(title or "")
    if _CARD.match(norm.replace(" ", "")):
        return True, "", norm
    bare = _bare_normalized(norm)
    if not bare or bare in PLACEHOLDERS:
        return True, bare, norm
    who = _author_words(author or "")
    if not who:
        return False, bare, norm
    whole = _words(norm.lstrip("@")).replace(" ", "")
    return who in (whole, bare.replace(" ", "")), bare, norm


@lru_cache(maxsize=4096)
def _author_words(author: str) -> str:
    """An author's name as a title would spell it (authors post many times)."""
    return _words(normalize(author).lstrip("@")).replace(" ", "")


def normalized(title: str, author: str = "") -> str:
    """normalize(title), from the work says_nothing(title, author) did already."""
    return _read_title(title, author)[2]


def says_nothing(title: str, author: str = "") -> bool:
    """True when `title` tells a reader nothing about its post: empty or only noise, a
    platform's placeholder, the author's name, a media card. The text should stand in."""
    return _read_title(title, author)[0]


def story_title(title: str, author: str = "", brands: Iterable[str] = ()) -> str:
    """The title when it can tell this story from others of the same brand, else "": it
    says something, and more than the brand's name and a word or two ("Acme 差评", "Help!"
    head many unrelated posts)."""
    nothing, bare, _ = _read_title(title, author)
    if nothing:
        return ""
    rest = f" {bare} "
    for brand in brands:
        name = _brand_words(brand)
        if name:  # a Latin name as a whole word; a CJK one anywhere
            rest = rest.replace(f" {name} ", " ") if name.isascii() else rest.replace(name, " ")
    rest = rest.strip()
    if rest in PLACEHOLDERS:
        return ""
    short = len(_CJK.findall(rest)) < MIN_CJK and len(_LATIN_WORD.findall(rest)) < MIN_WORDS
    return "" if short else title


@lru_cache(maxsize=256)
def _brand_words(brand: str) -> str:
    return _words(normalize(brand))


def telling_title(title: str, text: str, author: str = "") -> str:
    """The line that best shows a post: its title, or its text when the title says nothing."""
    if not says_nothing(title, author):
        return one_line(title)
    return one_line(text or "") or one_line(title or "")


def cache_clear() -> None:
    _read_title.cache_clear()
    _brand_words.cache_clear()
    _author_words.cache_clear()
