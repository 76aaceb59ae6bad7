"""The pre-optimisation sentence detector, kept verbatim as the test oracle.

This is ``sparkbert.text.sentences`` as it was before the fast path was written;
the equivalence tests compare ``detect_sentences`` and ``sentence_spans`` against
it. Nothing in ``src`` imports it. Do not edit it to follow a behaviour change.
"""

from __future__ import annotations

from collections.abc import Sequence

import regex

from sparkbert.annotation import DOCUMENT, Annotation
from sparkbert.errors import InvalidParamError
from sparkbert.text._abbreviations import (
    BEFORE_NUMBER,
    NON_FINAL,
    ORDINAL_AFTER,
    ORDINAL_BEFORE,
    OTHER,
    is_abbreviation,
)
from sparkbert.text._unicode import SEPARATOR, grapheme_cut

_TERMS = ".!?‼⁇⁈⁉…。！？．｡।॥؟۔։።፧፨᙮᠃᠉⸮꓿꘎꘏꛳꛷︒﹒﹖﹗\u037e။។"
_NO_SPACE_TERMS = frozenset("。！？．｡︒﹒﹖﹗။។")
_QUOTATIVE = frozenset("とっ、，,")
# Closing quotes and brackets; German closes with “ ‘ (U+201C/U+2018), French puts a
# space before » (``crue. » Mais``).
_CLOSERS = r"(?:[\p{Pe}\p{Pf}\"'»”’›“‘」』]|[ \u00a0\u202f]+[»›](?=\s|$))"
_OPENERS = r"[\p{Ps}\p{Pi}\"'¿¡«»\-–—]"
_V1 = regex.V1
_CANDIDATE = regex.compile(rf"(?P<terms>[{regex.escape(_TERMS)}]+)(?P<closers>{_CLOSERS}*)", _V1)
_BREAK = r"(?:\r\n|[\n\r\u2028\u0085\v\f])"
_BLANK_LINE = regex.compile(rf"{_BREAK}[^\S\r\n\u2028\u2029\u0085\v\f]*{_BREAK}|\u2029", _V1)
_SPACE = regex.compile(rf"{SEPARATOR}*", _V1)
_OPEN_RUN = regex.compile(rf"{_OPENERS}*", _V1)
_WORD_BEFORE = regex.compile(r"[^\s(\[{\"'“‘«„‚¿¡]+$", _V1)
_WORD_AFTER = regex.compile(r"[\p{L}\p{M}\p{N}]+", _V1)
_INITIAL = regex.compile(r"[\p{Lu}\p{Ll}]\p{M}*", _V1)
_DOTTED = regex.compile(r"(?:\p{L}\p{M}*\.)+\p{L}\p{M}*", _V1)
_UNIT_BEFORE = regex.compile(r"[\p{Nd}°º]\s?$", _V1)
_DIGITS = regex.compile(r"\p{Nd}{1,3}", _V1)
_SEP_CHAR = regex.compile(SEPARATOR, _V1)
_ALL = NON_FINAL | BEFORE_NUMBER | OTHER


def _word_before(text: str, end: int) -> str:
    m = _WORD_BEFORE.search(text, max(0, end - 64), end)
    return m.group() if m else ""


def _period_ends_sentence(text: str, start: int, next_word: str, next_dotted: bool) -> bool:
    """Decide a single period at ``start`` followed by white space and ``next_word``."""
    word = _word_before(text, start)
    if not word:
        return True
    if is_abbreviation(word, NON_FINAL) or _DOTTED.fullmatch(word):
        return False
    if _INITIAL.fullmatch(word):  # an initial ("J. R. R."), not a unit ("2° C.", "1916 г.")
        if not _UNIT_BEFORE.search(text, max(0, start - 3), start - len(word)):
            return False
        # "511 v. Chr.", "511 a. C.": the next word is an abbreviation too
        return not (next_dotted and (_INITIAL.fullmatch(next_word) or is_abbreviation(next_word, _ALL)))
    if next_word[:1].isdigit() and is_abbreviation(word, BEFORE_NUMBER):
        return False
    if _DIGITS.fullmatch(word):  # an ordinal? "am 3. Mai", "im 21. Jahrhundert"
        if next_word.lower() in ORDINAL_AFTER:
            return False
        k = start - len(word)
        while k > 0 and text[k - 1].isspace():
            k -= 1
        if _word_before(text, k).lower() in ORDINAL_BEFORE:
            return False
    return True


