"""The columnar host path gives exactly what the per-token path gave (``_reference_embedder``).

Old and new run on the same inputs: the 12 UD languages as sentences and as paragraphs,
windows forced by a small ``maxSentenceLength``, every pooling, combined layers, null,
empty and blank rows, tokens outside every sentence, tokens without sentence metadata,
sentences sharing a key. Annotations (types, spans, results, metadata keys in order and
values) and vectors must be equal bit for bit, as objects and as Arrow columns.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from tests.conftest import UD_LANGS, load_ud
from tests.runtime import _reference_embedder as reference

from sparkbert.annotation import DOCUMENT, TOKEN, Annotation, annotation_arrow_type, annotations_to_arrow
from sparkbert.annotation_column import AnnotationColumn, ArrowAnnotations
from sparkbert.runtime.assemble import (
    continuation_mask,
    continuation_table,
    flatten_sentences,
    flatten_tokens,
)
from sparkbert.runtime.embedder import Embedder, EmbedderConfig, load_resources
from sparkbert.runtime.layer_graph import output_names
from sparkbert.runtime.tokenization import encode, encode_flat, load_tokenizer
from sparkbert.stages.steps import decode_column
from sparkbert.text import detect_sentences, tokenize
from sparkbert.text.document import assemble_document

Rows = list[list[Annotation] | None]


def _annotate(texts: list[str | None]) -> tuple[Rows, Rows]:
    """What DocumentAssembler, SentenceDetector and Tokenizer make of ``texts`` (None stays None)."""
    sentences: Rows = []
    tokens: Rows = []
    for text in texts:
        if text is None:
            sentences.append(None)
            tokens.append(None)
            continue
        found = [s for d in assemble_document(text) for s in detect_sentences(d)]
        sentences.append(found)
        tokens.append(tokenize(found))
    return sentences, tokens


def _ud_texts(per_lang: int, join: int) -> list[str | None]:
    """``per_lang`` UD sentences of each language, joined ``join`` at a time into paragraphs."""
    out: list[str | None] = []
    for lang in UD_LANGS:
        texts = [str(r["text"]) for r in load_ud(lang)[:per_lang]]
        glue = "" if lang in ("ja", "zh") else " "
        out += [glue.join(texts[i : i + join]) for i in range(0, len(texts), join)]
    return out


@pytest.fixture(scope="module")
def ud_short() -> tuple[Rows, Rows]:
    return _annotate([None, "", "   ", *_ud_texts(40, 1), "\u00a0", None])


@pytest.fixture(scope="module")
def ud_long() -> tuple[Rows, Rows]:
    return _annotate([*_ud_texts(30, 10), None, " "])


def _odd_rows() -> tuple[Rows, Rows]:
    """Rows whose tokens do not simply follow their sentences' keys."""
    text = "Erste Zeile hier. Second line there! Третья строка."
    sentences, tokens = _annotate([text])
    sents, toks = list(sentences[0] or []), list(tokens[0] or [])
    stray = [
        Annotation(TOKEN, 200, 204, "stray", {"sentence": "0"}),  # key fits, offsets do not
        Annotation(TOKEN, 300, 301, "no", {"sentence": "9"}),  # no such sentence
        Annotation(TOKEN, 0, 4, "Erste", {}),  # no key: found by offsets
        Annotation(TOKEN, 18, 23, "Second", {"sentence": "0"}),  # wrong key: found by offsets
        Annotation(TOKEN, 5, 4, "", {"sentence": "0"}),  # empty span
        Annotation(TOKEN, 16, 16, ".", {"sentence": "1"}),  # key's sentence does not hold it
    ]
    dup = [Annotation(DOCUMENT, s.begin, s.end, s.result, {"sentence": "0"}) for s in sents]
    no_keys = [Annotation(DOCUMENT, s.begin, s.end, s.result, {}) for s in sents]
    bare_tokens = [Annotation(TOKEN, t.begin, t.end, t.result, {}) for t in toks]
    return (
        [sents, dup, no_keys, [], sents, None],
        [toks + stray, toks, bare_tokens, stray, [], toks],
    )


def _config(model_dir: Path, **settings: object) -> EmbedderConfig:
    return EmbedderConfig.for_model(str(model_dir), **settings)  # type: ignore[arg-type]


