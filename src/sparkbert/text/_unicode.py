"""Character classes shared by the sentence detector and the tokenizer.

The classes are strings in the syntax of the ``regex`` module (version 1 syntax,
which allows set differences such as ``[\\p{L}--\\p{Han}]``).

Examples
--------
>>> import regex
>>> bool(regex.fullmatch(SEPARATOR + "+", " \\u00a0\\u3000\\u200b\\u202e\\ufeff\\t\\r\\n", regex.V1))
True
>>> grapheme_boundaries("👍🏽a")
[0, 2, 3]
"""

from __future__ import annotations

import regex

#: Zero-width and bidirectional formatting characters: never tokens, never inside one.
INVISIBLE = r"\u061C\u180E\u200B\u200E\u200F\u202A-\u202E\u2060-\u2064\u2066-\u2069\uFEFF"

#: Joiners: inside a word or an emoji sequence they are part of it, at its edges dropped.
JOINERS = "\u200c\u200d"

#: Characters that separate tokens: Unicode white space (NBSP, U+3000, U+2028, ...),
#: control characters, and the invisible formatting characters above.
SEPARATOR = r"[\p{White_Space}\p{Cc}" + INVISIBLE + "]"

#: Scripts written without spaces between words, and the Han ideographs.
_NO_SPACE_SCRIPTS = r"\p{Han}\p{Hiragana}\p{Katakana}\p{Thai}\u30FC\uFF70"

#: A character that can be part of a word in a space-separated script.
WORD_CHAR = r"[[\p{L}\p{M}\p{N}_\u00AD" + JOINERS + "]--[" + _NO_SPACE_SCRIPTS + "]]"

#: Kana: hiragana, katakana (with the long-vowel mark ー and its half-width form).
KANA = r"[\p{Hiragana}\p{Katakana}\u30FC\uFF70]"

#: The Thai script (letters, vowels, tone marks, digits).
THAI = r"\p{Thai}"

#: Han ideographs (Chinese characters, kanji, hanja), including ``々`` and ``〇``.
HAN = r"\p{Han}"

_GRAPHEME = regex.compile(r"\X", regex.V1)


def grapheme_boundaries(text: str, start: int = 0, end: int | None = None) -> list[int]:
    """Return the extended grapheme cluster boundaries of ``text[start:end]``.

    The offsets are into ``text`` and include ``start`` and the end.

    Parameters
    ----------
    text : str
        The text.
    start, end : int
        The part of ``text`` to look at (the whole text by default).

    Returns
    -------
    list of int
        Ascending offsets; a cluster spans from one offset to the next.

    Examples
    --------
    >>> grapheme_boundaries("e\\u0301 x")
    [0, 2, 3, 4]
    """
    stop = len(text) if end is None else end
    bounds = [start]
    bounds.extend(m.end() for m in _GRAPHEME.finditer(text, start, stop))
    return bounds


def grapheme_cut(text: str, start: int, end: int, limit: int) -> int:
    """Return the last grapheme cluster boundary in ``(start, limit]``.

    If the first cluster after ``start`` already ends past ``limit``, return its end
    (a cluster is never split). Only the clusters up to ``limit`` are read.

    Examples
    --------
    >>> grapheme_cut("e\u0301e\u0301", 0, 4, 3), grapheme_cut("👨‍👩‍👧", 0, 5, 2)
    (2, 5)
    """
    cut = -1
    for m in _GRAPHEME.finditer(text, start, end):
        if m.end() > limit:
            return cut if cut > start else m.end()
        cut = m.end()
    return cut if cut > start else end


def is_grapheme_boundary(text: str, start: int, pos: int) -> bool:
    """Return whether ``pos`` is a grapheme cluster boundary, counting from ``start``.

    ``start`` must be a boundary at or before ``pos``; the cost is the number of
    clusters between them.

    Examples
    --------
    >>> is_grapheme_boundary("e\u0301x", 0, 1), is_grapheme_boundary("e\u0301x", 0, 2)
    (False, True)
    """
    while start < pos:
        m = _GRAPHEME.match(text, start)
        if m is None:  # pragma: no cover - \X matches any character
            return True
        start = m.end()
    return start == pos


__all__ = [
    "HAN",
    "INVISIBLE",
    "JOINERS",
    "KANA",
    "SEPARATOR",
    "THAI",
    "WORD_CHAR",
    "grapheme_boundaries",
    "grapheme_cut",
    "is_grapheme_boundary",
]
