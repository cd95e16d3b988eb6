"""A failing source: one alert after N failures, one recovery, nothing in between, even
across a restart; the `sources` command shows it."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path

from app.buzzwatch import Buzzwatch
from core.commands.context import Actor
from tests.conftest import make_config
from tests.standin.feeds import FeedServer, Route, rss


def _texts(app: Buzzwatch) -> list[dict]:
    return [i.message for i in app.repo.pending_outbox() if i.message.get("kind") == "text"]


def test_health_alert_fires_once_and_recovers_once(tmp_path: Path, clock) -> None:
    with FeedServer() as hub:
        hub.routes["/weibo/keyword/Acme"] = Route(b"Forbidden", status=403)
        hub.routes["/weibo/keyword/%E8%89%BE%E5%85%8B%E7%B1%B3"] = Route(rss([{"title": "x"}]))

        def build() -> Buzzwatch:
            config = make_config(
                tmp_path,
                sources=[{"name": "weibo_acme", "type": "weibo_search", "every": "1m"}],
                rsshub={"base_url": hub.base},
                health={"failures": 3, "to": ["console"]},
            )
            return Buzzwatch(config, clock=clock, stdout=io.StringIO())

        app = build()
        for _ in range(2):
            assert not app.poll_all()[0].ok
            clock.advance(timedelta(minutes=1))
        assert _texts(app) == []  # two failures: not yet
        app.poll_all()
        (alert,) = _texts(app)
        assert alert["title"] == "Source failing: weibo_acme"
        # 08:00 UTC is 16:00 in Asia/Shanghai, when the first failure happened.
        assert alert["text"].startswith("weibo_acme source failing since 16:00: HTTP 403")
        assert "RSSHub cookie may have expired" in alert["text"]
        for _ in range(3):
            clock.advance(timedelta(minutes=1))
            app.poll_all()
        assert len(_texts(app)) == 1  # no repeats while it keeps failing
        reply = app.run_command("sources", Actor("u", "u", "console"))
        assert "0 ok, 1 failing" in reply.text
        assert "✗ weibo_acme [weibo_search] failing since" in reply.text
        assert "(6 in a row)" in reply.text and "cookie may have expired" in reply.text
        app.close()

        app = build()  # a restart remembers the alert went out
        app.poll_all()
        assert len(_texts(app)) == 1

        hub.routes["/weibo/keyword/Acme"] = Route(rss([{"title": "back"}]))
        clock.advance(timedelta(minutes=1))
        assert app.poll_all()[0].ok
        texts = _texts(app)
        assert len(texts) == 2 and texts[1]["title"] == "Source recovered: weibo_acme"
        assert "after 7 failed poll(s)" in texts[1]["text"] and "down for 6m" in texts[1]["text"]
        clock.advance(timedelta(minutes=1))
        app.poll_all()
        assert len(_texts(app)) == 2  # one recovery only
        report = app.deliverer.deliver_due()
        assert report.sent >= 2
        out = app.stdout.getvalue()
        assert out.count("== Source failing: weibo_acme ==") == 1
        assert out.count("== Source recovered: weibo_acme ==") == 1
        reply = app.run_command("sources", Actor("u", "u", "console"))
        assert "1 ok, 0 failing" in reply.text and "✓ weibo_acme" in reply.text
        app.close()


def test_a_crash_after_queueing_the_health_alert_does_not_repeat_it(
    tmp_path: Path, clock, monkeypatch
) -> None:
    with FeedServer() as hub:
        hub.routes["/weibo/keyword/Acme"] = Route(b"Forbidden", status=403)
        hub.routes["/weibo/keyword/%E8%89%BE%E5%85%8B%E7%B1%B3"] = Route(rss([{"title": "x"}]))

        def build() -> Buzzwatch:
            config = make_config(
                tmp_path,
                sources=[{"name": "weibo_acme", "type": "weibo_search", "every": "1m"}],
                rsshub={"base_url": hub.base},
                health={"failures": 1, "to": ["console"]},
            )
            return Buzzwatch(config, clock=clock, stdout=io.StringIO())

        app = build()
        # The process dies after the alert is queued, before the poller saves the source.
        monkeypatch.setattr("core.intake.polling.Poller._save", lambda *_args: None)
        app.poll_all()
        assert len(_texts(app)) == 1
        app.close()
        monkeypatch.undo()

        app = build()
        clock.advance(timedelta(minutes=1))
        app.poll_all()
        assert len(_texts(app)) == 1  # still the one alert
        app.close()
