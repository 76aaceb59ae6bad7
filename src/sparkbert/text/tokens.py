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

from collections.abc import Callable, Iterable, Sequence

import regex

from sparkbert.annotation import TOKEN, Annotation
from sparkbert.errors import InvalidParamError
from sparkbert.text._token_rules import (
    TRIM,
    custom_separator_pattern,
    exception_pattern,
    master_pattern,
    split_word,
)
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
    split_chars: Sequence[str],
    split_pattern: str | None,
    exceptions: Sequence[str],
    split_hyphens: bool,
    word_segmenter: WordSegmenter | None,
) -> list[tuple[int, int]]:
    exc = exception_pattern(tuple(exceptions))
    kept = [m.span() for m in exc.finditer(text)] if exc else []
    custom = custom_separator_pattern(tuple(split_chars), split_pattern)
    master = master_pattern(split_han)
    spans: list[tuple[int, int]] = list(kept)
    for seg_start, seg_end in _complement(kept, 0, len(text)):
        pieces = [(seg_start, seg_end)]
        if custom is not None:
            cuts = [m.span() for m in custom.finditer(text, seg_start, seg_end) if m.end() > m.start()]
            pieces = _complement(cuts, seg_start, seg_end)
        for p_start, p_end in pieces:
            raw: list[tuple[int, int, str]] = []
            for m in master.finditer(text, p_start, p_end):
                kind = m.lastgroup or "other"
                if kind == "sep":
                    continue
                if raw and raw[-1][1] == m.start() and not is_grapheme_boundary(text, raw[-1][0], m.start()):
                    raw[-1] = (raw[-1][0], m.end(), raw[-1][2])  # never split a grapheme cluster
                elif kind == "word":
                    raw.extend((a, b, kind) for a, b in split_word(text, m.start(), m.end(), split_hyphens))
                else:
                    raw.append((m.start(), m.end(), kind))
            if word_segmenter is not None:
                raw = _segment(text, raw, word_segmenter)
            for s, e, _ in raw:
                while s < e and text[s] in TRIM:
                    s += 1
                while e > s and text[e - 1] in TRIM:
                    e -= 1
                if s < e:
                    spans.append((s, e))
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
    return _spans(text, split_han, split_chars, split_pattern, exceptions, split_hyphens, word_segmenter)


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
    _check_split(split_chars, split_pattern, exceptions)
    _check_lengths(min_length, max_length)
    longest = max_length if max_length is not None else float("inf")
    out: list[Annotation] = []
    for index, sentence in enumerate(sentences):
        text = sentence.result
        if not text:
            continue
        meta = {"sentence": str(sentence.metadata.get("sentence", index))}
        spans = _spans(text, split_han, split_chars, split_pattern, exceptions, split_hyphens, word_segmenter)
        for s, e in spans:
            if min_length <= e - s <= longest:
                out.append(
                    Annotation(TOKEN, sentence.begin + s, sentence.begin + e - 1, text[s:e], dict(meta))
                )
    return out


__all__ = ["WordSegmenter", "token_spans", "tokenize"]
