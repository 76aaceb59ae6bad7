"""The annotation value type and its Spark schema, identical to Spark NLP's.

An annotation column is ``array<struct<annotatorType:string, begin:int, end:int,
result:string, metadata:map<string,string>, embeddings:array<float>>>``; ``end`` is
inclusive, so ``text[begin:end + 1] == result`` for document, sentence and token
annotations.

Examples
--------
>>> from sparkbert.annotation import Annotation, TOKEN
>>> a = Annotation(TOKEN, 0, 4, "Hello", {"sentence": "0"})
>>> "Hello world"[a.begin : a.end + 1] == a.result
True
>>> Annotation.from_row(a.to_row()) == a
True
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

# Annotator types (the strings Spark NLP uses).
DOCUMENT = "document"
TOKEN = "token"
WORD_EMBEDDINGS = "word_embeddings"
SENTENCE_EMBEDDINGS = "sentence_embeddings"
CHUNK = "chunk"

ANNOTATOR_TYPES = (DOCUMENT, TOKEN, WORD_EMBEDDINGS, SENTENCE_EMBEDDINGS, CHUNK)

#: The key under which Spark NLP stores the annotator type in a column's metadata.
ANNOTATOR_TYPE_KEY = "annotatorType"

_EMPTY: tuple[float, ...] = ()


@dataclass(frozen=True)
class Annotation:
    """One annotation: a typed span of text with metadata and an optional vector.

    Parameters
    ----------
    annotator_type : str
        One of the annotator-type constants of this module (``"token"``, ...).
    begin, end : int
        Character offsets into the original text; ``end`` is inclusive.
    result : str
        The annotated text (for document, sentence and token annotations
        ``text[begin:end + 1]``).
    metadata : Mapping[str, str]
        String-to-string metadata, as in Spark NLP.
    embeddings : Sequence[float] or numpy.ndarray
        The vector, empty for non-embedding annotations. Kept as given (a float32
        numpy row is not copied); compared element-wise by ``==``.

    Examples
    --------
    >>> Annotation("document", 0, 1, "Hi").to_row()
    ('document', 0, 1, 'Hi', {}, [])
    """

    annotator_type: str
    begin: int
    end: int
    result: str
    metadata: Mapping[str, str] = field(default_factory=dict)
    embeddings: Sequence[float] | np.ndarray = _EMPTY

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Annotation):
            return NotImplemented
        return (
            self.annotator_type == other.annotator_type
            and self.begin == other.begin
            and self.end == other.end
            and self.result == other.result
            and dict(self.metadata) == dict(other.metadata)
            and len(self.embeddings) == len(other.embeddings)
            and bool(np.array_equal(np.asarray(self.embeddings), np.asarray(other.embeddings)))
        )

    __hash__ = None  # type: ignore[assignment]

    def to_row(self) -> tuple[str, int, int, str, dict[str, str], list[float]]:
        """Return the annotation as a tuple in the order of ``ANNOTATION_FIELDS``.

        Examples
        --------
        >>> Annotation("token", 0, 0, "a", {"sentence": "0"}).to_row()[4]
        {'sentence': '0'}
        """
        return (
            self.annotator_type,
            self.begin,
            self.end,
            self.result,
            dict(self.metadata),
            [float(x) for x in self.embeddings],
        )

    def to_dict(self) -> dict[str, Any]:
        """Return the annotation as a dict keyed by the Spark field names.

        Examples
        --------
        >>> Annotation("token", 0, 0, "a").to_dict()["annotatorType"]
        'token'
        """
        return dict(zip(ANNOTATION_FIELDS, self.to_row()))

    @classmethod
    def from_row(cls, row: Any) -> Annotation:
        """Build an annotation from a Spark ``Row``, a dict or a tuple.

        Examples
        --------
        >>> Annotation.from_row({"annotatorType": "token", "begin": 0, "end": 0,
        ...                      "result": "a", "metadata": None, "embeddings": None})
        Annotation(annotator_type='token', begin=0, end=0, result='a', metadata={}, embeddings=())
        """
        if isinstance(row, Mapping):
            values = [row.get(name) for name in ANNOTATION_FIELDS]
        elif hasattr(row, "asDict"):
            d = row.asDict()
            values = [d.get(name) for name in ANNOTATION_FIELDS]
        else:
            values = list(row)
        atype, begin, end, result, metadata, embeddings = values
        if isinstance(metadata, list):  # Arrow map arrays arrive as lists of pairs
            metadata = dict(metadata)
        return cls(
            atype or "",
            int(begin) if begin is not None else 0,
            int(end) if end is not None else -1,
            result or "",
            dict(metadata) if metadata else {},
            tuple(embeddings) if embeddings is not None and len(embeddings) else _EMPTY,
        )


ANNOTATION_FIELDS = ("annotatorType", "begin", "end", "result", "metadata", "embeddings")


def annotation_struct_type() -> Any:
    """Return the Spark ``StructType`` of one annotation (Spark NLP's exact schema).

    Examples
    --------
    >>> annotation_struct_type().fieldNames()
    ['annotatorType', 'begin', 'end', 'result', 'metadata', 'embeddings']
    """
    from pyspark.sql.types import (
        ArrayType,
        FloatType,
        IntegerType,
        MapType,
        StringType,
        StructField,
        StructType,
    )

    return StructType(
        [
            StructField("annotatorType", StringType(), True),
            StructField("begin", IntegerType(), False),
            StructField("end", IntegerType(), False),
            StructField("result", StringType(), True),
            StructField("metadata", MapType(StringType(), StringType(), True), True),
            StructField("embeddings", ArrayType(FloatType(), False), True),
        ]
    )


def annotation_array_type() -> Any:
    """Return the Spark type of an annotation column: ``array<annotation struct>``.

    Examples
    --------
    >>> annotation_array_type().simpleString()[:30]
    'array<struct<annotatorType:str'
    """
    from pyspark.sql.types import ArrayType

    return ArrayType(annotation_struct_type(), True)


def annotation_arrow_type() -> Any:
    """Return the Arrow type matching ``annotation_struct_type``.

    Examples
    --------
    >>> str(annotation_arrow_type().field("begin").type)
    'int32'
    """
    import pyarrow as pa

    return pa.struct(
        [
            pa.field("annotatorType", pa.string()),
            pa.field("begin", pa.int32(), nullable=False),
            pa.field("end", pa.int32(), nullable=False),
            pa.field("result", pa.string()),
            pa.field("metadata", pa.map_(pa.string(), pa.string())),
            pa.field("embeddings", pa.list_(pa.field("element", pa.float32(), nullable=False))),
        ]
    )


def annotations_to_arrow(rows: Sequence[Sequence[Annotation] | None]) -> Any:
    """Encode one annotation list per row as an Arrow ``list<struct>`` array.

    Vectors are concatenated as float32 numpy arrays, never as Python floats, so
    building a column of embeddings costs one copy of the numbers.

    Examples
    --------
    >>> arr = annotations_to_arrow([[Annotation("token", 0, 0, "a", {}, [1.0, 2.0])], []])
    >>> arr.to_pylist()[0][0]["embeddings"]
    [1.0, 2.0]
    """
    import pyarrow as pa

    from sparkbert.annotation_column import AnnotationColumn

    if isinstance(rows, AnnotationColumn):  # already arrays: no step per annotation
        return rows.to_arrow()

    offsets = _cumulative([len(anns) if anns else 0 for anns in rows])
    flat: list[Annotation] = list(itertools.chain.from_iterable(anns for anns in rows if anns))
    struct_type = annotation_arrow_type()
    emb_offsets = _cumulative([len(a.embeddings) for a in flat])
    vectors = [np.asarray(a.embeddings, dtype=np.float32).reshape(-1) for a in flat if len(a.embeddings)]
    values = np.concatenate(vectors) if vectors else np.zeros(0, dtype=np.float32)
    md_offsets = _cumulative([len(a.metadata) for a in flat])
    keys = list(itertools.chain.from_iterable(a.metadata.keys() for a in flat))
    items = list(itertools.chain.from_iterable(a.metadata.values() for a in flat))
    metadata = pa.MapArray.from_arrays(
        pa.array(md_offsets), pa.array(keys, pa.string()), pa.array(items, pa.string())
    )
    embeddings = pa.ListArray.from_arrays(pa.array(emb_offsets), pa.array(values, pa.float32())).cast(
        struct_type.field("embeddings").type
    )
    structs = pa.StructArray.from_arrays(
        [
            pa.array([a.annotator_type for a in flat], pa.string()),
            pa.array([a.begin for a in flat], pa.int32()),
            pa.array([a.end for a in flat], pa.int32()),
            pa.array([a.result for a in flat], pa.string()),
            metadata,
            embeddings,
        ],
        fields=list(struct_type),
    )
    return pa.ListArray.from_arrays(pa.array(offsets), structs)


def _cumulative(lengths: list[int]) -> np.ndarray:
    """Offsets ``[0, l0, l0 + l1, ...]`` as int32 (Arrow list offsets; too many values fail)."""
    out = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=out[1:])
    if out[-1] > np.iinfo(np.int32).max:
        raise OverflowError(f"{int(out[-1])} values do not fit one Arrow list array (int32 offsets)")
    return out.astype(np.int32)


def annotations_from_arrow(array: Any) -> list[list[Annotation]]:
    """Decode an Arrow ``list<struct>`` annotation array (nulls become empty lists).

    Column by column, not row by row; vectors become float32 numpy views of the array's
    values, not lists.

    Examples
    --------
    >>> rows = [[Annotation("token", 0, 0, "a", {"sentence": "0"}, [1.0])], []]
    >>> out = annotations_from_arrow(annotations_to_arrow(rows + [None]))
    >>> out[:2] == rows, out[0][0].embeddings.dtype, out[2]
    (True, dtype('float32'), [])
    """
    import pyarrow as pa

    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks() if array.num_chunks != 1 else array.chunk(0)
    if len(array) == 0:
        return []
    offsets = array.offsets.to_numpy()
    start, stop = int(offsets[0]), int(offsets[-1])
    fields = dict(zip(ANNOTATION_FIELDS, array.values.slice(start, stop - start).flatten()))
    types = fields["annotatorType"].to_pylist()
    begins = fields["begin"].to_numpy(zero_copy_only=False).tolist()
    ends = fields["end"].to_numpy(zero_copy_only=False).tolist()
    results = fields["result"].to_pylist()
    metas = _metadata_dicts(fields["metadata"])
    emb = fields["embeddings"]
    emb_offsets = emb.offsets.to_numpy()
    emb_values = emb.values.to_numpy(zero_copy_only=False)
    anns = [
        Annotation(t or "", b, e, r or "", m, emb_values[lo:hi])
        for t, b, e, r, m, lo, hi in zip(
            types, begins, ends, results, metas, emb_offsets[:-1].tolist(), emb_offsets[1:].tolist()
        )
    ]
    valid = array.is_valid().to_numpy(zero_copy_only=False)
    rel = offsets - start
    return [anns[rel[i] : rel[i + 1]] if valid[i] else [] for i in range(len(array))]


def _metadata_dicts(maps: Any) -> list[dict[str, str]]:
    """One dict per entry of a (possibly sliced) Arrow map array; null maps become ``{}``."""
    offsets = maps.offsets.to_numpy()
    if maps.null_count:
        valid = maps.is_valid().to_numpy(zero_copy_only=False)
        ends = np.where(valid, offsets[1:], offsets[:-1])
    else:
        ends = offsets[1:]
    first = int(offsets[0])
    keys = maps.keys.slice(first, int(offsets[-1]) - first).to_pylist()
    items = maps.items.slice(first, int(offsets[-1]) - first).to_pylist()
    return [
        dict(zip(keys[a:b], items[a:b])) if b > a else {}
        for a, b in zip((offsets[:-1] - first).tolist(), (ends - first).tolist())
    ]


def annotations_from_rows(rows: Iterable[Any] | None) -> list[Annotation]:
    """Convert a Spark column value (a list of ``Row``) to a list of ``Annotation``.

    Examples
    --------
    >>> annotations_from_rows(None)
    []
    """
    return [Annotation.from_row(r) for r in rows] if rows else []
