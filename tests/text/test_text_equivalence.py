"""The optimised tokenizer and sentence detector give exactly the output of the oracle.

``_reference_tokens`` and ``_reference_sentences`` hold the implementations from before
the fast paths were written. Every token and sentence annotation (offsets, result,
metadata) must be the same, on all the UD samples and on random text, for the default
params and combinations of the others.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import pytest
import regex
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.conftest import UD_LANGS
from tests.text import _reference_sentences as old_sentences
from tests.text import _reference_tokens as old_tokens

from sparkbert.annotation import Annotation, annotations_to_arrow
from sparkbert.stages.tokenizer import Tokenizer
from sparkbert.text import detect_sentences, sentence_spans, token_spans, tokenize
from sparkbert.text._abbreviations import BEFORE_NUMBER, NON_FINAL, OTHER
from sparkbert.text._token_rules import _FOLLOW
from sparkbert.text.sentences import _CLOSER_START, _TERMS
from sparkbert.text.tokens import tokenize_flat

Loader = Callable[[str], tuple[dict[str, Any], ...]]


def _pairs(run: str) -> Iterable[str] | None:
    """A toy word segmenter: Thai runs left alone, other runs cut into pairs of characters."""
    if regex.match(r"\p{Thai}", run):
        return None
    return [run[i : i + 2] for i in range(0, len(run), 2)]


TOKEN_PARAMS: list[dict[str, Any]] = [
    {},
    {"split_han": False},
    {"split_hyphens": True},
    {"exceptions": ("New York", "U.S", "e.g.", "東京", "l'homme", "-", "a b")},
    {"split_chars": ("-", "/", "@", "'", "é")},
    {"split_pattern": r"\d+|\.(?=\s)"},
    {"min_length": 2, "max_length": 6},
    {"word_segmenter": _pairs},
    {
        "split_han": False,
        "split_hyphens": True,
        "exceptions": ("New York", "3.14"),
        "split_chars": (",", "ー"),
        "split_pattern": "[Ss]tate",
        "min_length": 1,
        "max_length": 12,
        "word_segmenter": _pairs,
    },
]
SENTENCE_PARAMS: list[dict[str, Any]] = [
    {},
    {"max_length": 40},
    {"min_length": 25, "max_length": 90},
    {"custom_bounds": (";", ", ", "。")},
    {"custom_bounds": ("\n", "and"), "use_custom_bounds_only": True},
]


def _sentence(text: str, begin: int = 0, index: str = "0") -> Annotation:
    return Annotation("document", begin, begin + len(text) - 1, text, {"sentence": index})


def _token_spans_options(options: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in options.items() if k not in ("min_length", "max_length")}


def _check_tokens(sentences: list[Annotation], options: dict[str, Any]) -> None:
    old = old_tokens.tokenize(sentences, **options)
    new = tokenize(sentences, **options)
    assert new == old
    assert [t.metadata for t in new] == [t.metadata for t in old]
    first = old_tokens.tokenize(sentences[:1], **options)
    flat = tokenize_flat([sentences, [], sentences[:1]], **options)
    assert flat.offsets.tolist() == [0, len(old), len(old), len(old) + len(first)]
    assert [
        Annotation("token", b, e, r, {"sentence": k})
        for b, e, r, k in zip(flat.begins.tolist(), flat.ends.tolist(), flat.results, flat.sentences)
    ] == old + first
    for s in sentences:
        spans = _token_spans_options(options)
        assert token_spans(s.result, **spans) == old_tokens.token_spans(s.result, **spans)


@pytest.mark.parametrize("lang", UD_LANGS)
@pytest.mark.parametrize("options", TOKEN_PARAMS, ids=lambda o: ",".join(o) or "default")
def test_tokens_identical_on_ud(ud: Loader, lang: str, options: dict[str, Any]) -> None:
    rows = ud(lang)
    sentences = [_sentence(r["text"], 7 * i, str(i)) for i, r in enumerate(rows)]
    _check_tokens(sentences, options)


@pytest.mark.parametrize("lang", UD_LANGS)
def test_sentences_and_their_tokens_identical_on_ud_paragraphs(ud: Loader, lang: str) -> None:
    texts = [r["text"] for r in ud(lang)]
    joiner = "" if lang in ("ja", "zh") else " "
    docs = [joiner.join(texts[i : i + 10]) for i in range(0, len(texts), 10)]
    docs += ["\n\n".join(texts[i : i + 3]) for i in range(0, 30, 3)]
    for options in SENTENCE_PARAMS:
        for text in docs:
            doc = Annotation("document", 3, 3 + len(text) - 1, text, {"sentence": "0", "id": "x"})
            new = detect_sentences(doc, **options)
            assert new == old_sentences.detect_sentences(doc, **options)
            assert sentence_spans(text, **options) == old_sentences.sentence_spans(text, **options)
    doc_sentences = [s for text in docs for s in detect_sentences(_sentence(text))]
    _check_tokens(doc_sentences, {})


def test_tokenizer_stage_column_is_the_oracles_on_ud(ud: Loader) -> None:
    rows = [[_sentence(r["text"], 0, str(i)) for i, r in enumerate(ud(lang)[:50])] for lang in UD_LANGS]
    rows += [[], [_sentence("")]]
    stage = Tokenizer().setSplitChars(["/"]).setMinLength(1).setExceptions(["New York"])
    column = stage._annotator(None, None)([rows])
    options = {"split_chars": ("/",), "min_length": 1, "exceptions": ("New York",)}
    old = [old_tokens.tokenize(r, **options) for r in rows]
    assert column == old
    assert annotations_to_arrow(column).equals(annotations_to_arrow(old))


def test_no_terminator_starts_a_closer() -> None:
    # the sentence detector finds runs of terminators first, then their closers
    assert not [c for c in _TERMS if _CLOSER_START.match(c)]


def test_no_abbreviation_character_may_follow_a_plain_word() -> None:
    # the fast "plain" alternative relies on this (see _token_rules)
    follow = regex.compile(f"[{_FOLLOW},/]", regex.V1)
    assert not [c for w in NON_FINAL | OTHER | BEFORE_NUMBER for c in w if follow.match(c)]


_TRICKY = st.sampled_from(
    [
        " ", "  ", "\t", "\n", "\r\n", "\u00a0", "\u3000", "\u2028", "\u2029", "\u200b", "\u200c",
        "\u200d", "\u200e", "\u202e", "\u2066", "\ufeff", "\u061c", "\u00ad", "\ufe0f", "\u20e3",
        "\u0301", "\u0308", "\u093f", "\u094d", "\u0600", "\u0e33", "\u0eb3", "\uff9e", "\u1100",
        "\u1161", "\u11a8", "가", "각", "ℹ", "©", "‼", "〰", "〽", "゠", "・", "ー", "ｰ", "々", "〇",
        "👍", "🏽", "👨‍👩‍👧", "🇩🇪", "🇫", "1️⃣", "#", "*", "@", "_", "%", "+", "−", "-", "‐",
        "‑", "'", "’", "ʼ", "·", ".", "...", ",", ":", "/", ";", "!", "?", "(", ")", "[", "]",
        "{", "}", '"', "“", "”", "«", "»", "„", "¿", "¡", "…", "。", "！", "？", "、", "」", "「",
        "a", "Z", "é", "ß", "ñ", "ş", "İ", "я", "Ж", "ω", "ب", "ك", "ि", "क", "क्ष", "ก", "ไทย",
        "๑", "東", "京", "か", "カ", "ｶ", "0", "7", "٣", "३", "²", "½", "Ⅻ", "3.14", "1,000",
        "6:30", "2013-2014", "-5", "U.S.", "U.S", "e.g.", "z.B.", "Dr.", "Mr", "No.", "J.",
        "c.-à-d.", "г-н.", "डॉ.", "3.", "Mai", "l'", "qu’", "n't", "'s", "-il", "-t-il",
        "rendez-vous", "www.", "http://", "https://a.b/c(d)", "ftp://x", "a@b.org", "#tag",
        "@user", "New York", "New", "York", "state", "東京", "and",
    ]
)  # fmt: skip
_CHAR = st.one_of(st.characters(exclude_categories=("Cs",)), st.characters(max_codepoint=0x3FF))
# mostly the tricky pieces, often glued together with no space between them
_TEXT = st.lists(
    st.one_of(_TRICKY, _TRICKY.map(lambda t: t + " "), _TRICKY, _CHAR), min_size=10, max_size=60
).map("".join)


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=_TEXT, options=st.sampled_from(TOKEN_PARAMS), begin=st.integers(0, 50))
def test_tokens_identical_on_random_text(text: str, options: dict[str, Any], begin: int) -> None:
    _check_tokens([_sentence(text, begin, "4"), _sentence(text[::-1], begin)], options)


@settings(max_examples=300, deadline=None)
@given(text=_TEXT, options=st.sampled_from(SENTENCE_PARAMS))
def test_sentences_identical_on_random_text(text: str, options: dict[str, Any]) -> None:
    doc = Annotation("document", 5, 5 + len(text) - 1, text)
    assert detect_sentences(doc, **options) == old_sentences.detect_sentences(doc, **options)
