"""Pool word embeddings into one vector per sentence (the work of SentenceEmbeddings).

Examples
--------
>>> from sparkbert.annotation import Annotation
>>> s = Annotation("document", 0, 4, "Hi yo", {"sentence": "0"})
>>> w = [Annotation("word_embeddings", 0, 1, "Hi", {"sentence": "0"}, [1.0, 3.0]),
...      Annotation("word_embeddings", 3, 4, "yo", {"sentence": "0"}, [3.0, 5.0])]
>>> pool_sentences([s], w, "AVERAGE", 2)[0].embeddings.tolist()
[2.0, 4.0]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from sparkbert.annotation import SENTENCE_EMBEDDINGS, Annotation
from sparkbert.annotation_column import AnnotationColumn, Codes, metadata_strings
from sparkbert.errors import InvalidParamError
from sparkbert.runtime.assemble import Sentences, flatten_sentences

SENTENCE_POOLING = ("AVERAGE", "SUM")


def owners(sentences: Sequence[Annotation], words: Sequence[Annotation]) -> list[int]:
    """Return, per word, the index of the annotation it belongs to (-1: none).

    A word belongs to the annotation whose span contains it, whatever sentence it came
    from: over a whole document every token of the document counts. Only when several
    annotations contain it (overlapping spans) does the ``sentence`` metadata decide.

    Examples
    --------
    >>> from sparkbert.annotation import Annotation
    >>> doc = [Annotation("document", 0, 10, "Hi. Hallo.", {"sentence": "0"})]
    >>> words = [Annotation("word_embeddings", 0, 1, "Hi", {"sentence": "0"}),
    ...          Annotation("word_embeddings", 4, 8, "Hallo", {"sentence": "1"})]
    >>> owners(doc, words)
    [0, 0]
    """
    keys = [s.metadata.get("sentence", str(i)) for i, s in enumerate(sentences)]
    out = []
    for w in words:
        holders = [i for i, s in enumerate(sentences) if s.begin <= w.begin and w.end <= s.end]
        if len(holders) > 1:
            key = w.metadata.get("sentence")
            holders = [i for i in holders if keys[i] == key] or holders
        out.append(holders[0] if holders else -1)
    return out


def pool_sentences(
    sentences: Sequence[Annotation], words: Sequence[Annotation], strategy: str, dimension: int
) -> list[Annotation]:
    """Return one ``sentence_embeddings`` annotation per sentence (or document).

    Each word is pooled into the annotation that contains it (see ``owners``), so a
    document's vector averages every token of the document. Words flagged ``noPieces``
    carry no information and are left out; an annotation without words gets a zero vector.

    Examples
    --------
    >>> from sparkbert.annotation import Annotation
    >>> s = Annotation("document", 0, 1, "Hi", {"sentence": "0"})
    >>> pool_sentences([s], [], "SUM", 3)[0].embeddings.tolist()
    [0.0, 0.0, 0.0]
    """
    if strategy not in SENTENCE_POOLING:
        raise InvalidParamError.for_param("poolingStrategy", strategy, SENTENCE_POOLING)
    groups: list[list[np.ndarray]] = [[] for _ in sentences]
    for w, owner in zip(words, owners(sentences, words)):
        if owner >= 0 and w.metadata.get("noPieces") != "true" and len(w.embeddings):
            groups[owner].append(np.asarray(w.embeddings, dtype=np.float32))
    out = []
    for i, (sentence, vectors) in enumerate(zip(sentences, groups)):
        if vectors:
            stacked = np.stack(vectors).astype(np.float64)
            vector = (stacked.mean(0) if strategy == "AVERAGE" else stacked.sum(0)).astype(np.float32)
        else:
            vector = np.zeros(dimension, dtype=np.float32)
        metadata = {"sentence": sentence.metadata.get("sentence", str(i)), "token_count": str(len(vectors))}
        out.append(
            Annotation(SENTENCE_EMBEDDINGS, sentence.begin, sentence.end, sentence.result, metadata, vector)
        )
    return out


class PoolSentences:
    """SentenceEmbeddings' batch annotator: sentences and word vectors → one vector per sentence."""

    def __init__(self, strategy: str, dimension: int) -> None:
        self.strategy = strategy
        self.dimension = dimension

    def __call__(self, columns: Sequence[Sequence[Any]]) -> Sequence[Sequence[Annotation]]:
        sentences, words = columns[0], columns[1]
        if _columnar(words, self.dimension) and self.strategy in SENTENCE_POOLING:
            return pool_sentence_columns(sentences, words, self.strategy)  # type: ignore[arg-type]
        return [
            pool_sentences(s or [], w or [], self.strategy, self.dimension) for s, w in zip(sentences, words)
        ]


