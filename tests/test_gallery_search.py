"""Prompt search: words, parts of words and Chinese substrings, with the matches highlighted."""

import re

import pytest
from django.db import connection

from gallery.search import highlight, prompt_tokens
from tests.images import make_image

pytestmark = pytest.mark.django_db


def found(client, q: str) -> set[str]:
    html = client.get("/", {"q": q}).content.decode()
    return {m for m in re.findall(r'alt="([^"]*)"', html)}


@pytest.fixture
def prompts(alice, bob):
    for prompt in ["一只在雨中的橘猫", "一只黑猫，水彩", "一座古老的灯塔", "A ginger cat in the rain",
                   "Lighthouses at dawn, oil painting", "Porcelain fox"]:  # fmt: skip
        make_image(bob, prompt=prompt)


@pytest.mark.parametrize(
    "q, expected",
    [
        ("猫", {"一只在雨中的橘猫", "一只黑猫，水彩"}),
        ("橘猫", {"一只在雨中的橘猫"}),
        ("雨中的橘", {"一只在雨中的橘猫"}),
        ("灯塔", {"一座古老的灯塔"}),
        ("橘 雨", {"一只在雨中的橘猫"}),
        ("猫雨", set()),  # both characters are there, but not side by side
    ],
)
def test_chinese_prompts_are_found_by_any_substring(alice_client, prompts, q, expected):
    assert found(alice_client, q) == expected


@pytest.mark.parametrize(
    "q, expected",
    [
        ("ginger", {"A ginger cat in the rain"}),
        ("GINGER CAT", {"A ginger cat in the rain"}),
        ("ighthou", {"Lighthouses at dawn, oil painting"}),  # part of a word
        ("porcel", {"Porcelain fox"}),
        ("fox rain", set()),  # every term must match
        ("100%", set()),
        ("_", set()),
    ],
)
def test_english_words_and_parts_of_words_are_found(alice_client, prompts, q, expected):
    assert found(alice_client, q) == expected


@pytest.mark.skipif(connection.vendor != "postgresql", reason="full-text stemming is PostgreSQL's")
def test_postgres_full_text_finds_other_forms_of_a_word(alice_client, prompts):
    assert found(alice_client, "lighthouse") == {"Lighthouses at dawn, oil painting"}
    assert found(alice_client, "painted") == {"Lighthouses at dawn, oil painting"}


def test_results_highlight_the_matched_words(alice_client, prompts):
    html = alice_client.get("/", {"q": "ginger"}).content.decode()
    assert "A <mark>ginger</mark> cat in the rain" in html
    html = alice_client.get("/", {"q": "橘猫"}).content.decode()
    assert "一只在雨中的<mark>橘猫</mark>" in html


def test_highlighting_escapes_the_prompt_around_the_marks():
    marked = highlight('<img src=x onerror="alert(1)"> cat', "cat onerror")
    assert "<img" not in marked
    assert marked == "&lt;img src=x <mark>onerror</mark>=&quot;alert(1)&quot;&gt; <mark>cat</mark>"


def test_prompt_tokens_hold_each_cjk_character_and_pair_once():
    assert prompt_tokens("橘猫, a cat 橘猫") == "橘 橘猫 猫"
    assert prompt_tokens("plain English") == ""


def test_a_search_with_no_results_says_so(alice_client, prompts):
    html = alice_client.get("/", {"q": "zebra"}).content.decode()
    assert "Nothing matches these filters." in html
