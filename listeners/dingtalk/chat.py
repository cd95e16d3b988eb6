"""What the Stream and callback modes share: @bot text to a command, its reply, deliveries.

Both hand the words after the @mention to the chat-neutral command layer, answer with a
markdown body, and after a change kick the delivery worker so Slack and every other
destination show it at once.
"""

from __future__ import annotations

import collections
import logging
import re
import threading
import time
from typing import Any

from dingtalk_stream import ChatbotMessage

from core.commands.context import Actor
from listeners.context import ListenerHost
from listeners.dingtalk import markdown as md

log = logging.getLogger("buzzwatch.dingtalk.chat")

MAX_INPUT_CHARS = 1000  # the command layer refuses over 500 with a clear reply; cut far above
_LEADING_MENTIONS = re.compile(r"^\s*(?:[@＠]\S+\s*)+")


def command_text(msg: ChatbotMessage) -> str:
    """The words the person typed, without the leading @Buzzwatch, capped."""
    if msg.message_type == "text" and msg.text is not None:
        text = msg.text.content or ""
    elif msg.message_type == "richText" and msg.rich_text_content is not None:
        text = " ".join(msg.get_text_list() or [])
    else:
        text = ""
    text = text.replace("\u2005", " ").replace("\u00a0", " ")  # DingTalk pads @names with these
    return _LEADING_MENTIONS.sub("", text[:MAX_INPUT_CHARS]).strip()


def actor_of(msg: ChatbotMessage) -> Actor:
    return Actor(
        id=str(msg.sender_staff_id or msg.sender_id or "unknown")[:80],
        name=" ".join(str(msg.sender_nick or "").split())[:60],
        platform="dingtalk",
    )


class SeenIds:
    """Message ids already handled (DingTalk redelivers): the last `size`, for `ttl` seconds."""

    def __init__(self, size: int = 2000, ttl: float = 3600.0) -> None:
        self.size = size
        self.ttl = ttl
        self._seen: collections.OrderedDict[str, float] = collections.OrderedDict()
        self._lock = threading.Lock()

    def first_time(self, msg_id: str | None) -> bool:
        if not msg_id:
            return True  # nothing to compare; handle it
        now = time.monotonic()
        with self._lock:
            while self._seen and (
                len(self._seen) >= self.size or next(iter(self._seen.values())) < now - self.ttl
            ):
                self._seen.popitem(last=False)
            if msg_id in self._seen:
                return False
            self._seen[msg_id] = now
            return True


def answer(app: ListenerHost, msg: ChatbotMessage) -> tuple[dict[str, Any], bool]:
    """Run the message's command; (markdown body for the reply, whether an alert changed)."""
    text = command_text(msg)
    reply = app.commands.run(text, actor_of(msg))
    return md.render_reply(reply), reply.changed


def deliver_now(app: ListenerHost) -> None:
    """Send the updates a change queued; on failure the worker's next round does it."""
    try:
        app.deliverer.kick()
    except Exception:
        log.exception("delivery after a DingTalk command failed")
