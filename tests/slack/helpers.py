"""Alerts to render, and a check that mrkdwn holds no live Slack control sequence."""

from __future__ import annotations

import re
from typing import Any

from core.domain.models import Alert

INJECTIONS = [
    "<!channel>",
    "<!here>",
    "<!everyone>",
    "<@U123>",
    "<#C999>",
    "<!subteam^S123>",
    "<https://evil.example|bank>",
    "&amp; &lt;b&gt;",
]


def make_alert(alert_id: str = "A1", **summary: Any) -> Alert:
    base = {
        "title": "艾克米吃完拉肚子，怀疑食物中毒",
        "text": "吃完艾克米回家就拉肚子，怀疑食物中毒",
        "url": "https://weibo.com/1/a",
        "author": "吃货小李",
        "source": "sample_weibo",
        "when": "2026-11-28T07:30:00+00:00",
        "sentiment": -0.8,
        "reach": 1_200_000,
        "kol_tier": "mega",
        "aspects": ["food_safety"],
    }
    base.update(summary)
    return Alert(
        id=alert_id,
        mention_id=f"m-{alert_id}",
        brand="Acme",
        severity="critical",
        flags=["negative", "critical"],
        destinations=["slack"],
        created_at="2026-11-28T07:31:00+00:00",
        summary=base,
    )


def mrkdwn_texts(payload: dict[str, Any]) -> list[str]:
    """Every string Slack would parse as mrkdwn: the fallback text and each block's text."""
    found = [payload.get("text", "")]

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "mrkdwn":
                found.append(node["text"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(payload.get("blocks", []))
    return found


CONTROL = re.compile(r"<([^>]*)>")


def live_sequences(payload: dict[str, Any]) -> list[str]:
    """Slack control sequences (<...>) that are not links to an allowed http(s) URL."""
    bad = []
    for text in mrkdwn_texts(payload):
        for seq in CONTROL.findall(text):
            target = seq.split("|", 1)[0]
            if not re.match(r"^https?://[^\s<>|]+$", target) or "evil" in target:
                bad.append(seq)
        # a raw '&' that is not an entity means something was not escaped
        for m in re.finditer(r"&(?!amp;|lt;|gt;)", text):
            bad.append(text[m.start() : m.start() + 10])
    return bad
