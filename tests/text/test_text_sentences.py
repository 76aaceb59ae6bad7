"""Unit and property tests of :func:`sparkbert.text.detect_sentences`."""

from __future__ import annotations

import pytest
import regex
from hypothesis import given, settings
from hypothesis import strategies as st

from sparkbert.annotation import Annotation
from sparkbert.errors import InvalidParamError
from sparkbert.text import detect_sentences

VISIBLE = regex.compile(
    r"[^\p{White_Space}\p{Cc}\u061C\u180E\u200B\u200E\u200F\u202A-\u202E\u2060-\u2064\u2066-\u2069\uFEFF]",
    regex.V1,
)


def doc(text: str, begin: int = 0) -> Annotation:
    return Annotation("document", begin, begin + len(text) - 1, text)


def split(text: str, **options: object) -> list[str]:
    return [s.result for s in detect_sentences(doc(text), **options)]  # type: ignore[arg-type]


def assert_valid(text: str, sentences: list[Annotation], begin: int = 0) -> None:
    """Exact offsets, in order, trimmed, indexed, and no visible character outside a sentence."""
    covered: set[int] = set()
    last = begin - 1
    for i, s in enumerate(sentences):
        assert s.annotator_type == "document"
        assert s.metadata == {"sentence": str(i)}
        assert begin <= s.begin <= s.end < begin + len(text) and s.begin > last
        last = s.end
        assert text[s.begin - begin : s.end - begin + 1] == s.result
        assert VISIBLE.match(s.result[0]) and VISIBLE.match(s.result[-1])
        covered.update(range(s.begin - begin, s.end - begin + 1))
    assert all(i in covered for i, ch in enumerate(text) if VISIBLE.match(ch))


def test_offsets_are_absolute_and_metadata_indexed() -> None:
    text = "  Hello there.  How are you?  "
    sentences = detect_sentences(doc(text, begin=50))
    assert [(s.begin, s.end, s.result, s.metadata) for s in sentences] == [
        (52, 63, "Hello there.", {"sentence": "0"}),
        (66, 77, "How are you?", {"sentence": "1"}),
    ]
    assert_valid(text, sentences, begin=50)


@pytest.mark.parametrize("text", ["", "   ", "\n\t\u00a0\u3000\u200b"])
def test_blank_document_has_no_sentence(text: str) -> None:
    assert detect_sentences(doc(text)) == []


@pytest.mark.parametrize(
    "text, expected",
    [
        ("One. Two! Three? Four… Five", ["One.", "Two!", "Three?", "Four…", "Five"]),
        ("What?! Really... Yes.", ["What?!", "Really...", "Yes."]),
        ("我来了。你呢？好！ＯＫ", ["我来了。", "你呢？", "好！", "ＯＫ"]),
        ("東京に行った。「楽しい。」と言った。", ["東京に行った。", "「楽しい。」と言った。"]),
        ("यह है। वह है॥ ठीक", ["यह है।", "वह है॥", "ठीक"]),
        ("هل أنت بخير؟ نعم. شكرا۔ حسنا", ["هل أنت بخير؟", "نعم.", "شكرا۔", "حسنا"]),
        ("Բարեւ։ Ինչպես ես։", ["Բարեւ։", "Ինչպես ես։"]),
        ("ሰላም። እንዴት ነህ።", ["ሰላም።", "እንዴት ነህ።"]),
        ("¿Qué? ¡Nada! Bueno.", ["¿Qué?", "¡Nada!", "Bueno."]),
        ('He said "Hi." Then he left.', ['He said "Hi."', "Then he left."]),
        ("“Stop!” he said. (Really.) Fine.", ["“Stop!” he said.", "(Really.)", "Fine."]),
        ("„Ja.“ Dann nein.", ["„Ja.“", "Dann nein."]),
        ("« Oui. » Puis non.", ["« Oui. »", "Puis non."]),
    ],
)
def test_terminal_punctuation_in_many_scripts(text: str, expected: list[str]) -> None:
    assert split(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Mr. Smith and Dr. Jones met Prof. Lee.",
        "Wir treffen z.B. Herrn Dr. Müller bzw. Frau Prof. Weber.",
        "Es war am 3. Mai und im 21. Jahrhundert.",
        "J. R. R. Tolkien wrote it.",
        "Pi is 3.14 and e is 2.718.",
        "Visit www.example.com/a.b or https://x.org/?a=1. now.",
        "Mail john.doe@example.co.uk today.",
        "The U.S. Army and the U.K. Navy met.",
        "See No. 5 on Jan. 3 for details.",
        "It costs 5 Mrd. Euro laut Art. 3 GG.",
        "Yahoo! is a company.",
        "Er sagte, i.e. so, e.g. this.",
    ],
)
def test_no_split_inside(text: str) -> None:
    assert split(text) == [text]


