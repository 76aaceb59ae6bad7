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


_ABBRS = _words(NON_FINAL | OTHER)
_NUMABBRS = _words(BEFORE_NUMBER)
# Necessary conditions checked before trying the long alternations: the first "." after
# the start is within the longest abbreviation's length (abbreviations hold no space).
_ABBR_GUARD = rf"(?=[^.\s]{{1,{max(map(len, _ABBRS))}}}\.)"
_NUMABBR_GUARD = rf"(?=[^.\s]{{1,{max(map(len, _NUMABBRS))}}}\.)"


def _parts(split_han: bool) -> dict[str, str]:
    """Return the named alternatives of the master pattern, in their order."""
    han = HAN if split_han else HAN + "+"
    return {
        "sep": rf"(?P<sep>{SEPARATOR}+)",
        "url": rf"(?P<url>(?:(?:https?|ftp)://|www\.)(?:{_URL_CHAR}|{_URL_PAREN})*(?:{_URL_END}|{_URL_PAREN}))",
        # bounded repeats (RFC 5321 lengths) keep the scan linear on long runs of "-._+"
        "email": rf"(?P<email>(?<![{_W}.])[\p{{L}}\p{{N}}][\p{{L}}\p{{N}}._%+\-]{{0,63}}@"
        rf"[\p{{L}}\p{{N}}\-]{{1,63}}(?:\.[\p{{L}}\p{{N}}\-]{{1,63}}){{1,8}})",
        "keycap": r"(?P<keycap>[0-9#*]\uFE0F?\u20E3)",
        "emoji": r"(?P<emoji>(?=[\p{Extended_Pictographic}\p{Regional_Indicator}])\X)",
        "tag": rf"(?P<tag>(?<!{_W})[#@][\p{{L}}\p{{M}}\p{{N}}_]+)",
        "dotted": rf"(?P<dotted>(?<![{_W}.])(?:{_LETTER}\.)+{_LETTER}(?!{_W})\.?)",
        "abbr": rf"(?P<abbr>(?<![{_W}.]){_ABBR_GUARD}(?:{_alternation(_ABBRS)})\.)",
        "numabbr": rf"(?P<numabbr>(?<![{_W}.]){_NUMABBR_GUARD}(?:{_alternation(_NUMABBRS)})\."
        rf"(?={SEPARATOR}*\p{{Nd}}))",
        "initial": rf"(?P<initial>(?<![{_W}.'’])(?:{_LETTER})\.(?={SEPARATOR}+{_NON_SEP}|[,;:)\]}}»”’]))",
        "ordinal": rf"(?P<ordinal>(?<![{_W}.,])\p{{Nd}}{{1,3}}\.(?={SEPARATOR}+{_W}))",
        "word": rf"(?P<word>(?:(?<!{_W})[\-−+](?=\p{{Nd}}))?{_W}+"
        rf"(?:(?:[\-‐‑'’ʼ·]|\.(?={_W})|(?<=\p{{Nd}})[,:/](?=\p{{Nd}})){_W}+)*)",
        "han": rf"(?P<han>{han})",
        "kana": rf"(?P<kana>{KANA}+)",
        "thai": rf"(?P<thai>{THAI}+)",
        "punct": r"(?P<punct>(?P<mark>\p{P})(?P=mark)*)",
        "other": r"(?P<other>\X)",
    }


@functools.lru_cache(maxsize=4)
def master_pattern(split_han: bool) -> regex.Pattern[str]:
    """Return the pattern whose named alternatives tile a text: one match per token or gap.

    Examples
    --------
    >>> [(m.lastgroup, m.group()) for m in master_pattern(True).finditer("Mr. Lee 5.")]
    [('abbr', 'Mr.'), ('sep', ' '), ('word', 'Lee'), ('sep', ' '), ('word', '5'), ('punct', '.')]
    """
    return regex.compile("|".join(_parts(split_han).values()), regex.V1)


