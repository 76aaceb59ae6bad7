"""Split a document into sentences with exact character offsets.

``detect_sentences`` is the pure function behind the ``SentenceDetector``
stage. It is rule based and multilingual; a sentence ends:

- after a run of terminal punctuation followed by white space (or the end of the
  text): Latin and Cyrillic ``. ! ? … ‼ ⁇``, Devanagari ``। ॥``, Arabic ``؟ ۔``,
  Armenian ``։``, Ethiopic ``። ፧``, Greek ``;`` (U+037E). Closing quotes and
  brackets right after the punctuation stay with the sentence
  (``He said "Hi." Then`` ends after the quote);
- after CJK, Myanmar and Khmer terminators (``。！？．｡ ။ ។``) even with no space
  (but not in a Japanese quotation, ``「…。」と``);
- at a blank line (two line breaks with only spaces between) or U+2029, always.

It does not end a sentence when the next word starts with a lower-case letter
(``e.g. this``, ``Yahoo! is``), nor after abbreviations (``Mr.``, ``Dr.``, ``z.B.``,
``bzw.``, ``Mme.``; ``No. 5``), dotted abbreviations (``U.S.``, ``B.C.``: so
``in the U.S. The`` is not split either), single-letter initials (``J. R. R. Tolkien``),
ordinals after a German article or before a month (``am 3. Mai``,
``im 5. Jahrhundert``), nor inside decimals, URLs and e-mail addresses (a period
not followed by white space never ends a Latin sentence). Text in scripts
without sentence punctuation (Thai) is not split except at blank lines.

Examples
--------
>>> from sparkbert.annotation import Annotation
>>> text = 'Dr. Smith paid $3.14 at www.x.org. He said "Hi." Then he left!'
>>> [s.result for s in detect_sentences(Annotation("document", 0, len(text) - 1, text))]
['Dr. Smith paid $3.14 at www.x.org.', 'He said "Hi."', 'Then he left!']
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

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
# A candidate end is a run of terminators then closers (``[_TERMS]+ _CLOSERS*``), found in two
# steps: the run (stdlib re, a literal set), then the closers, which hold no terminator
_TERM_RUN = re.compile(f"[{re.escape(_TERMS)}]+")
_CLOSER_RUN = regex.compile(f"{_CLOSERS}*", _V1)
_CLOSER_START = regex.compile(r"[\p{Pe}\p{Pf}\"'»”’›“‘」』 \u00a0\u202f]", _V1)
_BREAK = r"(?:\r\n|[\n\r\u2028\u0085\v\f])"
_BLANK_LINE = regex.compile(rf"{_BREAK}[^\S\r\n\u2028\u2029\u0085\v\f]*{_BREAK}|\u2029", _V1)
_LINE_BREAK = re.compile("[\n\r\u2028\u0085\v\f\u2029]")  # a blank line needs one of these
_SPACE = regex.compile(rf"{SEPARATOR}*", _V1)
_OPEN_RUN = regex.compile(rf"{_OPENERS}*", _V1)
# searched backwards ((?r)): the same match as a forward search, without trying every start
_WORD_BEFORE = regex.compile(r"(?r)[^\s(\[{\"'“‘«„‚¿¡]+$", _V1)
_WORD_AFTER = regex.compile(r"[\p{L}\p{M}\p{N}]+", _V1)
_INITIAL = regex.compile(r"[\p{Lu}\p{Ll}]\p{M}*", _V1)
_DOTTED = regex.compile(r"(?:\p{L}\p{M}*\.)+\p{L}\p{M}*", _V1)
_UNIT_BEFORE = regex.compile(r"[\p{Nd}°º]\s?$", _V1)
_DIGITS = regex.compile(r"\p{Nd}{1,3}", _V1)
_SEP_CHAR = regex.compile(SEPARATOR, _V1)
_BMP_SEPS, _BMP_CLOSER_STARTS = (
    frozenset(p.findall("".join(map(chr, range(0x10000))))) for p in (_SEP_CHAR, _CLOSER_START)
)
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
    cuts = [m.start() for m in _BLANK_LINE.finditer(text)] if _LINE_BREAK.search(text) else []
    n = len(text)
    for m in _TERM_RUN.finditer(text):
        start, end = m.span()
        terms = m.group()
        if end < n and _may_close(text[end]):
            end = _CLOSER_RUN.match(text, end).end()  # type: ignore[union-attr]
        closed = end > m.end()
        if end == n:
            continue
        after = _SPACE.match(text, end).end()  # type: ignore[union-attr]
        if after == n:
            continue
        if after == end:
            # 。 ends a sentence without a space, but not 「…。」と (a quotation)
            if terms[-1] in _NO_SPACE_TERMS and not (closed and text[end] in _QUOTATIVE):
                cuts.append(end)
            continue
        first = _OPEN_RUN.match(text, after).end()  # type: ignore[union-attr]
        if first < len(text) and text[first].islower():
            continue
        if terms == "." and not closed:
            nxt = _WORD_AFTER.match(text, first)
            next_word = nxt.group() if nxt else ""
            dotted = nxt is not None and text.startswith(".", nxt.end())
            if not _period_ends_sentence(text, start, next_word, dotted):
                continue
        cuts.append(end)
    return cuts


def _custom_cuts(text: str, bounds: Sequence[str]) -> list[int]:
    pattern = regex.compile("|".join(regex.escape(b) for b in sorted(set(bounds), key=lambda b: -len(b))))
    return [m.end() for m in pattern.finditer(text)]


def _may_close(char: str) -> bool:
    """Return whether a run of ``_CLOSERS`` can start with ``char``."""
    return char in _BMP_CLOSER_STARTS or (char > "\uffff" and _CLOSER_START.match(char) is not None)


def _is_sep(char: str) -> bool:
    """Return whether ``char`` matches ``SEPARATOR`` (a set lookup below U+10000)."""
    return char in _BMP_SEPS or (char > "\uffff" and _SEP_CHAR.match(char) is not None)


def _trimmed(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and _is_sep(text[start]):
        start += 1
    while end > start and _is_sep(text[end - 1]):
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
    return _spans(text, max_length, min_length, custom_bounds, use_custom_bounds_only)


def _spans(
    text: str,
    max_length: int | None,
    min_length: int,
    custom_bounds: Sequence[str],
    use_custom_bounds_only: bool,
) -> list[tuple[int, int]]:
    """Return ``sentence_spans(text, ...)`` without checking the parameters."""
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
    _check(max_length, min_length, custom_bounds)
    return _sentences(document, 0, (max_length, min_length, custom_bounds, use_custom_bounds_only))


def detect_sentences_rows(
    rows: Iterable[Sequence[Annotation]],
    *,
    max_length: int | None = None,
    min_length: int = 0,
    custom_bounds: Sequence[str] = (),
    use_custom_bounds_only: bool = False,
) -> list[list[Annotation]]:
    """Split the documents of each row into sentences, numbered from 0 in each row.

    The batch form behind the ``SentenceDetector`` stage: the sentences of a row's
    documents follow each other, their ``sentence`` metadata counting on across
    documents. The parameters are those of ``detect_sentences``, checked once.

    Examples
    --------
    >>> docs = [Annotation("document", 0, 6, "Hi. Yo."), Annotation("document", 8, 10, "Ok.")]
    >>> [(s.result, s.metadata["sentence"]) for s in detect_sentences_rows([docs])[0]]
    [('Hi.', '0'), ('Yo.', '1'), ('Ok.', '2')]
    """
    _check(max_length, min_length, custom_bounds)
    options = (max_length, min_length, custom_bounds, use_custom_bounds_only)
    out = []
    for documents in rows:
        sentences: list[Annotation] = []
        for document in documents:
            sentences += _sentences(document, len(sentences), options)
        out.append(sentences)
    return out


def _sentences(
    document: Annotation, first: int, options: tuple[int | None, int, Sequence[str], bool]
) -> list[Annotation]:
    """The sentences of ``document`` numbered from ``first`` (``options`` already checked)."""
    text = document.result or ""
    base = document.begin
    return [
        Annotation(DOCUMENT, base + s, base + e - 1, text[s:e], {"sentence": str(first + i)})
        for i, (s, e) in enumerate(_spans(text, *options))
    ]


__all__ = ["detect_sentences", "detect_sentences_rows", "sentence_spans"]
