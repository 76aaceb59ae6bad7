"""Unit and property tests of :func:`sparkbert.text.tokenize`."""

from __future__ import annotations

import pytest
import regex
from hypothesis import given, settings
from hypothesis import strategies as st

from sparkbert.annotation import Annotation
from sparkbert.errors import InvalidParamError
from sparkbert.text import detect_sentences, token_spans, tokenize

# Characters that are never part of a token: white space, controls, zero-width and bidi marks.
IGNORABLE = regex.compile(
    r"[\p{White_Space}\p{Cc}\u061C\u180E\u200B-\u200F\u202A-\u202E\u2060-\u2064\u2066-\u2069\uFEFF]",
    regex.V1,
)


def words(text: str, **options: object) -> list[str]:
    return [text[s:e] for s, e in token_spans(text, **options)]  # type: ignore[arg-type]


def sentence(text: str, begin: int = 0, index: str = "0") -> Annotation:
    return Annotation("document", begin, begin + len(text) - 1, text, {"sentence": index})


def assert_valid(text: str, tokens: list[Annotation], begin: int = 0) -> None:
    """Offsets exact, in order, non-overlapping, and no visible character lost."""
    covered = set()
    last = begin - 1
    for t in tokens:
        assert t.annotator_type == "token"
        assert begin <= t.begin <= t.end < begin + len(text)
        assert t.begin > last
        last = t.end
        assert text[t.begin - begin : t.end - begin + 1] == t.result
        covered.update(range(t.begin - begin, t.end - begin + 1))
    for i, ch in enumerate(text):
        if not IGNORABLE.match(ch) and ch not in "\u200c\u200d":
            assert i in covered, (text, i, ch)


# --- output shape --------------------------------------------------------------------------


def test_tokens_have_absolute_offsets_and_sentence_metadata() -> None:
    text = "Ignore this. Hello, world!"
    doc = Annotation("document", 100, 100 + len(text) - 1, text)
    sentences = detect_sentences(doc)
    tokens = tokenize(sentences)
    assert [(t.result, t.metadata) for t in tokens][-4:] == [
        ("Hello", {"sentence": "1"}),
        (",", {"sentence": "1"}),
        ("world", {"sentence": "1"}),
        ("!", {"sentence": "1"}),
    ]
    assert_valid(text, tokens, begin=100)
    assert tokens[-1].begin == 100 + len(text) - 1


def test_sentence_without_metadata_uses_its_index() -> None:
    tokens = tokenize([Annotation("document", 0, 1, "Hi"), Annotation("document", 3, 5, "you")])
    assert [t.metadata["sentence"] for t in tokens] == ["0", "1"]


def test_empty_and_blank_sentences() -> None:
    assert tokenize([]) == []
    assert tokenize([Annotation("document", 0, -1, "")]) == []
    assert tokenize([sentence(" \t\u00a0\u3000\u200b ")]) == []


# --- what stays whole ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Pi is 3.14, not 1,000 or -5.", ["Pi", "is", "3.14", ",", "not", "1,000", "or", "-5", "."]),
        ("At 6:30 on 12/05/2020 in 2013-2014", ["At", "6:30", "on", "12/05/2020", "in", "2013-2014"]),
        ("Up 10% to $5", ["Up", "10", "%", "to", "$", "5"]),
        ("the U.S. and e.g. z.B. usw.", ["the", "U.S.", "and", "e.g.", "z.B.", "usw."]),
        ("Mr. Smith met Dr. Who", ["Mr.", "Smith", "met", "Dr.", "Who"]),
        ("J. R. R. Tolkien", ["J.", "R.", "R.", "Tolkien"]),
        ("am 3. Mai", ["am", "3.", "Mai"]),
        ("See No. 5 and etc.", ["See", "No.", "5", "and", "etc."]),
        ("He said no.", ["He", "said", "no", "."]),
        (
            "Go to https://x.org/a_(b)?q=1. Or www.y.com!",
            ["Go", "to", "https://x.org/a_(b)?q=1", ".", "Or", "www.y.com", "!"],
        ),
        ("Mail john.doe+x@mail.co.uk.", ["Mail", "john.doe+x@mail.co.uk", "."]),
        ("#100DaysOfCode with @user_1!", ["#100DaysOfCode", "with", "@user_1", "!"]),
        ("well-known États-Unis какое-либо", ["well-known", "États-Unis", "какое-либо"]),
        ("Çin'in Aujourd'hui", ["Çin'in", "Aujourd'hui"]),
        ("Wait... what?!", ["Wait", "...", "what", "?", "!"]),
    ],
)
def test_kept_whole(text: str, expected: list[str]) -> None:
    assert words(text) == expected


