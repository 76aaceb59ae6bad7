"""A whole column of annotations held as arrays: what the embedder returns instead of objects.

An ``AnnotationColumn`` stores the annotations of many rows flat (begins, ends and results
one entry per annotation, each metadata key one column, the vectors one ``(n, dim)``
float32 buffer) plus row offsets. It becomes an Arrow annotation column without a Python
step per annotation (the vectors buffer *is* the Arrow values), and still reads as one
``list[Annotation]`` per row for code that wants objects: indexing a row builds its
annotations then.

Examples
--------
>>> import numpy as np
>>> col = AnnotationColumn(
...     "word_embeddings", np.array([0, 2, 2]), np.array([0, 3]), np.array([1, 4]), ["Hi", "yo"],
...     (("sentence", Codes(np.array([0, 0]), ("0",))), ("pieceId", np.array([7, -1]))),
...     np.ones((2, 2), dtype=np.float32))
>>> len(col), len(col[1]), col[0][1].metadata
(2, 0, {'sentence': '0', 'pieceId': '-1'})
>>> col.to_arrow().to_pylist()[0][0]["metadata"]
[('sentence', '0'), ('pieceId', '7')]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, overload

import numpy as np

from sparkbert.annotation import _EMPTY, ANNOTATION_FIELDS, Annotation, annotation_arrow_type


@dataclass(frozen=True, eq=False)
class Codes:
    """A string column stored as integer codes into a few labels: value ``i`` is ``labels[codes[i]]``.

    Examples
    --------
    >>> Codes(np.array([1, 0]), ("false", "true")).strings(0, 2)
    ['true', 'false']
    """

    codes: np.ndarray
    labels: Sequence[str]

    def strings(self, lo: int, hi: int) -> list[str]:
        """The values of entries ``lo`` to ``hi`` as strings."""
        labels = self.labels
        return [labels[c] for c in self.codes[lo:hi].tolist()]


#: One metadata value per annotation: strings, ``Codes``, or an integer array (written in decimal).
MetadataColumn = Sequence[str] | Codes | np.ndarray


def metadata_strings(column: MetadataColumn, lo: int, hi: int) -> list[str]:
    """Entries ``lo`` to ``hi`` of a metadata column, as strings.

    Examples
    --------
    >>> metadata_strings(np.array([7, -1]), 0, 2)
    ['7', '-1']
    """
    if isinstance(column, Codes):
        return column.strings(lo, hi)
    if isinstance(column, np.ndarray):
        return [str(v) for v in column[lo:hi].tolist()]
    return list(column[lo:hi])


def _arrow_strings(column: MetadataColumn) -> Any:
    """A metadata column as an Arrow string array."""
    import pyarrow as pa

    if isinstance(column, Codes):
        return pa.array(list(column.labels), pa.string()).take(pa.array(column.codes))
    if isinstance(column, np.ndarray):
        return pa.array(column).cast(pa.string())
    return pa.array(column, pa.string())


@dataclass(frozen=True, eq=False)
class AnnotationColumn(Sequence[list[Annotation]]):
    """The annotations of a batch of rows, one array per field; reads as ``list[Annotation]`` rows.

    Parameters
    ----------
    annotator_type : str
        The type of every annotation.
    offsets : numpy.ndarray
        ``(rows + 1,)``: row ``i`` holds annotations ``offsets[i]`` to ``offsets[i + 1]``.
    begins, ends : numpy.ndarray
        Character offsets, one per annotation (``end`` inclusive).
    results : Sequence[str]
        The annotated text, one per annotation.
    metadata : tuple of (key, MetadataColumn)
        The metadata keys, in the order every annotation lists them, each with its values.
    embeddings : numpy.ndarray or None
        ``(n, dim)`` float32, one vector per annotation; ``None`` for no vectors.
    """

    annotator_type: str
    offsets: np.ndarray
    begins: np.ndarray
    ends: np.ndarray
    results: Sequence[str]
    metadata: tuple[tuple[str, MetadataColumn], ...]
    embeddings: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.offsets) - 1

    @overload
    def __getitem__(self, index: int) -> list[Annotation]: ...

    @overload
    def __getitem__(self, index: slice) -> list[list[Annotation]]: ...

    def __getitem__(self, index: int | slice) -> list[Annotation] | list[list[Annotation]]:
        if isinstance(index, slice):
            return [self.row(i) for i in range(*index.indices(len(self)))]
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"row {index} of an AnnotationColumn of {n} rows")
        return self.row(index % n)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence):
            return NotImplemented
        return len(self) == len(other) and all(list(a) == list(b or []) for a, b in zip(self, other))

    __hash__ = None  # type: ignore[assignment]

    def row(self, i: int) -> list[Annotation]:
        """The annotations of row ``i`` as objects (vectors are float32 views of the buffer)."""
        lo, hi = int(self.offsets[i]), int(self.offsets[i + 1])
        keys = [k for k, _ in self.metadata]
        values = list(zip(*(metadata_strings(col, lo, hi) for _, col in self.metadata))) or [()] * (hi - lo)
        vectors: Sequence[Any] | np.ndarray = (
            self.embeddings[lo:hi] if self.embeddings is not None else [_EMPTY] * (hi - lo)
        )
        return [
            Annotation(self.annotator_type, b, e, r, dict(zip(keys, meta)), v)
            for b, e, r, meta, v in zip(
                self.begins[lo:hi].tolist(), self.ends[lo:hi].tolist(), self.results[lo:hi], values, vectors
            )
        ]

    def to_arrow(self) -> Any:
        """The column as Arrow ``list<annotation struct>``, equal to ``annotations_to_arrow`` of its rows.

        The embeddings buffer becomes the Arrow values without a copy; metadata maps are
        interleaved from the key columns by one ``take``.
        """
        import pyarrow as pa

        struct_type = annotation_arrow_type()
        n = len(self.begins)
        results = pa.array(self.results, pa.string())
        if self.embeddings is not None and self.embeddings.size:
            flat = np.ascontiguousarray(self.embeddings, dtype=np.float32).reshape(-1)
            emb_offsets = np.arange(n + 1, dtype=np.int64) * self.embeddings.shape[1]
        else:
            flat, emb_offsets = np.zeros(0, dtype=np.float32), np.zeros(n + 1, dtype=np.int64)
        embeddings = pa.ListArray.from_arrays(
            pa.array(emb_offsets, pa.int32()),
            pa.array(flat, pa.float32()),
            type=struct_type.field("embeddings").type,
        )
        structs = pa.StructArray.from_arrays(
            [
                pa.array([self.annotator_type], pa.string()).take(pa.array(np.zeros(n, dtype=np.int32))),
                pa.array(self.begins, pa.int32()),
                pa.array(self.ends, pa.int32()),
                results,
                self._metadata_arrow(results),
                embeddings,
            ],
            fields=list(struct_type),
        )
        return pa.ListArray.from_arrays(pa.array(self.offsets, pa.int32()), structs)

    def _metadata_arrow(self, results: Any) -> Any:
        """The metadata as one Arrow map per annotation (``results``: the results, already in Arrow)."""
        import pyarrow as pa

        n, n_keys = len(self.begins), len(self.metadata)
        offsets = pa.array(np.arange(n + 1, dtype=np.int64) * n_keys, pa.int32())
        if not n_keys:
            return pa.MapArray.from_arrays(offsets, pa.array([], pa.string()), pa.array([], pa.string()))
        keys = pa.array([k for k, _ in self.metadata], pa.string())
        columns = [results if c is self.results else _arrow_strings(c) for _, c in self.metadata]
        interleave = np.arange(n_keys, dtype=np.int64)[None, :] * n + np.arange(n)[:, None]
        return pa.MapArray.from_arrays(
            offsets,
            keys.take(pa.array(np.tile(np.arange(n_keys, dtype=np.int32), n))),
            pa.concat_arrays(columns).take(pa.array(interleave.ravel())),
        )


@dataclass(frozen=True)
class FlatSpans:
    """Spans, results and one metadata value of a column's annotations, end to end with row offsets."""

    offsets: np.ndarray
    begins: np.ndarray
    ends: np.ndarray
    results: list[str]
    #: the value of one metadata key per annotation (``None`` where missing, see ``present``)
    values: list[str | None]
    present: np.ndarray