def _rule_cuts(text: str) -> list[int]:
    cuts = [m.start() for m in _BLANK_LINE.finditer(text)]
    for m in _CANDIDATE.finditer(text):
        end = m.end()
        after = _SPACE.match(text, end).end()  # type: ignore[union-attr]
        if after == len(text):
            continue
        terms = m.group("terms")
        if after == end:
            # 。 ends a sentence without a space, but not 「…。」と (a quotation)
            if terms[-1] in _NO_SPACE_TERMS and not (m.group("closers") and text[end] in _QUOTATIVE):
                cuts.append(end)
            continue
        first = _OPEN_RUN.match(text, after).end()  # type: ignore[union-attr]
        if first < len(text) and text[first].islower():
            continue
        if terms == "." and not m.group("closers"):
            nxt = _WORD_AFTER.match(text, first)
            next_word = nxt.group() if nxt else ""
            dotted = nxt is not None and text.startswith(".", nxt.end())
            if not _period_ends_sentence(text, m.start(), next_word, dotted):
                continue
        cuts.append(end)
    return cuts


def _custom_cuts(text: str, bounds: Sequence[str]) -> list[int]:
    pattern = regex.compile("|".join(regex.escape(b) for b in sorted(set(bounds), key=lambda b: -len(b))))
    return [m.end() for m in pattern.finditer(text)]


