"""Text clean-up shared by sources and rules: markup to plain text, normalisation, caps."""

from __future__ import annotations

import html
import re
import unicodedata
from html.parser import HTMLParser

_BLOCK_TAGS = {"p", "br", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote"}
_SKIP_TAGS = {"script", "style", "template", "noscript"}
_SPACES = re.compile(r"[ \t\r\f\v\u00a0\u3000]+")
_BLANK_LINES = re.compile(r"\n\s*\n+")
# Characters that render invisibly or reorder text; a feed has no business sending them.
# C0 and C1 controls (ESC, CSI...) would drive a terminal; bidi controls reorder text.
_INVISIBLE = re.compile(
    r"[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u061c\u200b-\u200f"
    r"\u202a-\u202e\u2060-\u2069\ufeff]"
)


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP_TAGS:
            self._skipping += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")
        elif tag == "img":
            alt = dict(attrs).get("alt")
            if alt:  # Weibo-style emoticons arrive as <img alt="[怒]">
                self.parts.append(alt)

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_TAGS:
            self._skipping = max(0, self._skipping - 1)
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def strip_markup(markup: str) -> str:
    """HTML (or plain text) to plain text with normalised white space."""
    if not markup:
        return ""
    if "<" in markup:
        parser = _TextExtractor()
        parser.feed(markup)
        parser.close()
        text = "".join(parser.parts)
    else:
        text = html.unescape(markup)
    text = _INVISIBLE.sub("", unicodedata.normalize("NFC", text))
    lines = (_SPACES.sub(" ", line).strip() for line in text.split("\n"))
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


def one_line(text: str) -> str:
    return _SPACES.sub(" ", text.replace("\n", " ")).strip()


def normalize(text: str) -> str:
    """The form every matcher compares: NFKC (full-width to ASCII), case-folded, single spaces."""
    return _SPACES.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()


def cap(text: str, limit: int, ellipsis: str = "…") -> str:
    """At most `limit` characters, cut on a character boundary with an ellipsis."""
    if len(text) <= limit:
        return text
    return text[: max(0, limit - len(ellipsis))].rstrip() + ellipsis


def cap_bytes(text: str, limit: int, ellipsis: str = "…") -> str:
    """At most `limit` UTF-8 bytes, never splitting a character."""
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    room = limit - len(ellipsis.encode("utf-8"))
    return data[: max(0, room)].decode("utf-8", errors="ignore").rstrip() + ellipsis


_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ffff]")


def has_cjk(text: str) -> bool:
    return _CJK.search(text) is not None


def count_cjk(text: str) -> int:
    return len(_CJK.findall(text))


def strip_invisible(text: str) -> str:
    """Text without control, zero-width and bidi characters."""
    return _INVISIBLE.sub("", text)


def clean_name(name: str, limit: int = 80) -> str:
    """A person's name from a chat platform or a form: one line, no controls, capped."""
    return cap(one_line(strip_invisible(name)), limit)