# --- what is split ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ("l'homme d'Obama qu'il", ["l'", "homme", "d'", "Obama", "qu'", "il"]),
        ("l’homme jusqu’à L’État", ["l’", "homme", "jusqu’", "à", "L’", "État"]),
        ("dit-il a-t-il est-ce", ["dit", "-il", "a", "-t-il", "est", "-ce"]),
        ("dell'anno un'altra", ["dell'", "anno", "un'", "altra"]),
        ("don't can't John's I'm we've", ["do", "n't", "ca", "n't", "John", "'s", "I", "'m", "we", "'ve"]),
        ("isn’t it’s", ["is", "n’t", "it", "’s"]),
        ("«Hola», dijo (sí).", ["«", "Hola", "»", ",", "dijo", "(", "sí", ")", "."]),
        ("“Quote”", ["“", "Quote", "”"]),
    ],
)
def test_split(text: str, expected: list[str]) -> None:
    assert words(text) == expected


def test_split_hyphens_option() -> None:
    assert words("well-known 2013-2014 dit-il", split_hyphens=True) == [
        "well", "-", "known", "2013-2014", "dit", "-il",
    ]  # fmt: skip


def test_han_each_character_or_runs_and_kana_runs() -> None:
    assert words("東京都に行きました。") == ["東", "京", "都", "に", "行", "きました", "。"]
    assert words("東京都に行きました。", split_han=False) == ["東京都", "に", "行", "きました", "。"]
    assert words("我爱北京") == ["我", "爱", "北", "京"]
    assert words("カタカナーとひらがな") == ["カタカナーとひらがな"]


def test_thai_runs_stay_whole() -> None:
    assert words("ภาษาไทยง่าย ok") == ["ภาษาไทยง่าย", "ok"]


def test_korean_and_devanagari_words() -> None:
    assert words("그는 “부담”라고 말했다.") == ["그는", "“", "부담", "”", "라고", "말했다", "."]
    assert words("किस्मत आपके कंधों पर टिकी है।") == ["किस्मत", "आपके", "कंधों", "पर", "टिकी", "है", "।"]


# --- hard text: offsets stay exact -----------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Family 👨‍👩‍👧‍👦 ok", ["Family", "👨‍👩‍👧‍👦", "ok"]),
        ("👍🏽👍", ["👍🏽", "👍"]),
        ("🇩🇪🇫🇷", ["🇩🇪", "🇫🇷"]),
        ("1️⃣ #️⃣ *️⃣", ["1️⃣", "#️⃣", "*️⃣"]),
        ("❤️ ☺︎", ["❤️", "☺︎"]),
        ("Z̤̈ͅa̐ e\u0301", ["Z̤̈ͅa̐", "e\u0301"]),
        ("a\r\nb\tc\u00a0d\u3000e\u2028f\u2029g", ["a", "b", "c", "d", "e", "f", "g"]),
        ("\u200fabc\u200e def\u202a\u202cghi\u2066\u2069 \ufeffj", ["abc", "def", "ghi", "j"]),
        ("a\u200bb", ["a", "b"]),
        ("𝒜𝒷 𠀀𠀁 x", ["𝒜𝒷", "𠀀", "𠀁", "x"]),
        ("   lead and trail   ", ["lead", "and", "trail"]),
        ("x!\u0301 y", ["x", "!\u0301", "y"]),
        ("می\u200cخواهم ok\u200d", ["می\u200cخواهم", "ok"]),
    ],
)
def test_hard_text(text: str, expected: list[str]) -> None:
    assert words(text) == expected
    assert_valid(text, tokenize([sentence(text)]))