def _assert_same(config: EmbedderConfig, sentences: Rows, tokens: Rows) -> None:
    new = Embedder(config).embed(sentences, tokens)
    old = reference.Embedder(config).embed(sentences, tokens)  # type: ignore[arg-type]
    assert isinstance(new, AnnotationColumn) and len(new) == len(old) == len(tokens)
    new_arrow, old_arrow = annotations_to_arrow(new), reference.annotations_to_arrow(old)
    assert new_arrow.type == old_arrow.type
    assert new_arrow.equals(old_arrow)
    for got, want in zip(new, old):
        assert got == want
        assert [list(a.metadata) for a in got] == [list(a.metadata) for a in want]  # key order
        for a, b in zip(got, want):
            assert np.asarray(a.embeddings).dtype == np.float32
            assert np.asarray(a.embeddings).tobytes() == np.asarray(b.embeddings).tobytes()


@pytest.mark.parametrize("pooling", ["first", "mean", "last"])
def test_ud_sentences_match_the_reference(
    tiny_model_dir: Path, ud_short: tuple[Rows, Rows], pooling: str
) -> None:
    _assert_same(_config(tiny_model_dir, pooling=pooling, batch_size=16), *ud_short)


@pytest.mark.parametrize("pooling", ["first", "mean", "last"])
@pytest.mark.parametrize("max_length", [16, 128])
def test_ud_paragraphs_and_windows_match_the_reference(
    tiny_model_dir: Path, ud_long: tuple[Rows, Rows], pooling: str, max_length: int
) -> None:
    config = _config(tiny_model_dir, pooling=pooling, max_sentence_length=max_length, batch_size=8)
    _assert_same(config, *ud_long)


@pytest.mark.parametrize("pooling", ["first", "mean", "last"])
@pytest.mark.parametrize("max_length", [4, 16])
def test_stray_tokens_and_odd_keys_match_the_reference(
    tiny_model_dir: Path, pooling: str, max_length: int
) -> None:
    config = _config(tiny_model_dir, pooling=pooling, max_sentence_length=max_length, batch_size=3)
    _assert_same(config, *_odd_rows())


def test_combined_layers_match_the_reference(tiny_model_dir: Path, ud_long: tuple[Rows, Rows]) -> None:
    base = _config(tiny_model_dir, pooling="mean", max_sentence_length=16)
    sentences, tokens = ud_long
    for layers, pooling, width in (
        ([1, 2], "mean", base.hidden_size),
        ([0, 2], "concat", 2 * base.hidden_size),
    ):
        config = dataclasses.replace(
            base, layer_outputs=tuple(output_names(layers, 2)), layer_pooling=pooling, hidden_size=width
        )
        _assert_same(config, sentences[:20], tokens[:20])


def test_rows_without_tokens_load_nothing_and_keep_their_place() -> None:
    config = EmbedderConfig(model_path="/nonexistent", hidden_size=8)
    out = Embedder(config).embed([None, [], None], [None, [], []])
    assert list(out) == [[], [], []]
    assert annotations_to_arrow(out).equals(reference.annotations_to_arrow([[], [], []]))


def test_encode_flat_equals_encode(tiny_model_dir: Path) -> None:
    tokenizer = load_tokenizer(tiny_model_dir / "tokenizer.json")
    texts = [t or "" for t in _ud_texts(40, 1)] + ["", "a \ud800 b", "[CLS] x [MASK]", " \t "]
    flat = encode_flat(tokenizer, texts)
    for i, enc in enumerate(encode(tokenizer, texts)):
        lo, hi = flat.offsets[i], flat.offsets[i + 1]
        assert flat.ids[lo:hi].tolist() == enc.ids.tolist()
        assert flat.starts[lo:hi].tolist() == enc.starts.tolist()
        assert flat.ends[lo:hi].tolist() == enc.ends.tolist()
    assert encode_flat(tokenizer, []).offsets.tolist() == [0]


def test_continuation_table_agrees_with_the_pieces_strings(tiny_model_dir: Path) -> None:
    tokenizer = load_tokenizer(tiny_model_dir / "tokenizer.json")
    table = continuation_table(tokenizer)
    for enc in encode(tokenizer, [t or "" for t in _ud_texts(40, 1)]):
        assert table[enc.ids].tolist() == continuation_mask(enc.tokens).tolist()
    config = _config(tiny_model_dir)
    assert np.array_equal(load_resources(config).continuation, table)


