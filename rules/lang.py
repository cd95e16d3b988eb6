"""Language of a mention: enough to pick the sentiment model and question cues."""

from __future__ import annotations

import re

from rules.text import count_cjk

_LATIN = re.compile(r"[A-Za-z]")
_KANA = re.compile(r"[\u3040-\u30ff]")
_HANGUL = re.compile(r"[\uac00-\ud7af]")
_URL = re.compile(r"https?://\S+")


def detect_lang(text: str) -> str:
    """'zh', 'en', 'ja', 'ko' or 'und'.

    Chinese wins as soon as Han characters make a fair share of the letters: a Weibo post
    full of English brand names is still Chinese.
    """
    text = _URL.sub(" ", text)
    han = count_cjk(text)
    latin = len(_LATIN.findall(text))
    if _KANA.search(text):
        return "ja"
    if _HANGUL.search(text) and not han:
        return "ko"
    if han >= 2 and han * 4 >= latin:
        return "zh"
    if latin >= 2:
        return "en"
    if han:
        return "zh"
    return "und"