def _trimmed(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and _SEP_CHAR.match(text[start]):
        start += 1
    while end > start and _SEP_CHAR.match(text[end - 1]):
        end -= 1
    return start, end


def _split_long(text: str, start: int, end: int, max_length: int) -> list[tuple[int, int]]:
    """Split ``[start, end)`` into pieces of at most ``max_length`` at white space."""
    pieces = []
    while end - start > max_length:
        limit = start + max_length
        cut = next((i for i in range(limit, start, -1) if _SEP_CHAR.match(text[i])), None)
        if cut is None:  # no white space: a hard split, on a grapheme cluster boundary
            cut = grapheme_cut(text, start, end, limit)
        piece = _trimmed(text, start, cut)
        if piece[0] < piece[1]:
            pieces.append(piece)
        start = _trimmed(text, cut, end)[0]
    if start < end:
        pieces.append((start, end))
    return pieces


def _merge_short(
    spans: list[tuple[int, int]], min_length: int, max_length: int | None
) -> list[tuple[int, int]]:
    """Merge spans shorter than ``min_length`` into the previous one (the first into the next)."""
    longest = float("inf") if max_length is None else max_length

    def fits(a: tuple[int, int], b: tuple[int, int]) -> bool:
        return b[1] - a[0] <= longest

    out: list[tuple[int, int]] = []
    for span in spans:
        if out and span[1] - span[0] < min_length and fits(out[-1], span):
            out[-1] = (out[-1][0], span[1])
        else:
            out.append(span)
    if len(out) > 1 and out[0][1] - out[0][0] < min_length and fits(out[0], out[1]):
        out[0:2] = [(out[0][0], out[1][1])]
    return out


def _check(max_length: int | None, min_length: int, custom_bounds: Sequence[str]) -> None:
    if max_length is not None and (
        isinstance(max_length, bool) or not isinstance(max_length, int) or max_length < 1
    ):
        raise InvalidParamError.for_param("max_length", max_length, "None or an integer >= 1")
    if isinstance(min_length, bool) or not isinstance(min_length, int) or min_length < 0:
        raise InvalidParamError.for_param("min_length", min_length, "an integer >= 0")
    if isinstance(custom_bounds, str) or any(not isinstance(b, str) or not b for b in custom_bounds):
        raise InvalidParamError.for_param("custom_bounds", custom_bounds, "a sequence of non-empty strings")


def sentence_spans(
    text: str,
    *,
    max_length: int | None = None,
    min_length: int = 0,
    custom_bounds: Sequence[str] = (),
    use_custom_bounds_only: bool = False,
) -> list[tuple[int, int]]:
    """Return the ``[start, end)`` spans of the sentences of ``text``.

    The offset-only core of ``detect_sentences``, with the same parameters.

    Examples
    --------
    >>> sentence_spans("Hi. Bye.")
    [(0, 3), (4, 8)]
    """
    _check(max_length, min_length, custom_bounds)
    cuts = [] if use_custom_bounds_only else _rule_cuts(text)
    if custom_bounds:
        cuts.extend(_custom_cuts(text, custom_bounds))
    spans = []
    start = 0
    for cut in [*sorted(set(cuts)), len(text)]:
        s, e = _trimmed(text, start, cut)
        if s < e:
            spans.append((s, e))
        start = max(start, cut)
    if max_length is not None:
        spans = [piece for s, e in spans for piece in _split_long(text, s, e, max_length)]
    if min_length > 0:
        spans = _merge_short(spans, min_length, max_length)
    return spans


def detect_sentences(
    document: Annotation,
    *,
    max_length: int | None = None,
    min_length: int = 0,
    custom_bounds: Sequence[str] = (),
    use_custom_bounds_only: bool = False,
) -> list[Annotation]:
    """Split one document annotation into sentence annotations.

    | Input annotation type | Output annotation type |
    | --- | --- |
    | ``document`` | ``document`` |

    Parameters
    ----------
    document : Annotation
        The document: ``result`` is its text and ``begin`` its offset.
    max_length : int or None, default None
        Split sentences longer than this many characters at the last white space
        before the limit (or, with none, at the limit, never inside a grapheme
        cluster). No text is dropped, unlike Spark NLP, which drops such sentences.
    min_length : int, default 0
        Merge a sentence shorter than this into the previous one (the first into the
        next), unless that would exceed ``max_length``. Spark NLP drops short
        sentences; merging keeps every character.
    custom_bounds : Sequence[str], default ()
        Extra literal strings that end a sentence; the bound stays at the end of the
        sentence it ends.
    use_custom_bounds_only : bool, default False
        Split only at ``custom_bounds`` (with none given, the document is one
        sentence).

    Returns
    -------
    list of Annotation
        ``"document"`` annotations (as Spark NLP's SentenceDetector), white space
        trimmed, with offsets into the original text (``document.begin`` added) and
        metadata ``{"sentence": "<0-based index>"}``; empty for a blank document.

    Raises
    ------
    InvalidParamError
        If ``max_length < 1``, ``min_length < 0`` or a custom bound is empty.

    Examples
    --------
    >>> doc = Annotation("document", 0, 21, "Am 3. Mai kam er. Gut.")
    >>> [(s.begin, s.end, s.result, s.metadata) for s in detect_sentences(doc)]
    [(0, 16, 'Am 3. Mai kam er.', {'sentence': '0'}), (18, 21, 'Gut.', {'sentence': '1'})]
    >>> [s.result for s in detect_sentences(doc, custom_bounds=["kam"], use_custom_bounds_only=True)]
    ['Am 3. Mai kam', 'er. Gut.']
    """
    text = document.result or ""
    spans = sentence_spans(
        text,
        max_length=max_length,
        min_length=min_length,
        custom_bounds=custom_bounds,
        use_custom_bounds_only=use_custom_bounds_only,
    )
    base = document.begin
    return [
        Annotation(DOCUMENT, base + s, base + e - 1, text[s:e], {"sentence": str(i)})
        for i, (s, e) in enumerate(spans)
    ]


__all__ = ["detect_sentences", "sentence_spans"]
