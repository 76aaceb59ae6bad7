"""Segmentation quality against Universal Dependencies gold (12 languages, 400 sentences each).

Run with ``-s`` to see the per-language tables.

Tokens: F1 over ``(start, end)`` spans of the gold *surface* tokens. A UD multi-word
token (French "du", English "It's" in PUD) is one surface token, so an English clitic
split with an ASCII apostrophe counts as an error even though UD splits it into words.

Sentences: runs of 5 consecutive gold sentences are joined with one space into one
document; precision/recall/F1 of the 4 inner boundaries per run (320 per language).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import pytest

from sparkbert.annotation import Annotation
from sparkbert.text import detect_sentences, tokenize

LANGS = ("ar", "de", "en", "es", "fr", "hi", "ja", "ko", "ru", "th", "tr", "zh")

# Honest floors, a little under the measured values (see the module docstring of each
# function for what is measured). Languages absent here are reported, not asserted.
TOKEN_F1_FLOOR = {"de": 0.98, "en": 0.97, "es": 0.99, "fr": 0.99, "hi": 0.985, "ru": 0.99, "tr": 0.99}
SENTENCE_F1_FLOOR = {
    lang: 0.97 for lang in ("ar", "de", "en", "es", "fr", "hi", "ja", "ko", "ru", "tr", "zh")
}

Loader = Callable[[str], tuple[dict[str, Any], ...]]
PRF = Callable[[Iterable[object], Iterable[object]], tuple[float, float, float]]


def _token_scores(rows: tuple[dict[str, Any], ...], prf: PRF, **options: Any) -> tuple[float, float, float]:
    pred: list[tuple[int, int, int]] = []
    gold: list[tuple[int, int, int]] = []
    for i, row in enumerate(rows):
        text = row["text"]
        sentence = Annotation("document", 0, len(text) - 1, text, {"sentence": "0"})
        tokens = tokenize([sentence], **options)
        last_end = -1
        for t in tokens:
            assert text[t.begin : t.end + 1] == t.result, (row["id"], t)
            assert t.begin > last_end and t.begin <= t.end, (row["id"], t)
            last_end = t.end
        pred.extend((i, t.begin, t.end + 1) for t in tokens)
        gold.extend((i, s, e) for s, e in row["offsets"])
    return prf(pred, gold)


def _sentence_scores(rows: tuple[dict[str, Any], ...], prf: PRF) -> tuple[float, float, float]:
    pred: list[tuple[int, int]] = []
    gold: list[tuple[int, int]] = []
    for k in range(0, len(rows), 5):
        texts = [r["text"] for r in rows[k : k + 5]]
        doc = " ".join(texts)
        pos = 0
        for t in texts[:-1]:
            pos += len(t) + 1
            gold.append((k, pos))
        sentences = detect_sentences(Annotation("document", 0, len(doc) - 1, doc))
        for s in sentences:
            assert doc[s.begin : s.end + 1] == s.result
        pred.extend((k, s.begin) for s in sentences[1:])
    return prf(pred, gold)


@pytest.mark.parametrize("lang", LANGS)
def test_token_offsets_exact_and_f1(lang: str, ud: Loader, span_prf: PRF) -> None:
    precision, recall, f1 = _token_scores(ud(lang), span_prf)
    print(f"\ntoken {lang}: P={precision:.4f} R={recall:.4f} F1={f1:.4f}")
    if lang in TOKEN_F1_FLOOR:
        assert f1 >= TOKEN_F1_FLOOR[lang] >= 0.95


@pytest.mark.parametrize("lang", ["de", "en", "hi"])
def test_split_hyphens_matches_treebanks_that_split_compounds(lang: str, ud: Loader, span_prf: PRF) -> None:
    whole = _token_scores(ud(lang), span_prf)[2]
    split = _token_scores(ud(lang), span_prf, split_hyphens=True)[2]
    print(f"\ntoken {lang} split_hyphens: F1={split:.4f} (default {whole:.4f})")
    assert split > whole


@pytest.mark.parametrize("lang", LANGS)
def test_sentence_boundaries(lang: str, ud: Loader, span_prf: PRF) -> None:
    precision, recall, f1 = _sentence_scores(ud(lang), span_prf)
    print(f"\nsentence {lang}: P={precision:.4f} R={recall:.4f} F1={f1:.4f}")
    if lang in SENTENCE_F1_FLOOR:
        assert f1 >= SENTENCE_F1_FLOOR[lang]