def test_offsets_with_astral_characters_before() -> None:
    text = "𝒜𝒷 👨‍👩‍👧‍👦\r\n\t𠀀 end"
    tokens = tokenize([sentence(text, begin=7)])
    assert tokens[-1].result == "end" and tokens[-1].begin == 7 + text.index("end")
    assert_valid(text, tokens, begin=7)


# --- params --------------------------------------------------------------------------------


def test_exceptions_kept_whole_case_sensitive_and_as_words() -> None:
    text = "I love New York and new york, e-mail and e-mails."
    assert words(text, exceptions=["New York", "e-mail"], split_hyphens=True) == [
        "I", "love", "New York", "and", "new", "york", ",", "e-mail", "and", "e", "-", "mails", ".",
    ]  # fmt: skip


def test_split_chars_and_split_pattern_are_separators() -> None:
    assert words("a_b|c d", split_chars=["|", "_"]) == ["a", "b", "c", "d"]
    assert words("foo::bar baz", split_pattern=r"::") == ["foo", "bar", "baz"]
    assert words("New York", exceptions=["New York"], split_chars=[" "]) == ["New York"]


def test_min_and_max_length_filter_tokens() -> None:
    tokens = tokenize([sentence("a bb ccc dddd")], min_length=2, max_length=3)
    assert [t.result for t in tokens] == ["bb", "ccc"]


@pytest.mark.parametrize(
    "options",
    [
        {"min_length": -1},
        {"max_length": 0},
        {"min_length": 3, "max_length": 2},
        {"split_pattern": "("},
        {"split_chars": [""]},
        {"split_chars": "ab"},
        {"exceptions": [""]},
    ],
)
def test_invalid_params(options: dict[str, object]) -> None:
    with pytest.raises(InvalidParamError) as err:
        tokenize([sentence("x")], **options)  # type: ignore[arg-type]
    assert next(iter(options)) in str(err.value)


# --- properties ----------------------------------------------------------------------------

_TRICKY = st.sampled_from(
    [
        *"  \t\r\n\u00a0\u3000\u2028\u200b\u200c\u200d\u200e\u202e\u2066\ufeff.,'’-@#:/%$",
        "👍🏽",
        "🇩🇪",
        "1️⃣",
        "👨‍👩‍👧",
        "\u0301",
        "\u0308",
        "東",
        "か",
        "ไทย",
        "é",
        "3.14",
        "U.S.",
        "l'",
        "n't",
        "http://a.b/c",
    ]
)
_TEXT = st.lists(st.one_of(st.characters(exclude_categories=("Cs",)), _TRICKY), max_size=40).map("".join)


@settings(max_examples=300, deadline=None)
@given(text=_TEXT, begin=st.integers(0, 1000), split_han=st.booleans(), split_hyphens=st.booleans())
def test_random_text_offsets_valid_and_nothing_lost(
    text: str, begin: int, split_han: bool, split_hyphens: bool
) -> None:
    tokens = tokenize([sentence(text, begin)], split_han=split_han, split_hyphens=split_hyphens)
    assert_valid(text, tokens, begin)


@settings(max_examples=100, deadline=None)
@given(text=_TEXT)
def test_random_text_through_sentences_then_tokens(text: str) -> None:
    sentences = detect_sentences(Annotation("document", 0, len(text) - 1, text))
    assert_valid(text, tokenize(sentences))


@pytest.mark.parametrize("unit", ["-.", "a@", "a-b.c_d%e+", "A. ", "e\u0301"])
def test_long_pathological_text_stays_linear(unit: str) -> None:
    import itertools
    import time

    from sparkbert.text import sentence_spans

    text = unit * (40_000 // len(unit))
    started = time.perf_counter()
    spans = token_spans(text)
    sentence_spans(text, max_length=100)
    assert time.perf_counter() - started < 5.0  # quadratic scans took 5-10 s here
    assert all(a < b <= c for (a, b), (c, _) in itertools.pairwise(spans))
