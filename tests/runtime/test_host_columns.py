"""Consumers of the embedder's ``AnnotationColumn`` give what they gave on annotation lists.

SentenceEmbeddings pools straight from the vectors buffer and EmbeddingsFinisher (in-process)
reads it at once; both must equal their per-annotation paths bit for bit, for sentences,
whole documents, overlapping spans, null and empty rows.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.conftest import UD_LANGS, load_ud
from tests.runtime import _reference_embedder as reference

from sparkbert.annotation import DOCUMENT, Annotation, annotations_to_arrow
from sparkbert.annotation_column import AnnotationColumn
from sparkbert.runtime.embedder import Embedder, EmbedderConfig
from sparkbert.runtime.sentence_pooling import PoolSentences, pool_sentences
from sparkbert.stages.embeddings_finisher import finish_column, finish_vector
from sparkbert.text import detect_sentences, tokenize
from sparkbert.text.document import assemble_document

Rows = list[list[Annotation] | None]


@pytest.fixture(scope="module")
def annotated(tiny_model_dir: Path) -> tuple[Rows, Rows, AnnotationColumn]:
    texts: list[str | None] = [None, "", "  "]
    for lang in UD_LANGS:
        records = [str(r["text"]) for r in load_ud(lang)[:20]]
        texts += [" ".join(records[i : i + 5]) for i in range(0, 20, 5)]
    documents: Rows = [assemble_document(t) if t is not None else None for t in texts]
    sentences: Rows = [
        [s for d in docs for s in detect_sentences(d)] if docs is not None else None for docs in documents
    ]
    tokens: Rows = [tokenize(s) if s is not None else None for s in sentences]
    config = EmbedderConfig.for_model(str(tiny_model_dir), max_sentence_length=16)
    return documents, sentences, Embedder(config).embed(sentences, tokens)


def _overlapping(sentences: Rows) -> Rows:
    """Each row's sentences plus one span covering its first two sentences (overlaps them)."""
    out: Rows = []
    for row in sentences:
        if row and len(row) > 1:
            a, b = row[0], row[1]
            merged = Annotation(DOCUMENT, a.begin, b.end, a.result, {"sentence": "1"})
            out.append([*row, merged])
        else:
            out.append(row)
    return out


@pytest.mark.parametrize("strategy", ["AVERAGE", "SUM"])
@pytest.mark.parametrize("level", ["sentence", "document", "overlapping"])
def test_sentence_pooling_from_the_buffer_matches_per_annotation_pooling(
    annotated: tuple[Rows, Rows, AnnotationColumn], strategy: str, level: str
) -> None:
    documents, sentences, words = annotated
    holders = {"sentence": sentences, "document": documents, "overlapping": _overlapping(sentences)}[level]
    dim = words.embeddings.shape[1]  # type: ignore[union-attr]
    got = PoolSentences(strategy, dim)([holders, words])
    assert isinstance(got, AnnotationColumn)
    want = [pool_sentences(s or [], list(w), strategy, dim) for s, w in zip(holders, words)]
    assert annotations_to_arrow(got).equals(reference.annotations_to_arrow(want))
    for g, w in zip(got, want):
        assert g == w
        assert [list(a.metadata) for a in g] == [list(a.metadata) for a in w]


def test_sentence_pooling_of_plain_lists_is_unchanged(annotated: tuple[Rows, Rows, AnnotationColumn]) -> None:
    _, sentences, words = annotated
    plain = [list(w) for w in words]
    got = PoolSentences("AVERAGE", 32)([sentences, plain])
    assert isinstance(got, list) and got == PoolSentences("AVERAGE", 32)([sentences, words])


@pytest.mark.parametrize("as_vector", [False, True])
def test_finishing_a_column_matches_finishing_each_vector(
    annotated: tuple[Rows, Rows, AnnotationColumn], as_vector: bool
) -> None:
    words = annotated[2]
    got = finish_column(words, as_vector)
    want = [[finish_vector(a.embeddings, as_vector) for a in row] for row in words]
    assert len(got) == len(want)
    for g, w in zip(got, want):
        if as_vector:
            assert [v.toArray().tobytes() for v in g] == [v.toArray().tobytes() for v in w]
        else:
            assert g == w
    assert finish_column([None, []], as_vector) == [[], []]
    assert len(got[3][0]) == 32


def test_a_column_without_vectors_encodes_as_its_rows(annotated: tuple[Rows, Rows, AnnotationColumn]) -> None:
    words = annotated[2]
    tokens = AnnotationColumn(
        "token", words.offsets, words.begins, words.ends, words.results, words.metadata[:2], None
    )
    rows = list(tokens)
    assert all(a.embeddings == () and list(a.metadata) == ["sentence", "token"] for r in rows for a in r)
    assert annotations_to_arrow(tokens).equals(reference.annotations_to_arrow(rows))
    bare = AnnotationColumn("token", words.offsets, words.begins, words.ends, words.results, ())
    assert annotations_to_arrow(bare).equals(reference.annotations_to_arrow(list(bare)))