class ArrowAnnotations(Sequence[list[Annotation]]):
    """An Arrow annotation column read lazily: rows become ``Annotation`` lists on first access.

    Code that only needs spans, results and one metadata key (the embedder) reads them as
    arrays with ``flat_spans`` and never builds the objects.

    Parameters
    ----------
    array : pyarrow.ListArray
        The column (one chunk).
    decode : callable
        Turns ``array`` into ``list[list[Annotation]]`` (``annotation.annotations_from_arrow``).

    Examples
    --------
    >>> from sparkbert.annotation import annotations_from_arrow, annotations_to_arrow
    >>> arr = annotations_to_arrow([[Annotation("token", 0, 1, "Hi", {"sentence": "3"})], None])
    >>> col = ArrowAnnotations(arr, annotations_from_arrow)
    >>> col.flat_spans("sentence").values, col[1]
    (['3'], [])
    """

    def __init__(self, array: Any, decode: Any) -> None:
        self.array = array
        self._decode = decode
        self._rows: list[list[Annotation]] | None = None

    def __len__(self) -> int:
        return len(self.array)

    @overload
    def __getitem__(self, index: int) -> list[Annotation]: ...

    @overload
    def __getitem__(self, index: slice) -> list[list[Annotation]]: ...

    def __getitem__(self, index: int | slice) -> list[Annotation] | list[list[Annotation]]:
        if self._rows is None:
            self._rows = self._decode(self.array)
        return self._rows[index]

    def flat_spans(self, key: str) -> FlatSpans | None:
        """Begins, ends, results and metadata ``key`` of every annotation; ``None`` for odd layouts.

        ``None`` (read the rows instead) when a null row holds annotations in its offsets.
        """
        import pyarrow as pa
        import pyarrow.compute as pc

        array = self.array
        offsets = array.offsets.to_numpy().astype(np.int64)
        if (
            array.null_count
            and (np.diff(offsets)[~array.is_valid().to_numpy(zero_copy_only=False)] > 0).any()
        ):
            return None
        first, n = int(offsets[0]), int(offsets[-1] - offsets[0])
        structs = array.values.slice(first, n)
        fields = dict(zip(ANNOTATION_FIELDS, structs.flatten()))
        begins, ends, results, metadata = (fields[f] for f in ("begin", "end", "result", "metadata"))
        values: list[str | None] = [None] * n
        present = np.zeros(n, dtype=bool)
        m_off = metadata.offsets.to_numpy().astype(np.int64)
        keys = metadata.keys.slice(int(m_off[0]), int(m_off[-1] - m_off[0]))
        hits = np.nonzero(pc.fill_null(pc.equal(keys, pa.scalar(key)), False).to_numpy(zero_copy_only=False))[
            0
        ]
        if len(hits):
            owner = np.searchsorted(m_off - m_off[0], hits, side="right") - 1
            if metadata.null_count:
                valid = metadata.is_valid().to_numpy(zero_copy_only=False)
                hits, owner = hits[valid[owner]], owner[valid[owner]]
            last = np.r_[owner[1:] != owner[:-1], True]  # dict(pairs): the last one counts
            items = metadata.items.slice(int(m_off[0]), int(m_off[-1] - m_off[0]))
            for a, v in zip(owner[last].tolist(), items.take(pa.array(hits[last])).to_pylist()):
                values[a] = v
            present[owner] = True
        return FlatSpans(
            offsets - first,
            begins.to_numpy(zero_copy_only=False).astype(np.int64),
            ends.to_numpy(zero_copy_only=False).astype(np.int64),
            pc.fill_null(results, "").to_pylist(),
            values,
            present,
        )
