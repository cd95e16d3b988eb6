import pytest

from rules.titles import telling_title, title_says_nothing


@pytest.mark.parametrize(
    ("title", "author"),
    [
        ("转发微博", ""),
        ("  Repost ", ""),
        ("分享图片", ""),
        ("RT", ""),
        ("", ""),
        ("🔥🔥🔥", ""),
        ("…", ""),
        ("foodie_jane", "@foodie_jane"),
        ("ＦＯＯＤＩＥ＿ＪＡＮＥ", "foodie_jane"),  # full-width forms of the same name
    ],
)
def test_titles_that_say_nothing(title: str, author: str) -> None:
    assert title_says_nothing(title, author)


@pytest.mark.parametrize(
    ("title", "author"),
    [("艾克米退款被拒", ""), ("Repost of the year: Acme's new cup", ""), ("foodie_jane", "bob")],
)
def test_titles_that_say_something(title: str, author: str) -> None:
    assert not title_says_nothing(title, author)


def test_telling_title_falls_back_to_the_text() -> None:
    assert telling_title("转发微博", "三明治里\n有头发") == "三明治里 有头发"
    assert telling_title("Acme late again", "text") == "Acme late again"
    assert telling_title("转发微博", "") == "转发微博"
