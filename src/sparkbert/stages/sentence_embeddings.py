"""SentenceEmbeddings: word embeddings → one vector per sentence (or document).

| input | output |
| --- | --- |
| ``document``, ``word_embeddings`` | ``sentence_embeddings`` |
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
from pyspark.ml.param import Param
from pyspark.sql import SparkSession
from pyspark.sql.types import StructType

from sparkbert.annotation import (
    ANNOTATOR_TYPE_KEY,
    DOCUMENT,
    SENTENCE_EMBEDDINGS,
    WORD_EMBEDDINGS,
    Annotation,
)
from sparkbert.annotation_column import AnnotationColumn, Codes, metadata_strings
from sparkbert.errors import SchemaError
from sparkbert.params import choice, param
from sparkbert.runtime.assemble import Sentences, flatten_sentences
from sparkbert.runtime.sentence_pooling import SENTENCE_POOLING, owners, pool_sentences
from sparkbert.stages.base import AnnotatorTransformer, BatchAnnotator


class _PoolSentences:
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


def _owners(sentences: Sentences, words: AnnotationColumn) -> np.ndarray | None:
    """``sentence_pooling.owners`` of every word at once, or ``None`` where that takes the general rule.

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
    owner = _owners(sentences, words)
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


class SentenceEmbeddings(AnnotatorTransformer):
    """Average (or sum) the word embeddings of each sentence into one vector.

    Attributes
    ----------
    inputCols : list of str, default ["sentence", "embeddings"]
        A ``document`` column (sentences or whole documents) and a ``word_embeddings`` column.
    outputCol : str, default "sentence_embeddings"
    poolingStrategy : str, default "AVERAGE"
        ``AVERAGE`` or ``SUM``.

    Examples
    --------
    >>> SentenceEmbeddings().setPoolingStrategy("SUM").getPoolingStrategy()
    'SUM'
    """

    inputAnnotatorTypes = ((DOCUMENT,), (WORD_EMBEDDINGS,))
    outputAnnotatorType = SENTENCE_EMBEDDINGS

    paramDefaults: ClassVar[Mapping[str, Any]] = {
        "inputCols": ["sentence", "embeddings"],
        "outputCol": "sentence_embeddings",
    }

    poolingStrategy: Param[str] = param(
        "poolingStrategy", "AVERAGE or SUM", choice(*SENTENCE_POOLING), default="AVERAGE"
    )

    def _dimension(self, schema: StructType) -> int:
        column = self.getInputCols()[1]
        meta = schema[column].metadata or {} if column in schema.fieldNames() else {}
        if "dimension" not in meta:
            raise SchemaError(
                f"Input column '{column}' of SentenceEmbeddings has no 'dimension' in its metadata; "
                "produce it with BertEmbeddings."
            )
        return int(meta["dimension"])

    def transformSchema(self, schema: StructType) -> StructType:
        """Check columns on the driver and return the output schema.

        The word embeddings column must carry its ``dimension`` (BertEmbeddings writes it).

        Examples
        --------
        >>> from pyspark.sql.types import StructType, StructField
        >>> from sparkbert.annotation import annotation_array_type
        >>> schema = StructType([
        ...     StructField("sentence", annotation_array_type(), True, {"annotatorType": "document"}),
        ...     StructField("embeddings", annotation_array_type(), True,
        ...                 {"annotatorType": "word_embeddings", "dimension": 768})])
        >>> SentenceEmbeddings().transformSchema(schema)["sentence_embeddings"].metadata
        {'annotatorType': 'sentence_embeddings', 'dimension': 768}
        """
        out = super().transformSchema(schema)
        self._dimension(schema)
        return out

    def _output_metadata(self, schema: StructType) -> dict[str, Any]:
        return {ANNOTATOR_TYPE_KEY: SENTENCE_EMBEDDINGS, "dimension": self._dimension(schema)}

    def _annotator(self, schema: StructType | None, spark: SparkSession | None) -> BatchAnnotator:
        return _PoolSentences(self.getPoolingStrategy(), self._dimension(schema) if schema is not None else 0)
