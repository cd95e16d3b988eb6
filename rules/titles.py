"""Titles that say nothing about the post: a platform's placeholder (转发微博, Repost,
分享图片), an empty or punctuation-only title, or the author's own name. Where a post is
shown by one line, such a post is better shown by its text."""

from __future__ import annotations

import re
import unicodedata

from rules.text import one_line

# Placeholders platforms and feed bridges put where the author wrote no title (casefolded,
# NFKC, without punctuation or spaces).
PLACEHOLDERS = frozenset(
    {
        "转发微博",
        "轉發微博",
        "转发",
        "repost",
        "reposted",
        "rt",
        "分享图片",
        "分享圖片",
        "分享视频",
        "分享視頻",
        "分享链接",
        "分享网页",
        "分享单曲",
        "图片",
        "视频",
        "网页链接",
        "无标题",
        "無標題",
        "微博正文",
        "notitle",
        "untitled",
        "photo",
        "image",
        "video",
        "link",
        "post",
        "share",
        "sharedapost",
        "sharedaphoto",
        "sharedavideo",
    }
)
_NOT_WORD = re.compile(r"[\W_]+")


def _key(text: str) -> str:
    return _NOT_WORD.sub("", unicodedata.normalize("NFKC", one_line(text or "")).casefold())


def title_says_nothing(title: str, author: str = "") -> bool:
    """True when `title` tells a reader nothing the author's name does not: empty, only
    punctuation or emoji, a platform placeholder, or the author's name itself."""
    key = _key(title)
    if not key or key in PLACEHOLDERS:
        return True
    name = _key(author.lstrip("@＠"))
    return bool(name) and key == name


def telling_title(title: str, text: str, author: str = "") -> str:
    """The line that best shows a post: its title, or its text when the title says nothing."""
    if not title_says_nothing(title, author):
        return one_line(title)
    return one_line(text or "") or one_line(title or "")
