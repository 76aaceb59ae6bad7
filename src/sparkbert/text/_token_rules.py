"""The token rules: the master pattern of ``sparkbert.text.tokens`` and word splitting.

Private: the public entry points are ``sparkbert.text.tokenize`` and
``sparkbert.text.token_spans``.

Examples
--------
>>> [m.lastgroup for m in master_pattern(True).finditer("U.S. 東 3.14")]
['dotted', 'sep', 'han', 'sep', 'word']
>>> text = "l'avant-garde"
>>> [text[s:e] for s, e in split_word(text, 0, len(text), split_hyphens=True)]
["l'", 'avant', '-', 'garde']
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import regex

from sparkbert.text._abbreviations import BEFORE_NUMBER, NON_FINAL, OTHER
from sparkbert.text._unicode import HAN, INVISIBLE, JOINERS, KANA, SEPARATOR, THAI, WORD_CHAR

_W = WORD_CHAR
_NON_SEP = r"[^\p{White_Space}\p{Cc}" + INVISIBLE + "]"
_LETTER = r"[\p{L}--[\p{Han}\p{Hiragana}\p{Katakana}\p{Thai}]]\p{M}*"
_URL_CHAR = r"[^\p{White_Space}\p{Cc}" + INVISIBLE + r"<>\"“”«»()]"
_URL_END = r"[^\p{White_Space}\p{Cc}" + INVISIBLE + r"<>\"“”«»().,;:!?'’\]}]"
_URL_PAREN = r"\([^\p{White_Space}\p{Cc}()<>\"]*\)"


def _alternation(words: Sequence[str]) -> str:
    return "|".join(regex.escape(w) for w in sorted(words, key=lambda w: (-len(w), w)))


def _words(entries: frozenset[str]) -> list[str]:
    """The entries of an abbreviation list, with capitalised forms of lower-case ones."""
    words = set(entries)
    words.update(w[0].upper() + w[1:] for w in entries if w[0].islower())
    return sorted(words)


@functools.lru_cache(maxsize=4)
def master_pattern(split_han: bool) -> regex.Pattern[str]:
    """Return the pattern whose named alternatives tile a text: one match per token or gap.

    Examples
    --------
    >>> [(m.lastgroup, m.group()) for m in master_pattern(True).finditer("Mr. Lee 5.")]
    [('abbr', 'Mr.'), ('sep', ' '), ('word', 'Lee'), ('sep', ' '), ('word', '5'), ('punct', '.')]
    """
    han = HAN if split_han else HAN + "+"
    parts = [
        rf"(?P<sep>{SEPARATOR}+)",
        rf"(?P<url>(?:(?:https?|ftp)://|www\.)(?:{_URL_CHAR}|{_URL_PAREN})*(?:{_URL_END}|{_URL_PAREN}))",
        # bounded repeats (RFC 5321 lengths) keep the scan linear on long runs of "-._+"
        rf"(?P<email>(?<![{_W}.])[\p{{L}}\p{{N}}][\p{{L}}\p{{N}}._%+\-]{{0,63}}@"
        rf"[\p{{L}}\p{{N}}\-]{{1,63}}(?:\.[\p{{L}}\p{{N}}\-]{{1,63}}){{1,8}})",
        r"(?P<keycap>[0-9#*]\uFE0F?\u20E3)",
        r"(?P<emoji>(?=[\p{Extended_Pictographic}\p{Regional_Indicator}])\X)",
        rf"(?P<tag>(?<!{_W})[#@][\p{{L}}\p{{M}}\p{{N}}_]+)",
        rf"(?P<dotted>(?<![{_W}.])(?:{_LETTER}\.)+{_LETTER}(?!{_W})\.?)",
        rf"(?P<abbr>(?<![{_W}.])(?:{_alternation(_words(NON_FINAL | OTHER))})\.)",
        rf"(?P<numabbr>(?<![{_W}.])(?:{_alternation(_words(BEFORE_NUMBER))})\.(?={SEPARATOR}*\p{{Nd}}))",
        rf"(?P<initial>(?<![{_W}.'’])(?:{_LETTER})\.(?={SEPARATOR}+{_NON_SEP}|[,;:)\]}}»”’]))",
        rf"(?P<ordinal>(?<![{_W}.,])\p{{Nd}}{{1,3}}\.(?={SEPARATOR}+{_W}))",
        rf"(?P<word>(?:(?<!{_W})[\-−+](?=\p{{Nd}}))?{_W}+"
        rf"(?:(?:[\-‐‑'’ʼ·]|\.(?={_W})|(?<=\p{{Nd}})[,:/](?=\p{{Nd}})){_W}+)*)",
        rf"(?P<han>{han})",
        rf"(?P<kana>{KANA}+)",
        rf"(?P<thai>{THAI}+)",
        r"(?P<punct>(?P<mark>\p{P})(?P=mark)*)",
        r"(?P<other>\X)",
    ]
    return regex.compile("|".join(parts), regex.V1)


_ELISION = regex.compile(
    r"(?:[lLdDjJmMnNsStTcCçÇ]|[qQ]u|[jJ]usqu|[lL]orsqu|[pP]uisqu|[qQ]uoiqu"
    r"|[dDnNsS]ell|[dD]all|[aA]ll|[cC]oll|[uU]n|[qQ]uest|[qQ]uell)['’](?=\p{L})",
    regex.V1,
)
_FR_PRONOUN = regex.compile(
    r"\p{L}(-t-(?:il|elle|on|ils|elles)|-(?:je|tu|il|elle|ils|elles|nous|vous|ce))$",
    regex.V1 | regex.IGNORECASE,
)
_EN_CLITIC = regex.compile(r"\p{L}((?:n['’]t)|['’](?:s|m|d|re|ve|ll))$", regex.V1 | regex.IGNORECASE)
_HYPHEN = regex.compile(r"(?<!\p{Nd})[\-‐‑]|[\-‐‑](?!\p{Nd})", regex.V1)
_NOT_SPLIT = frozenset({"rendez-vous", "Rendez-vous"})
TRIM = "\u061c\u180e\u200b\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2060\u2061\u2062\u2063\u2064"
TRIM += "\u2066\u2067\u2068\u2069\ufeff" + JOINERS


def split_word(text: str, start: int, end: int, split_hyphens: bool) -> list[tuple[int, int]]:
    """Split elision, hyphens or French inverted pronouns, and English clitics off a word.

    Returns the ``(start, end)`` spans of the pieces of ``text[start:end]``.

    Examples
    --------
    >>> text = "Don't -- va-t-il"
    >>> [text[s:e] for s, e in split_word(text, 0, 5, split_hyphens=False)]
    ['Do', "n't"]
    >>> [text[s:e] for s, e in split_word(text, 9, 16, split_hyphens=False)]
    ['va', '-t-il']
    """
    word = text[start:end]
    if not any(c in word for c in "'’-‐‑") or word in _NOT_SPLIT:
        return [(start, end)]
    spans: list[tuple[int, int]] = []
    m = _ELISION.match(text, start, end)
    if m:
        spans.append((start, m.end()))
        start = m.end()
    m = _FR_PRONOUN.search(text, start, end)
    tail = [(m.start(1), end)] if m else []
    end = m.start(1) if m else end
    if split_hyphens:
        for h in _HYPHEN.finditer(text, start, end):
            spans.extend([(start, h.start()), h.span()])
            start = h.end()
    m = _EN_CLITIC.search(text, start, end)
    if m:
        tail.insert(0, (m.start(1), end))
        end = m.start(1)
    spans.append((start, end))
    spans.extend(tail)
    return spans


@functools.lru_cache(maxsize=32)
def exception_pattern(exceptions: tuple[str, ...]) -> regex.Pattern[str] | None:
    """Return a pattern matching the exceptions as whole words, longest first.

    Examples
    --------
    >>> [m.group() for m in exception_pattern(("New York", "New")).finditer("New York, Newark")]
    ['New York']
    >>> exception_pattern(()) is None
    True
    """
    if not exceptions:
        return None
    alts = []
    for e in sorted(set(exceptions), key=lambda w: (-len(w), w)):
        before = rf"(?<!{_W})" if regex.match(_W, e, regex.V1) else ""
        after = rf"(?!{_W})" if regex.match(_W, e[-1], regex.V1) else ""
        alts.append(before + regex.escape(e) + after)
    return regex.compile("|".join(alts), regex.V1)


@functools.lru_cache(maxsize=32)
def custom_separator_pattern(
    split_chars: tuple[str, ...], split_pattern: str | None
) -> regex.Pattern[str] | None:
    """Return a pattern matching the extra separators: ``split_pattern``, then ``split_chars``.

    Examples
    --------
    >>> custom_separator_pattern(("/", "|"), None).split("a/b|c")
    ['a', 'b', 'c']
    >>> custom_separator_pattern((), None) is None
    True
    """
    alts = [regex.escape(c) for c in sorted(set(split_chars), key=lambda w: (-len(w), w))]
    if split_pattern:
        alts.insert(0, f"(?:{split_pattern})")
    return regex.compile("|".join(alts), regex.V1) if alts else None


__all__ = ["TRIM", "custom_separator_pattern", "exception_pattern", "master_pattern", "split_word"]
