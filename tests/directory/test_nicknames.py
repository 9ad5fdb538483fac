"""Tests of the nickname search key."""

from __future__ import annotations

import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from directory.nicknames import normalize_nickname


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Straße", "strasse"),
        ("ＳＴＡＲ", "star"),
        ("ÉCLAIR99", "éclair99"),
        ("E\u0301CLAIR", "éclair"),
        ("김철수", "김철수"),
        ("ﬁsh", "fish"),
        ("Ｎｏ．１", "no.1"),
        ("ΣΊΣΥΦΟΣ", "σίσυφοσ"),
        ("", ""),
    ],
)
def test_normalize_nickname_examples(text: str, expected: str) -> None:
    assert normalize_nickname(text) == expected


def test_composed_and_decomposed_equal() -> None:
    assert normalize_nickname("Cafe\u0301") == normalize_nickname("CAFÉ")


@given(st.text(alphabet=string.ascii_letters + string.digits + " _-."))
def test_ascii_case_ignored(text: str) -> None:
    assert normalize_nickname(text.upper()) == normalize_nickname(text.lower())
    assert normalize_nickname(text) == text.lower()