def _columnar(words: Any, dimension: int) -> bool:
    """Whether ``words`` is an embedder's column of ``dimension``-wide vectors (pooled as arrays)."""
    if not isinstance(words, AnnotationColumn) or words.embeddings is None:
        return False
    keys = dict(words.metadata)
    return words.embeddings.shape[1] == dimension > 0 and "sentence" in keys and "noPieces" in keys


def _flat_owners(sentences: Sentences, words: AnnotationColumn) -> np.ndarray | None:
    """``owners`` of every word at once, or ``None`` where that takes the general rule.

    When each row's sentences start in order, each after the end of all before it, and no
    word ends before it begins, a word's only candidate is the last sentence starting at or
    before it: one ``searchsorted`` over (row, begin) keys.
    """
    s_row = np.repeat(np.arange(len(sentences.offsets) - 1), np.diff(sentences.offsets))
    w_row = np.repeat(np.arange(len(words.offsets) - 1), np.diff(words.offsets))
    if not len(s_row) or not len(w_row):
        return np.full(len(w_row), -1, dtype=np.int64)
    spans = (sentences.begins, sentences.ends, words.begins, words.ends)
    low = min(int(a.min()) for a in spans)
    width = max(int(a.max()) for a in spans) - low + 2
    s_key = s_row * width + sentences.begins - low
    reach = np.maximum.accumulate(np.maximum(s_key, s_row * width + sentences.ends - low))
    same_row = s_row[1:] == s_row[:-1]
    if (same_row & (s_key[1:] <= reach[:-1])).any() or (words.ends < words.begins).any():
        return None
    at = np.searchsorted(s_key, w_row * width + words.begins - low, side="right") - 1
    safe = np.maximum(at, 0)
    fits = (at >= 0) & (s_row[safe] == w_row) & (words.ends <= sentences.ends[safe])
    return np.where(fits, safe, -1)


def pool_sentence_columns(
    sentence_rows: Sequence[Sequence[Annotation] | None], words: AnnotationColumn, strategy: str
) -> AnnotationColumn:
    """``pool_sentences`` of every row at once, reading the word vectors from the embedder's buffer."""
    sentences = flatten_sentences(sentence_rows)
    owner = _flat_owners(sentences, words)
    if owner is None:  # overlapping sentence spans: the general rule, row by row
        owner = np.full(len(words.begins), -1, dtype=np.int64)
        for r, (rows, row) in enumerate(zip(sentence_rows, words)):
            found = np.asarray(owners(rows or [], row), dtype=np.int64)
            owner[int(words.offsets[r]) : int(words.offsets[r + 1])] = found + np.where(
                found >= 0, sentences.offsets[r], 0
            )
    no_pieces = dict(words.metadata)["noPieces"]
    flags = metadata_strings(no_pieces, 0, len(owner)) if not isinstance(no_pieces, Codes) else None
    empty = (
        np.asarray(no_pieces.labels, dtype=object)[no_pieces.codes] == "true"
        if isinstance(no_pieces, Codes)
        else np.array([f == "true" for f in flags or []], dtype=bool)
    )
    used = np.nonzero((owner >= 0) & ~empty)[0]
    used = used[np.argsort(owner[used], kind="stable")]
    counts = np.bincount(owner[used], minlength=len(sentences.begins))
    dim = words.embeddings.shape[1]  # type: ignore[union-attr]
    vectors = np.zeros((len(sentences.begins), dim), dtype=np.float32)
    has = np.nonzero(counts)[0]
    if len(has):
        starts = np.r_[0, np.cumsum(counts[has])[:-1]]
        sums = np.add.reduceat(words.embeddings[used].astype(np.float64), starts, axis=0)  # type: ignore[index]
        vectors[has] = (sums / counts[has, None] if strategy == "AVERAGE" else sums).astype(np.float32)
    metadata = (("sentence", sentences.keys), ("token_count", counts))
    return AnnotationColumn(
        SENTENCE_EMBEDDINGS,
        sentences.offsets,
        sentences.begins,
        sentences.ends,
        sentences.texts,
        metadata,
        vectors,
    )