# Fast alternatives, tried first. Each matches only where no alternative of the master
# pattern before the one it stands for can match, and then exactly what that one matches:
# - plain: a word of letters, marks and digits that the ``word`` alternative would end at
#   the same place, followed by a character (``_FOLLOW``) that no earlier alternative can
#   continue with: not ``:`` (url), ``@ . _ % + -`` (email), ``.`` (dotted, abbr, initial),
#   U+FE0F U+20E3 (keycap), a word character or ``- ' ’ · .`` (word), nor ``, : /`` after a
#   digit (numbers); never an Extended_Pictographic character (emoji, as ``ℹ``).
# - fpunct: punctuation other than ``# * @`` (keycap, tag), ``-`` (``-5``), ``_`` (a word
#   character) and punctuation of the emoji, Han, kana and Thai classes.
# - fhan, fkana, fthai: only in patterns for text without ``@`` (an e-mail address can
#   start with any letter), never starting with a digit (``๑.`` may be an ordinal) or ``ー``
#   (a letter of ``dotted`` and ``initial``).
_NOT_PLAIN = r"\p{Han}\p{Hiragana}\p{Katakana}\p{Thai}\u30FC\uFF70\p{Extended_Pictographic}"
_PLAIN_START = rf"[[\p{{L}}\p{{Nd}}]--[{_NOT_PLAIN}]]"
_PLAIN_CHAR = rf"[[\p{{L}}\p{{M}}\p{{Nd}}]--[{_NOT_PLAIN}\uFE0F\u20E3]]"
_FOLLOW = r"\p{White_Space}\p{Cc}" + INVISIBLE + r";!?()\[\]{}\"“”«»"
_FAST = {
    "plain": rf"(?P<plain>{_PLAIN_START}{_PLAIN_CHAR}*+"
    rf"(?:(?<!\p{{Nd}})(?=[{_FOLLOW},/]|\Z)|(?=[{_FOLLOW}]|\Z)))",
    "fpunct": r"(?P<fpunct>(?P<fmark>[\p{P}--[#*@_\-" + _NOT_PLAIN + r"]])(?P=fmark)*)",
}
_NO_EMOJI_NO_DIGIT = r"--[\p{Nd}\p{Extended_Pictographic}]]"
_FAST_NO_SPACE = {
    "fkana": rf"(?P<fkana>[[\p{{Hiragana}}\p{{Katakana}}]{_NO_EMOJI_NO_DIGIT}{KANA}*)",
    "fthai": rf"(?P<fthai>[{THAI}{_NO_EMOJI_NO_DIGIT}{THAI}*)",
}
#: The alternatives that need a character of the text to match at all.
_NEEDS = {"url": ("url",), "email": ("@",), "tag": ("#", "@"), "keycap": ("keycap",), "emoji": ("emoji",)}
#: The kind each fast alternative stands for.
FAST_KINDS = {"plain": "word", "fpunct": "punct", "fhan": "han", "fkana": "kana", "fthai": "thai"}


@functools.lru_cache(maxsize=256)
def fast_pattern(split_han: bool, present: frozenset[str]) -> regex.Pattern[str]:
    """Return the master pattern for a text holding only the features in ``present``.

    ``present`` may hold ``"url"`` (``://`` or ``www.``), ``"@"``, ``"#"``, ``"keycap"``
    (U+20E3) and ``"emoji"`` (an Extended_Pictographic or Regional_Indicator character).
    Alternatives that cannot match without them are left out, the fast alternatives above
    are tried first, and white space before a token is skipped (``\\K``) instead of being a
    match of its own. On such a text the tokens (matches with a group) are the non-``sep``
    matches of ``master_pattern``; the last match is empty, with no group.

    Examples
    --------
    >>> [(m.lastgroup, m.group()) for m in fast_pattern(True, frozenset()).finditer("Mr. Lee 東,")]
    [('abbr', 'Mr.'), ('plain', 'Lee'), ('fhan', '東'), ('fpunct', ','), (None, '')]
    """
    parts = _parts(split_han)
    fast = dict(_FAST)
    if "@" not in present:
        more = "" if split_han else f"{HAN}*"
        fast["fhan"] = f"(?P<fhan>[{HAN}{_NO_EMOJI_NO_DIGIT}{more})"
        fast.update(_FAST_NO_SPACE)
    del parts["sep"]
    alts = [*fast.values()]
    alts += [p for k, p in parts.items() if k not in _NEEDS or not present.isdisjoint(_NEEDS[k])]
    # white space is skipped inside each match (\K: not part of it) rather than matched alone;
    # the match at the end of the text, after the last token, is empty and has no group
    return regex.compile(rf"{SEPARATOR}*+\K(?:{'|'.join(alts)}|\Z)", regex.V1)


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
