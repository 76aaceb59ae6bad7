"""The ``word_segmenter`` hook of :func:`tokenize` and the optional Thai/Japanese segmenters."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from typing import Any

import pytest

from sparkbert.annotation import Annotation
from sparkbert.errors import InvalidParamError, MissingDependencyError
from sparkbert.text import token_spans, tokenize
from sparkbert.text.segmenters import SEGMENTERS, load_word_segmenter


def words(text: str, segmenter: Callable[[str], Iterable[str] | None]) -> list[str]:
    return [text[s:e] for s, e in token_spans(text, word_segmenter=segmenter)]


def test_segmenter_gets_each_run_of_han_kana_and_thai() -> None:
    seen: list[str] = []

    def segment(run: str) -> list[str] | None:
        seen.append(run)
        return None

    assert words("東京に行く ok ภาษาไทย x 中文!", segment) == [
        "東",
        "京",
        "に",
        "行",
        "く",
        "ok",
        "ภาษาไทย",
        "x",
        "中",
        "文",
        "!",
    ]
    assert seen == ["東京に行く", "ภาษาไทย", "中文"]


def test_segmenter_pieces_become_tokens_with_exact_offsets() -> None:
    def halves(run: str) -> list[str]:
        k = len(run) // 2
        return [run[:k], run[k:]] if k else [run]

    text = "a ภาษาไทย 東京都"
    tokens = tokenize([Annotation("document", 5, 5 + len(text) - 1, text)], word_segmenter=halves)
    assert [t.result for t in tokens] == ["a", "ภาษ", "าไทย", "東", "京都"]
    assert all(text[t.begin - 5 : t.end - 4] == t.result for t in tokens)


def test_segmenter_never_splits_a_grapheme_cluster() -> None:
    # a tone mark split from its consonant is glued back
    assert words("ก่อน", lambda run: ["ก", "่อน"]) == ["ก่อน"]


@pytest.mark.parametrize("bad", [lambda run: ["x"], lambda run: [run, ""], lambda run: []])
def test_segmenter_must_return_pieces_of_its_input(bad: Callable[[str], list[str]]) -> None:
    with pytest.raises(InvalidParamError, match="word_segmenter"):
        words("ภาษาไทย", bad)


def test_unknown_segmenter_name() -> None:
    assert SEGMENTERS == ("none", "thai", "japanese")
    assert load_word_segmenter("none") is None
    with pytest.raises(InvalidParamError, match="'none', 'thai', 'japanese'"):
        load_word_segmenter("mecab")


@pytest.mark.parametrize(("name", "module"), [("thai", "pythainlp"), ("japanese", "janome")])
def test_missing_library_names_the_extra(name: str, module: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, module, None)
    monkeypatch.setitem(sys.modules, f"{module}.tokenize", None)
    monkeypatch.setitem(sys.modules, f"{module}.tokenizer", None)
    load_word_segmenter.cache_clear()
    try:
        with pytest.raises(MissingDependencyError, match=f"sparkbert\\[{name}\\]"):
            load_word_segmenter(name)
    finally:
        load_word_segmenter.cache_clear()


@pytest.mark.parametrize(
    ("name", "module", "lang", "floor"),
    [("thai", "pythainlp", "th", 0.6), ("japanese", "janome", "ja", 0.85)],
)
def test_segmenters_improve_ud_f1_when_installed(
    name: str, module: str, lang: str, floor: float, ud: Any, span_prf: Any
) -> None:
    pytest.importorskip(module)
    segmenter = load_word_segmenter(name)
    pred, gold = [], []
    for i, row in enumerate(ud(lang)):
        text = row["text"]
        pred.extend((i, s, e) for s, e in token_spans(text, word_segmenter=segmenter))
        gold.extend((i, s, e) for s, e in row["offsets"])
    f1 = span_prf(pred, gold)[2]
    print(f"\ntoken {lang} with {name} segmenter: F1={f1:.4f}")
    assert f1 >= floor
