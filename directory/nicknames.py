"""Nickname normalisation for case- and width-insensitive search."""

from __future__ import annotations

import unicodedata


def normalize_nickname(text: str) -> str:
    """Return the search key of a nickname: NFKC, then case folding, then NFKC again.

    The project applies this one normalisation both to the stored search column and to
    search queries, so that a query matches regardless of case and of full-width or
    compatibility forms. Examples: ``"Straße"`` becomes ``"strasse"``, ``"ＳＴＡＲ"``
    becomes ``"star"`` and ``"ÉCLAIR99"`` becomes ``"éclair99"``, while Hangul syllables
    such as ``"김철수"`` stay as they are. `read_users_csv` returns nicknames as entered,
    only trimmed.
    """
    folded = unicodedata.normalize("NFKC", text).casefold()
    return unicodedata.normalize("NFKC", folded)
