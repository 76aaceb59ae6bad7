"""Split sentences into word tokens with exact character offsets.

``tokenize`` is the pure function behind the ``Tokenizer`` stage. It takes
sentence annotations (``"document"`` type, as the sentence detector makes them)
and returns ``"token"`` annotations whose offsets point into the original text,
so ``text[token.begin : token.end + 1] == token.result`` always holds.

The rules, in the order they apply within one sentence:

1. ``exceptions`` (literal, case-sensitive) are kept whole, even across spaces.
2. White space (any Unicode white space: tab, CR/LF, NBSP, U+3000, U+2028, ...),
   control characters, zero-width and bidirectional marks (U+200B, U+200E/F,
   U+202A–E, U+2060–4, U+2066–9, U+FEFF, U+061C), ``split_chars`` and matches of
   ``split_pattern`` separate tokens and are never part of one.
3. Kept whole: URLs, e-mail addresses, hashtags and @mentions, emoji sequences
   (ZWJ sequences, skin tones, flags, keycaps, variation selectors), numbers
   (``3.14``, ``1,000``, ``-5``, ``6:30``, ``2013-2014``), abbreviations (``U.S.``,
   ``z.B.``, ``Dr.``, initials ``J.``), German ordinals before a word (``am 3. Mai``),
   hyphenated words (``États-Unis``) and words with an inner apostrophe
   (``Aujourd'hui``, Turkish ``Çin'in``).
4. Split off: punctuation and symbols (a run of one repeated punctuation mark such
   as ``...`` stays one token; ``%`` and currency signs are their own tokens), French
   and Italian elision (``l'homme`` → ``l'`` ``homme``, also with ``’``), French
   inverted pronouns (``dit-il`` → ``dit`` ``-il``, ``a-t-il`` → ``a`` ``-t-il``) and
   English clitics as Universal Dependencies does (``don't`` → ``do`` ``n't``,
   ``John's`` → ``John`` ``'s``).
5. Scripts without spaces: each Han character is a token (as BERT treats them;
   ``split_han=False`` keeps runs of Han whole); runs of kana and runs of Thai stay
   whole. A dictionary ``word_segmenter`` (see ``sparkbert.text.segmenters``)
   can split these runs into words instead.
6. A token never splits a grapheme cluster (``regex``'s ``\\X``), so combining marks
   stay with their base; zero-width joiners inside a word or an emoji are kept, at
   the edges of a token they are dropped.

Examples
--------
>>> from sparkbert.annotation import Annotation
>>> s = Annotation("document", 0, 26, "I don't live in the U.S. 🇩🇪", {"sentence": "0"})
>>> [t.result for t in tokenize([s])]
['I', 'do', "n't", 'live', 'in', 'the', 'U.S.', '🇩🇪']
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import NamedTuple

import numpy as np
import regex

from sparkbert.annotation import TOKEN, Annotation
from sparkbert.errors import InvalidParamError
from sparkbert.text._token_rules import custom_separator_pattern, exception_pattern, fast_pattern
from sparkbert.text._token_scan import HAS_TRIM, JOINING, present, scan, scan_kinds, trimmed
from sparkbert.text._unicode import is_grapheme_boundary

#: A word segmenter for runs of Han, kana and Thai: the run in, its words out (or ``None``
#: to leave the run to the default rules).
WordSegmenter = Callable[[str], "Iterable[str] | None"]
_NO_SPACE_KINDS = frozenset({"han", "kana", "thai"})


def _complement(spans: list[tuple[int, int]], start: int, end: int) -> list[tuple[int, int]]:
    """Return the parts of ``[start, end)`` not covered by the sorted, disjoint ``spans``."""
    out = []
    for s, e in spans:
        if s > start:
            out.append((start, s))
        start = max(start, e)
    if start < end:
        out.append((start, end))
    return out


def _segment(
    text: str, raw: list[tuple[int, int, str]], segmenter: WordSegmenter
) -> list[tuple[int, int, str]]:
    """Re-split each run of adjacent Han, kana and Thai tokens with ``segmenter``."""
    out: list[tuple[int, int, str]] = []
    i = 0
    while i < len(raw):
        start, end, kind = raw[i]
        j = i
        while (
            kind in _NO_SPACE_KINDS
            and j + 1 < len(raw)
            and raw[j + 1][0] == end
            and raw[j + 1][2] in _NO_SPACE_KINDS
        ):
            j += 1
            end = raw[j][1]
        run = text[start:end]
        words = segmenter(run) if kind in _NO_SPACE_KINDS else None
        if words is None:
            out.extend(raw[i : j + 1])
        else:
            words = list(words)
            if "".join(words) != run or not all(words):
                raise InvalidParamError.for_param(
                    "word_segmenter",
                    segmenter,
                    "a callable returning non-empty pieces that join to its input",
                )
            pos = start
            for word in words:
                if out and out[-1][1] == pos and not is_grapheme_boundary(text, out[-1][0], pos):
                    out[-1] = (out[-1][0], pos + len(word), kind)
                else:
                    out.append((pos, pos + len(word), kind))
                pos += len(word)
        i = j + 1
    return out


def _spans(
    text: str,
    split_han: bool,
    exc: regex.Pattern[str] | None,
    custom: regex.Pattern[str] | None,
    split_hyphens: bool,
    word_segmenter: WordSegmenter | None,
) -> list[tuple[int, int]]:
    """Return the token spans of ``text``; ``exc`` and ``custom`` are the compiled exceptions and separators."""
    master = fast_pattern(split_han, present(text))
    joins = JOINING.search(text) is not None  # else every position is a grapheme boundary
    if exc is None and custom is None and word_segmenter is None:
        raw = scan(text, 0, len(text), master, split_hyphens, joins)
        return trimmed(text, raw) if HAS_TRIM.search(text) else [(s, e) for s, e in raw if s < e]
    kept = [m.span() for m in exc.finditer(text)] if exc else []
    spans: list[tuple[int, int]] = list(kept)
    for seg_start, seg_end in _complement(kept, 0, len(text)):
        pieces = [(seg_start, seg_end)]
        if custom is not None:
            cuts = [m.span() for m in custom.finditer(text, seg_start, seg_end) if m.end() > m.start()]
            pieces = _complement(cuts, seg_start, seg_end)
        for p_start, p_end in pieces:
            if word_segmenter is None:
                spans += trimmed(text, scan(text, p_start, p_end, master, split_hyphens, joins))
                continue
            words = scan_kinds(text, p_start, p_end, master, split_hyphens, joins)
            spans += trimmed(text, [(s, e) for s, e, _ in _segment(text, words, word_segmenter)])
    spans.sort()
    return spans


def token_spans(
    text: str,
    *,
    split_han: bool = True,
    split_chars: Sequence[str] = (),
    split_pattern: str | None = None,
    exceptions: Sequence[str] = (),
    split_hyphens: bool = False,
    word_segmenter: WordSegmenter | None = None,
) -> list[tuple[int, int]]:
    """Return the ``[start, end)`` character spans of the tokens of one text.

    The rules are those of ``tokenize``; this is its offset-only core.

    Parameters
    ----------
    text : str
        One sentence (or any text).
    split_han, split_chars, split_pattern, exceptions, split_hyphens, word_segmenter
        As for ``tokenize``.

    Returns
    -------
    list of (int, int)
        Ascending, non-overlapping spans; ``text[s:e]`` is the token.

    Examples
    --------
    >>> text = "l'homme a 3.14 €"
    >>> [text[s:e] for s, e in token_spans(text)]
    ["l'", 'homme', 'a', '3.14', '€']
    """
    _check_split(split_chars, split_pattern, exceptions)
    exc = exception_pattern(tuple(exceptions))
    custom = custom_separator_pattern(tuple(split_chars), split_pattern)
    return _spans(text, split_han, exc, custom, split_hyphens, word_segmenter)


def _check_split(split_chars: Sequence[str], split_pattern: str | None, exceptions: Sequence[str]) -> None:
    if isinstance(split_chars, str) or any(not isinstance(c, str) or not c for c in split_chars):
        raise InvalidParamError.for_param("split_chars", split_chars, "a sequence of non-empty strings")
    if isinstance(exceptions, str) or any(not isinstance(e, str) or not e.strip() for e in exceptions):
        raise InvalidParamError.for_param("exceptions", exceptions, "a sequence of strings, not blank")
    if split_pattern is not None:
        try:
            regex.compile(split_pattern, regex.V1)
        except (regex.error, TypeError) as err:
            raise InvalidParamError.for_param(
                "split_pattern", split_pattern, "None or a valid regular expression"
            ) from err


def _check_lengths(min_length: int, max_length: int | None) -> None:
    if isinstance(min_length, bool) or not isinstance(min_length, int) or min_length < 0:
        raise InvalidParamError.for_param("min_length", min_length, "an integer >= 0")
    if max_length is not None and (
        isinstance(max_length, bool) or not isinstance(max_length, int) or max_length < max(1, min_length)
    ):
        raise InvalidParamError.for_param(
            "max_length", max_length, "None or an integer >= max(1, min_length)"
        )


def tokenize(
    sentences: Sequence[Annotation],
    *,
    split_han: bool = True,
    split_chars: Sequence[str] = (),
    split_pattern: str | None = None,
    exceptions: Sequence[str] = (),
    min_length: int = 0,
    max_length: int | None = None,
    split_hyphens: bool = False,
    word_segmenter: WordSegmenter | None = None,
) -> list[Annotation]:
    """Split sentence annotations into token annotations.

    | Input annotation type | Output type |
    | --- | --- |
    | ``document`` (sentences) | ``token`` |

    Parameters
    ----------
    sentences : Sequence[Annotation]
        Sentences (or whole documents); ``result`` is the text and ``begin`` its
        offset in the original text.
    split_han : bool, default True
        Make each Han character its own token; ``False`` keeps runs of Han whole.
    split_chars : Sequence[str], default ()
        Extra strings that always separate tokens, like white space; they are not
        part of any token (as Spark NLP's ``splitChars``).
    split_pattern : str or None, default None
        A regular expression (``regex`` syntax) whose matches separate tokens and
        are not part of any token (as Spark NLP's ``splitPattern``).
    exceptions : Sequence[str], default ()
        Strings kept as one token, never split (for example ``"New York"``);
        matched case-sensitively and only as whole words.
    min_length : int, default 0
        Drop tokens shorter than this many characters.
    max_length : int or None, default None
        Drop tokens longer than this many characters (``None`` keeps all).
    split_hyphens : bool, default False
        Split hyphenated words into parts and hyphens (``well`` ``-`` ``known``), as
        the English, German and Hindi UD treebanks do; number ranges (``2013-2014``)
        stay whole. By default hyphenated words stay whole (as French and Russian
        UD, and Spark NLP, do).
    word_segmenter : callable or None, default None
        A dictionary segmenter for scripts written without spaces. It is called with
        each run of adjacent Han, kana and Thai text and returns the run's words
        (which must join to the run), or ``None`` to keep the default rules for that
        run. ``sparkbert.text.segmenters.load_word_segmenter`` makes one from
        PyThaiNLP (Thai) or Janome (Japanese), optional dependencies.

    Returns
    -------
    list of Annotation
        ``"token"`` annotations, in order, with absolute offsets and metadata
        ``{"sentence": <the sentence's "sentence" metadata, else its index>}``.

    Raises
    ------
    InvalidParamError
        If a length is negative, ``max_length < min_length``, ``split_pattern`` is
        not a valid regular expression, a split char or exception is empty, or the
        ``word_segmenter`` returns pieces that do not join to its input.

    Examples
    --------
    >>> from sparkbert.annotation import Annotation
    >>> doc = Annotation("document", 10, 34, "Mail a@b.org re #sparkNLP", {"sentence": "3"})
    >>> [(t.begin, t.result) for t in tokenize([doc])]
    [(10, 'Mail'), (15, 'a@b.org'), (23, 're'), (26, '#sparkNLP')]
    >>> [t.result for t in tokenize([doc], split_chars=["@"], min_length=3)]
    ['Mail', 'b.org', '#sparkNLP']
    """
    rules = _rules(split_han, split_chars, split_pattern, exceptions, min_length, max_length, split_hyphens)
    out: list[Annotation] = []
    for sentence, sid, spans in _sentence_spans(sentences, rules, word_segmenter):
        b = sentence.begin
        text = sentence.result
        out += [Annotation(TOKEN, b + s, b + e - 1, text[s:e], {"sentence": sid}) for s, e in spans]
    return out


class FlatTokens(NamedTuple):
    """The tokens of many rows laid end to end: row ``i`` holds tokens ``offsets[i]`` to ``offsets[i + 1]``."""

    offsets: np.ndarray
    #: character offsets of each token (``end`` inclusive, as in an annotation)
    begins: np.ndarray
    ends: np.ndarray
    results: list[str]
    #: each token's ``sentence`` metadata
    sentences: list[str]


def tokenize_flat(
    rows: Iterable[Sequence[Annotation]],
    *,
    split_han: bool = True,
    split_chars: Sequence[str] = (),
    split_pattern: str | None = None,
    exceptions: Sequence[str] = (),
    min_length: int = 0,
    max_length: int | None = None,
    split_hyphens: bool = False,
    word_segmenter: WordSegmenter | None = None,
) -> FlatTokens:
    """Tokenize the sentences of each row into flat arrays, with no object per token.

    Row ``i``'s tokens are those of ``tokenize(rows[i], ...)`` (same parameters, checked
    once): token ``j`` is ``Annotation("token", begins[j], ends[j], results[j],
    {"sentence": sentences[j]})``. The ``Tokenizer`` stage returns them as an
    ``AnnotationColumn``, which becomes Arrow without a Python step per token.

    Examples
    --------
    >>> flat = tokenize_flat([[Annotation("document", 4, 9, "Hi you")], []])
    >>> flat.offsets.tolist(), flat.begins.tolist(), flat.results, flat.sentences
    ([0, 2, 2], [4, 7], ['Hi', 'you'], ['0', '0'])
    """
    rules = _rules(split_han, split_chars, split_pattern, exceptions, min_length, max_length, split_hyphens)
    counts: list[int] = []
    begins: list[int] = []
    ends: list[int] = []
    results: list[str] = []
    sentences: list[str] = []
    for row in rows:
        before = len(begins)
        for sentence, sid, spans in _sentence_spans(row, rules, word_segmenter):
            b = sentence.begin
            text = sentence.result
            begins += [b + s for s, _ in spans]
            ends += [b + e - 1 for _, e in spans]
            results += [text[s:e] for s, e in spans]
            sentences += [sid] * len(spans)
        counts.append(len(begins) - before)
    offsets = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    return FlatTokens(
        offsets, np.array(begins, dtype=np.int64), np.array(ends, dtype=np.int64), results, sentences
    )


class _Rules(NamedTuple):
    """The checked, compiled parameters of ``tokenize``."""

    split_han: bool
    exc: regex.Pattern[str] | None
    custom: regex.Pattern[str] | None
    split_hyphens: bool
    min_length: int
    longest: float


def _rules(
    split_han: bool,
    split_chars: Sequence[str],
    split_pattern: str | None,
    exceptions: Sequence[str],
    min_length: int,
    max_length: int | None,
    split_hyphens: bool,
) -> _Rules:
    """Check the parameters of ``tokenize`` and compile its patterns."""
    _check_split(split_chars, split_pattern, exceptions)
    _check_lengths(min_length, max_length)
    exc = exception_pattern(tuple(exceptions))
    custom = custom_separator_pattern(tuple(split_chars), split_pattern)
    longest = max_length if max_length is not None else float("inf")
    return _Rules(split_han, exc, custom, split_hyphens, min_length, longest)


def _sentence_spans(
    sentences: Sequence[Annotation], rules: _Rules, word_segmenter: WordSegmenter | None
) -> Iterator[tuple[Annotation, str, list[tuple[int, int]]]]:
    """Yield each non-empty sentence with its ``sentence`` key and its kept token spans."""
    filtered = rules.min_length > 0 or rules.longest != float("inf")
    for index, sentence in enumerate(sentences):
        text = sentence.result
        if not text:
            continue
        sid = str(sentence.metadata.get("sentence", index))
        spans = _spans(text, rules.split_han, rules.exc, rules.custom, rules.split_hyphens, word_segmenter)
        if filtered:
            spans = [(s, e) for s, e in spans if rules.min_length <= e - s <= rules.longest]
        yield sentence, sid, spans


__all__ = ["FlatTokens", "WordSegmenter", "token_spans", "tokenize", "tokenize_flat"]