def test_abbreviation_that_can_end_a_sentence() -> None:
    assert split("Apples, pears etc. They are fruit.") == ["Apples, pears etc.", "They are fruit."]
    assert split("Bought apples etc. for the party.") == ["Bought apples etc. for the party."]


def test_blank_lines_always_split() -> None:
    text = "Para one\n\npara two without stop\r\n \t\r\nthird\u2029fourth\nsame"
    assert split(text) == ["Para one", "para two without stop", "third", "fourth\nsame"]


def test_custom_bounds() -> None:
    text = "first part || second part. Third part"
    assert split(text, custom_bounds=["||"]) == ["first part ||", "second part.", "Third part"]
    assert split(text, custom_bounds=["||"], use_custom_bounds_only=True) == [
        "first part ||",
        "second part. Third part",
    ]
    assert split("A. B.\n\nC.", use_custom_bounds_only=True) == ["A. B.\n\nC."]


def test_max_length_splits_at_white_space_and_keeps_everything() -> None:
    text = "aaaa bbbb cccc dddd."
    assert split(text, max_length=9) == ["aaaa bbbb", "cccc", "dddd."]
    assert split(text, max_length=10) == ["aaaa bbbb", "cccc dddd."]
    assert split("abcdefghij", max_length=3) == ["abc", "def", "ghi", "j"]


def test_max_length_hard_split_never_breaks_a_grapheme() -> None:
    text = "e\u0301e\u0301e\u0301👨‍👩‍👧x"
    pieces = split(text, max_length=3)
    assert "".join(pieces) == text
    assert pieces == ["e\u0301", "e\u0301", "e\u0301", "👨‍👩‍👧", "x"]


def test_min_length_merges_instead_of_dropping() -> None:
    text = "Hi. This is long enough. Ok. Another long one."
    assert split(text, min_length=5) == ["Hi. This is long enough. Ok.", "Another long one."]
    # merging must not exceed max_length: "Hi." + next would be 24 characters
    assert split(text, min_length=5, max_length=20) == [
        "Hi.",
        "This is long enough.",
        "Ok.",
        "Another long one.",
    ]
    assert split("Hello there. Ok.", min_length=5, max_length=12) == ["Hello there.", "Ok."]
    assert split("Hi. Yes. Go", min_length=4) == ["Hi. Yes. Go"]


@pytest.mark.parametrize(
    "options",
    [{"max_length": 0}, {"min_length": -1}, {"custom_bounds": [""]}, {"custom_bounds": "ab"}],
)
def test_invalid_params(options: dict[str, object]) -> None:
    with pytest.raises(InvalidParamError) as err:
        detect_sentences(doc("x"), **options)  # type: ignore[arg-type]
    assert next(iter(options)) in str(err.value)


_TRICKY = st.sampled_from(
    [*' \n\n\r\t\u00a0\u3000\u2029\u200b.!?…。।؟"”»)', "Dr.", "3.", "U.S.", "e\u0301", "👨‍👩‍👧", "a", "B"]
)
_TEXT = st.lists(st.one_of(st.characters(exclude_categories=("Cs",)), _TRICKY), max_size=60).map("".join)


@settings(max_examples=300, deadline=None)
@given(
    text=_TEXT,
    begin=st.integers(0, 100),
    max_length=st.one_of(st.none(), st.integers(1, 20)),
    min_length=st.integers(0, 10),
    bounds=st.lists(st.sampled_from(["|", "\n", "ab", "。"]), max_size=2),
    only=st.booleans(),
)
def test_random_text_nothing_lost(
    text: str, begin: int, max_length: int | None, min_length: int, bounds: list[str], only: bool
) -> None:
    sentences = detect_sentences(
        doc(text, begin),
        max_length=max_length,
        min_length=min_length,
        custom_bounds=bounds,
        use_custom_bounds_only=only,
    )
    assert_valid(text, sentences, begin)
    if max_length is not None:
        # only a single grapheme cluster longer than the limit may exceed it
        assert all(len(s.result) <= max_length or len(regex.findall(r"\X", s.result)) == 1 for s in sentences)
