from __future__ import annotations

import pytest

from rules.titles import says_nothing, story_title, telling_title


@pytest.mark.parametrize(
    ("title", "author"),
    [
        ("转发微博", ""),
        ("转发微博：", ""),
        ("轉發微博", ""),
        ("Repost", ""),
        ("RT", ""),
        ("分享图片", ""),
        ("[图片]", ""),
        ("", ""),
        ("   ", ""),
        ("…", ""),
        ("(no title)", ""),
        ("Untitled", ""),
        ("https://t.cn/A6abcdE", ""),
        ("@艾克米官方", ""),
        ("#艾克米# [怒]", ""),
        ("小李的秒拍视频", ""),
        ("foodie_jane", "foodie_jane"),
        ("@Foodie Jane", "foodie jane"),
    ],
)
def test_titles_that_say_nothing(title: str, author: str) -> None:
    assert says_nothing(title, author)
    assert story_title(title, author, ["Acme"]) == ""


@pytest.mark.parametrize(
    "title",
    [
        "Food blogger reports food poisoning after Acme meal - Daily News",
        "艾克米新品上线",
        "RT @bob: Acme delivery was late again",
        "Terrible service",
        "RTX 4090 review",
    ],
)
def test_titles_that_name_a_story(title: str) -> None:
    assert not says_nothing(title, "bob")
    assert story_title(title, "bob", ["Acme", "艾克米"]) == title


@pytest.mark.parametrize("title", ["Acme", "Acme!!!", "艾克米", "艾克米 差评", "Help!", "避雷"])
def test_too_little_to_tell_stories_apart_is_no_key_but_still_a_headline(title: str) -> None:
    assert story_title(title, "", ["Acme", "艾克米"]) == ""
    assert not says_nothing(title)


@pytest.mark.parametrize(
    ("title", "author"),
    [
        ("  Repost ", ""),
        ("🔥🔥🔥", ""),
        ("foodie_jane", "@foodie_jane"),
        ("ＦＯＯＤＩＥ＿ＪＡＮＥ", "foodie_jane"),  # full-width forms of the same name
    ],
)
def test_more_titles_that_say_nothing(title: str, author: str) -> None:
    assert says_nothing(title, author)


@pytest.mark.parametrize(
    ("title", "author"),
    [("艾克米退款被拒", ""), ("Repost of the year: Acme's new cup", ""), ("foodie_jane", "bob")],
)
def test_titles_that_say_something(title: str, author: str) -> None:
    assert not says_nothing(title, author)


def test_telling_title_falls_back_to_the_text() -> None:
    assert telling_title("转发微博", "三明治里\n有头发") == "三明治里 有头发"
    assert telling_title("Acme late again", "text") == "Acme late again"
    assert telling_title("转发微博", "") == "转发微博"
