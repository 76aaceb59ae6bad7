"""The hot loop of the tokenizer: one pass of the master pattern over a sentence.

Private to ``sparkbert.text.tokens``. The speed comes from three exact shortcuts, each
checked against the pre-optimisation implementation in ``tests/text``:

- ``present`` lists the characters some alternatives of the master pattern need (``@``,
  ``#``, ``://``, U+20E3, emoji); ``fast_pattern`` leaves out the alternatives that cannot
  match, tries cheap alternatives for plain words, punctuation, Han, kana and Thai first,
  and skips white space inside the next match instead of matching it alone;
- a sentence with no character that a grapheme rule can join (``_JOINING``) needs no
  grapheme check, and a pair of characters of class Other or Control is always a boundary;
- trimming is skipped when the sentence holds no character to trim.

Examples
--------
>>> from sparkbert.text._token_rules import fast_pattern
>>> text = "Hi, l'homme!"
>>> [text[s:e] for s, e in scan(text, 0, len(text), fast_pattern(True, present(text)), False, False)]
['Hi', ',', "l'", 'homme', '!']
"""

from __future__ import annotations

import regex

from sparkbert.text._token_rules import FAST_KINDS, TRIM, split_word
from sparkbert.text._unicode import is_grapheme_boundary

_EMOJI = regex.compile(r"[\p{Extended_Pictographic}\p{Regional_Indicator}]", regex.V1)
HAS_TRIM = regex.compile(f"[{TRIM}]")
_GCB_SIMPLE = r"[\p{GCB=Other}\p{GCB=Control}]"
_SIMPLE_PAIR = regex.compile(_GCB_SIMPLE * 2, regex.V1)
#: A character that a grapheme rule may join to a neighbour (all others always break, but CR LF).
JOINING = regex.compile(r"[^\p{GCB=Other}\p{GCB=Control}\p{GCB=CR}\p{GCB=LF}]", regex.V1)


def present(text: str) -> frozenset[str]:
    """Return the features of ``text`` that some alternatives of the master pattern need."""
    found = []
    if "@" in text:
        found.append("@")
    if "#" in text:
        found.append("#")
    if "://" in text or "www." in text:
        found.append("url")
    if "\u20e3" in text:
        found.append("keycap")
    if _EMOJI.search(text):
        found.append("emoji")
    return frozenset(found)


def _boundary(text: str, start: int, pos: int) -> bool:
    """Return ``is_grapheme_boundary(text, start, pos)``, deciding common pairs without a scan."""
    before, after = text[pos - 1], text[pos]
    if before < "\u0300" and after < "\u0300" and before != "\r":
        return True  # no grapheme rule joins two characters below U+0300 (but CR LF)
    if _SIMPLE_PAIR.match(text, pos - 1):
        return True  # both Other or Control: UAX #29 always breaks between them
    return is_grapheme_boundary(text, start, pos)


def scan_kinds(
    text: str, start: int, end: int, master: regex.Pattern[str], split_hyphens: bool, joins: bool
) -> list[tuple[int, int, str]]:
    """Return the raw ``(start, end, kind)`` tokens of ``text[start:end]``, before trimming."""
    raw: list[tuple[int, int, str]] = []
    for m in master.finditer(text, start, end):
        kind = m.lastgroup
        if kind is None:
            continue
        kind = FAST_KINDS.get(kind, kind)
        if joins and raw and raw[-1][1] == m.start() and not _boundary(text, raw[-1][0], m.start()):
            raw[-1] = (raw[-1][0], m.end(), raw[-1][2])  # never split a grapheme cluster
        elif kind == "word":
            raw.extend((a, b, kind) for a, b in split_word(text, m.start(), m.end(), split_hyphens))
        else:
            raw.append((m.start(), m.end(), kind))
    return raw


def scan(
    text: str, start: int, end: int, master: regex.Pattern[str], split_hyphens: bool, joins: bool
) -> list[tuple[int, int]]:
    """Return the ``(start, end)`` raw tokens of ``text[start:end]``: ``scan_kinds`` without kinds."""
    raw: list[tuple[int, int]] = []
    last = -1
    for m in master.finditer(text, start, end):
        kind = m.lastgroup
        if kind is None:
            continue
        s, e = m.span()
        if s == last and joins and not _boundary(text, raw[-1][0], s):
            raw[-1] = (raw[-1][0], e)
        elif kind == "word":
            raw += split_word(text, s, e, split_hyphens)
        else:
            raw.append((s, e))
        last = e
    return raw


def trimmed(text: str, raw: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Return the non-empty ``raw`` spans with invisible characters and joiners trimmed off."""
    out = []
    for s, e in raw:
        while s < e and text[s] in TRIM:
            s += 1
        while e > s and text[e - 1] in TRIM:
            e -= 1
        if s < e:
            out.append((s, e))
    return out


__all__ = ["HAS_TRIM", "JOINING", "present", "scan", "scan_kinds", "trimmed"]
