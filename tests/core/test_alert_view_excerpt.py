"""What an alert's message shows of its post: the headline, then an excerpt only where it
adds something (found by a new user: an imported row without a title showed its text twice)."""

from __future__ import annotations

import pytest

from core.alerting.views import alert_view
from core.domain.models import Alert


def _alert(title: str, text: str) -> Alert:
    return Alert(
        id="A1",
        mention_id="m1",
        brand="Acme",
        severity="medium",
        flags=["question"],
        destinations=["console"],
        created_at="2026-11-30T12:00:00+00:00",
        summary={"title": title, "text": text, "author": "妈妈"},
    )


@pytest.mark.parametrize(
    ("title", "text", "headline", "excerpt"),
    [
        ("", "请问艾克米有儿童套餐吗？", "请问艾克米有儿童套餐吗？", ""),
        (
            "Acme question",
            "Is Acme open on Christmas Day?",
            "Acme question",
            "Is Acme open on Christmas Day?",
        ),
        ("Same words", "Same words", "Same words", ""),
        ("转发微博", "艾克米的外卖又晚了", "艾克米的外卖又晚了", ""),
    ],
)
def test_the_excerpt_does_not_repeat_the_headline(
    title: str, text: str, headline: str, excerpt: str
) -> None:
    view = alert_view(_alert(title, text))
    assert (view.headline, view.excerpt) == (headline, excerpt)


def test_a_long_untitled_post_still_shows_what_the_headline_cut_off() -> None:
    text = "Acme " + "waited and waited " * 20
    view = alert_view(_alert("", text))
    assert len(view.headline) < len(text.strip())
    assert view.excerpt.startswith("Acme waited") and len(view.excerpt) > len(view.headline)
