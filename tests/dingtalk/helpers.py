"""Alerts and apps for the DingTalk tests."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from core.alerting.lifecycle import new_alert
from core.domain.models import Alert, Mention
from listeners.context import Secrets

NOW = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)
SECRET = "SECtest-secret"  # the stand-in robot's signing secret (tests/dingtalk/conftest.py)

INJECTIONS = [
    "[点我领券](javascript:alert(1))",
    "![](http://track.example/pixel.gif)",
    "@13800000000 @all @所有人 ＠13900000000",
    "# 大标题\n## 二级",
    "<font color=red>红字</font><a href='http://evil.example'>x</a><img src=x onerror=alert(1)>",
    "**粗体** _斜体_ `code` ~~删除~~ > 引用 | 表格 |",
    "[a](http://ok.example) [b]: http://ref.example &lt;script&gt;",
]


def make_alert(
    alert_id: str = "A1",
    title: str = "艾克米吃完拉肚子，怀疑食物中毒",
    text: str = "昨晚在艾克米吃完就拉肚子了，怀疑食物中毒",
    url: str = "https://weibo.com/1/a",
    severity: str = "critical",
    author: str = "吃货小李",
    flags: list[str] | None = None,
    **summary: Any,
) -> Alert:
    mention = Mention(
        id=f"m-{alert_id}",
        source="sample_weibo",
        url=url,
        title=title,
        text=text,
        author=author,
        published=NOW,
        brands=["Acme"],
        sentiment=-0.9,
        flags=flags if flags is not None else ["negative", "critical"],
        aspects=["food_safety"],
        severity=severity,
    )
    alert = new_alert(alert_id, mention, "people", ["dingtalk"], NOW)
    alert.summary.update(summary)
    return alert


def build_app(tmp_path, clock, robot, stdout=None, **dingtalk: Any):
    """A Buzzwatch with a DingTalk robot destination (the stand-in) and a console one."""
    import io

    from app.buzzwatch import Buzzwatch
    from tests.conftest import make_config

    config = make_config(
        tmp_path,
        destinations={
            "dingtalk": {
                "type": "dingtalk",
                "webhook_env": "DT_WEBHOOK",
                "secret_env": "DT_SECRET",
            },
            "console": {"type": "console"},
        },
        routes=[{"name": "people", "match": {}, "to": ["dingtalk", "console"]}],
        **({"dingtalk": dingtalk} if dingtalk else {}),
    )
    secrets = {
        "DT_WEBHOOK": robot.webhook,
        "DT_SECRET": robot.secret,
        "DT_ACK": "ack-key-0123456789",
        "DT_APP_KEY": "ding-app-key",  # Stream mode's app credentials
        "DT_APP_SECRET": "ding-app-secret",
    }
    return Buzzwatch(config, clock=clock, stdout=stdout or io.StringIO(), secrets=Secrets(secrets))


def add_alert(app, alert_id: str = "A1", **kw: Any) -> Alert:
    """Store an alert with its posts queued, as a poll cycle would."""
    from core.alerting.lifecycle import outbox_items

    alert = make_alert(alert_id, **kw)
    alert.destinations = list(app.config.destinations)
    app.repo.save_cycle([], [], [alert], outbox_items(alert, "post", app.clock.now()))
    return alert


def assert_inert(text: str) -> None:
    """No link or image to anything but our own http(s) links, no mention, heading or HTML."""
    assert "](javascript" not in text and "<javascript" not in text
    # Bare URLs from feeds are not auto-linked either: only our own "](http" links remain.
    assert len(re.findall(r"(?i)(https?|javascript):", text)) == len(
        re.findall(r"\]\(https?:", text)
    )
    assert "![" not in text
    assert not re.search(r"@(\d|all|所有人)", text)
    assert "<" not in text and ">" not in text.replace("> ", "", 1)
    for line in text.splitlines():
        assert not line.startswith("#") or line.startswith("#### "), line
    for target in re.findall(r"\]\(([^)]*)\)", text):
        assert target.startswith(("https://", "http://")), target
        assert "track.example" not in target and "evil.example" not in target
