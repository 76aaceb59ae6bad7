"""What the stages run on Spark's Python workers: batch annotators and the fused batch function.

A stage's real work is a picklable *batch annotator*: a callable taking one list of values
per input column (annotation lists, or strings for raw text columns) and returning one
annotation list per row. ``fused_batches`` runs the annotators of consecutive stages over
Arrow record batches inside one ``mapInArrow``. Spark pickles that function, with the
annotators, and each Python worker imports the modules they are defined in: so this module
imports nothing of ``pyspark`` (the ``pyspark.ml`` of the stage classes costs a worker about
0.4 s and 17 MiB more, ``scipy`` included). ``tests/stages/test_worker_imports.py`` holds it.

Examples
--------
>>> from sparkbert.annotation import Annotation
>>> tokenize = Tokenize(split_han=True)
>>> sentence = Annotation("document", 0, 8, "Hi there.", {"sentence": "0"})
>>> [a.result for a in tokenize([[[sentence]]])[0]]
['Hi', 'there', '.']
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from sparkbert.annotation import TOKEN, Annotation, annotations_from_arrow, annotations_to_arrow
from sparkbert.annotation_column import AnnotationColumn, ArrowAnnotations
from sparkbert.text.document import assemble_document
from sparkbert.text.sentences import detect_sentences_rows
from sparkbert.text.tokens import tokenize_flat

#: A batch annotator: one list of values per input column in, one annotation list per row out
#: (a list of lists, or an ``AnnotationColumn`` that reads as one).
BatchAnnotator = Callable[[Sequence[Sequence[Any]]], Sequence[Sequence[Annotation]]]

#: Marker for an input that is a plain string column rather than annotations.
RAW_TEXT = "<string>"


def decode_column(column: pa.Array | pa.ChunkedArray, kind: str) -> Sequence[Any]:
    """Read one input column of a record batch: ``"annotation"`` lazily, strings with replacement.

    Examples
    --------
    >>> decode_column(pa.array([b"ok", b"\\xff"], pa.binary()).view(pa.string()), "<string>")  # not UTF-8
    ['ok', '�']
    """
    if kind == "annotation":  # read lazily: the embedder takes spans without building objects
        if isinstance(column, pa.ChunkedArray):
            column = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
        return ArrowAnnotations(column, annotations_from_arrow)
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        # Spark's text and CSV readers do not validate UTF-8: decode with replacement
        # characters instead of failing the whole task on one bad row.
        raw = column.cast(pa.large_binary()).to_pylist()
        return [None if v is None else v.decode("utf-8", "replace") for v in raw]
    return list(column.to_pylist())


@dataclass(frozen=True)
class AnnotationStep:
    """One stage's work inside ``mapInArrow``: input columns, their kinds, output, annotator.

    Examples
    --------
    >>> AnnotationStep(("sentence",), ("annotation",), "token", Tokenize(), 1024).output_col
    'token'
    """

    input_cols: tuple[str, ...]
    kinds: tuple[str, ...]
    output_col: str
    annotator: BatchAnnotator
    chunk_rows: int


def fused_batches(
    steps: tuple[AnnotationStep, ...],
) -> Callable[[Iterator[pa.RecordBatch]], Iterator[pa.RecordBatch]]:
    """The ``mapInArrow`` function of a chain of steps: each batch gains every step's output column.

    Rows go through in chunks of the smallest ``chunk_rows``; an annotator that returns
    another number of rows than it was given fails the task (never lose or invent a row).

    Examples
    --------
    >>> step = AnnotationStep(("text",), (RAW_TEXT,), "document", AssembleDocuments("disabled"), 2)
    >>> batch = pa.RecordBatch.from_pydict({"text": ["Hi", None, ""]})
    >>> first, second = fused_batches((step,))(iter([batch]))  # chunks of at most 2 rows
    >>> first.schema.names, [len(row) for row in first.column("document").to_pylist()], second.num_rows
    (['text', 'document'], [1, 0], 1)
    """
    chunk_rows = min(s.chunk_rows for s in steps)

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            for start in range(0, max(batch.num_rows, 1), chunk_rows):
                chunk = batch.slice(start, chunk_rows)
                computed: dict[str, Sequence[Sequence[Annotation]]] = {}
                decoded: dict[tuple[str, str], Sequence[Any]] = {}  # each input column read once
                arrays, names = list(chunk.columns), list(chunk.schema.names)
                for s in steps:
                    for c, k in zip(s.input_cols, s.kinds):
                        if c not in computed and (c, k) not in decoded:
                            decoded[c, k] = decode_column(chunk.column(c), k)
                    values = [
                        computed[c] if c in computed else decoded[c, k] for c, k in zip(s.input_cols, s.kinds)
                    ]
                    result = s.annotator(values) if chunk.num_rows else []
                    if len(result) != chunk.num_rows:  # never lose or invent a row
                        raise RuntimeError(f"annotator returned {len(result)} rows for {chunk.num_rows}")
                    computed[s.output_col] = result
                    arrays.append(annotations_to_arrow(result))
                    names.append(s.output_col)
                yield pa.RecordBatch.from_arrays(arrays, names=names)

    return run


class AssembleDocuments:
    """DocumentAssembler's batch annotator: columns (text[, id][, metadata]) → document annotations."""

    def __init__(self, cleanup_mode: str, has_id: bool = False, has_metadata: bool = False) -> None:
        self.cleanup_mode = cleanup_mode
        self.has_id = has_id
        self.has_metadata = has_metadata

    def __call__(self, columns: Sequence[Sequence[Any]]) -> list[list[Annotation]]:
        texts = columns[0]
        ids = columns[1] if self.has_id else None
        metas = columns[-1] if self.has_metadata else None
        out = []
        for i, text in enumerate(texts):
            meta: dict[str, str] = {}
            if metas is not None and metas[i]:
                meta.update(dict(metas[i]))
            if ids is not None and ids[i] is not None:
                meta["id"] = str(ids[i])
            out.append(assemble_document(text, cleanup_mode=self.cleanup_mode, metadata=meta))
        return out


class DetectSentences:
    """SentenceDetector's batch annotator: documents → sentences (``detect_sentences_rows`` options)."""

    def __init__(self, **options: Any) -> None:
        self.options = options

    def __call__(self, columns: Sequence[Sequence[Any]]) -> list[list[Annotation]]:
        return detect_sentences_rows(columns[0], **self.options)


class Tokenize:
    """Tokenizer's batch annotator: sentences → tokens as arrays (``tokenize_flat`` options)."""

    def __init__(self, **options: Any) -> None:
        self.options = options

    def __call__(self, columns: Sequence[Sequence[Any]]) -> AnnotationColumn:
        flat = tokenize_flat(columns[0], **self.options)
        sentences = (("sentence", flat.sentences),)
        return AnnotationColumn(TOKEN, flat.offsets, flat.begins, flat.ends, flat.results, sentences)


__all__ = [
    "RAW_TEXT",
    "AnnotationStep",
    "AssembleDocuments",
    "BatchAnnotator",
    "DetectSentences",
    "Tokenize",
    "decode_column",
    "fused_batches",
]
