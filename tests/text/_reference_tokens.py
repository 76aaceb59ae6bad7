"""The pre-optimisation tokenizer, kept verbatim as the test oracle.

This is ``sparkbert.text.tokens`` (with ``split_word``, the master pattern and the
grapheme check of ``_token_rules`` and ``_unicode``) as it was before the fast path
was written. The equivalence tests compare the optimised ``tokenize`` and
``token_spans`` against it; nothing in ``src`` imports it. Do not edit it to follow
a behaviour change: a deliberate change of the rules must be made here too, in a
separate commit, so the oracle stays an independent check.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence

import regex

from sparkbert.annotation import TOKEN, Annotation
from sparkbert.errors import InvalidParamError
from sparkbert.text._abbreviations import BEFORE_NUMBER, NON_FINAL, OTHER
from sparkbert.text._unicode import HAN, INVISIBLE, JOINERS, KANA, SEPARATOR, THAI, WORD_CHAR

_GRAPHEME = regex.compile(r"\X", regex.V1)


def is_grapheme_boundary(text: str, start: int, pos: int) -> bool:
    """Return whether ``pos`` is a grapheme cluster boundary, counting from ``start``."""
    while start < pos:
        m = _GRAPHEME.match(text, start)
        if m is None:  # pragma: no cover - \X matches any character
            return True
        start = m.end()
    return start == pos


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
    """Return the pattern whose named alternatives tile a text: one match per token or gap."""
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
    """Return a pattern matching the exceptions as whole words, longest first."""
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
    """Return a pattern matching the extra separators: ``split_pattern``, then ``split_chars``."""
    alts = [regex.escape(c) for c in sorted(set(split_chars), key=lambda w: (-len(w), w))]
    if split_pattern:
        alts.insert(0, f"(?:{split_pattern})")
    return regex.compile("|".join(alts), regex.V1) if alts else None


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