def test_annotation_column_reads_as_rows(tiny_model_dir: Path, ud_short: tuple[Rows, Rows]) -> None:
    sentences, tokens = ud_short
    out = Embedder(_config(tiny_model_dir)).embed(sentences, tokens)
    assert out[-1] == out[len(out) - 1] and out[1:3] == [out[1], out[2]]
    with pytest.raises(IndexError):
        out[len(out)]
    assert out == [list(r) for r in out] and out != [[]]
    assert [len(r) for r in out] == [len(t or []) for t in tokens]


def _from_arrow(rows: Rows, cut: int = 0) -> object:
    """``rows`` as a stage reads them from an Arrow batch (lazily), optionally from a sliced batch."""
    array = reference.annotations_to_arrow([[], *rows])
    sliced = array.slice(1) if cut else pa.chunked_array([array.slice(1, 2), array.slice(3)])
    return decode_column(sliced, "annotation")


@pytest.mark.parametrize("cut", [0, 1])
def test_arrow_inputs_are_read_without_objects_and_match(tiny_model_dir: Path, cut: int) -> None:
    sentences, tokens = _odd_rows()
    short_s, short_t = _annotate(_ud_texts(3, 2))
    sentences, tokens = sentences + short_s, tokens + short_t
    s_col, t_col = _from_arrow(sentences, cut), _from_arrow(tokens, cut)
    assert isinstance(s_col, ArrowAnnotations) and isinstance(t_col, ArrowAnnotations)
    config = _config(tiny_model_dir, pooling="mean", max_sentence_length=8)
    new = Embedder(config).embed(s_col, t_col)
    assert t_col._rows is None and s_col._rows is None  # never turned into objects
    old = reference.Embedder(config).embed(sentences, tokens)  # type: ignore[arg-type]
    assert annotations_to_arrow(new).equals(reference.annotations_to_arrow(old))
    assert list(s_col) == [r or [] for r in sentences]  # rows still read as before


def test_arrow_spans_keep_metadata_quirks() -> None:
    struct = annotation_arrow_type()
    raw = pa.array(
        [
            [
                {
                    "annotatorType": "t",
                    "begin": 0,
                    "end": 1,
                    "result": None,
                    "metadata": None,
                    "embeddings": None,
                },
                {
                    "annotatorType": "t",
                    "begin": 2,
                    "end": 3,
                    "result": "x",
                    "metadata": [("sentence", "a"), ("other", "1"), ("sentence", "b")],
                    "embeddings": [],
                },
                {"annotatorType": "t", "begin": 4, "end": 4, "result": "y", "metadata": [("sentence", None)]},
            ],
            None,
            [],
        ],
        type=pa.list_(struct),
    )
    for array in (raw, raw.slice(0, 2)):
        col = decode_column(array, "annotation")
        assert isinstance(col, ArrowAnnotations)
        spans = col.flat_spans("sentence")
        assert spans is not None
        objects = [a for row in col for a in row]
        assert spans.results == [a.result for a in objects]
        assert [v if p else "-" for v, p in zip(spans.values, spans.present)] == [
            a.metadata.get("sentence", "-") for a in objects
        ]
        assert flatten_tokens(col).keys == flatten_tokens(list(col)).keys
        assert flatten_sentences(col).keys == flatten_sentences(list(col)).keys


def _as_column(rows: Rows, annotator_type: str) -> AnnotationColumn:
    """``rows`` (each annotation with a ``sentence`` key) as the array column a stage returns."""
    flat = [a for r in rows if r for a in r]
    offsets = np.cumsum([0] + [len(r or []) for r in rows])
    keys = [a.metadata["sentence"] for a in flat]
    return AnnotationColumn(
        annotator_type,
        offsets,
        np.array([a.begin for a in flat], dtype=np.int64),
        np.array([a.end for a in flat], dtype=np.int64),
        [a.result for a in flat],
        (("sentence", keys),),
    )


@pytest.mark.parametrize("pooling", ["first", "mean"])
def test_array_column_inputs_match(tiny_model_dir: Path, ud_long: tuple[Rows, Rows], pooling: str) -> None:
    sentences, tokens = ud_long
    config = _config(tiny_model_dir, pooling=pooling, max_sentence_length=16)
    new = Embedder(config).embed(_as_column(sentences, DOCUMENT), _as_column(tokens, TOKEN))
    old = reference.Embedder(config).embed(sentences, tokens)  # type: ignore[arg-type]
    assert annotations_to_arrow(new).equals(reference.annotations_to_arrow(old))
