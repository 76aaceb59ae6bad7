"""The thin Spark shell shared by every annotator stage.

A stage's real work is a picklable *batch annotator* (``sparkbert.stages.steps``, the
module the Python workers import): a callable taking one list of values per input column
(annotation lists, or strings for raw text columns) and returning one annotation list per
row. ``AnnotatorTransformer`` checks the schema on the driver, runs the annotator inside
``mapInArrow`` (Arrow in, Arrow out, no per-float Python objects) and tags the output column
with Spark NLP's column metadata. ``LightPipeline`` calls the same annotator in-process.

Examples
--------
>>> from sparkbert import Tokenizer
>>> from sparkbert.annotation import Annotation
>>> annotate = Tokenizer()._annotator(None, None)
>>> sentence = Annotation("document", 0, 8, "Hi there.", {"sentence": "0"})
>>> [a.result for a in annotate([[[sentence]]])[0]]
['Hi', 'there', '.']
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Any, ClassVar

from pyspark.ml import Transformer
from pyspark.ml.util import DefaultParamsReadable, DefaultParamsWritable
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import ArrayType, StringType, StructField, StructType

from sparkbert.annotation import ANNOTATOR_TYPE_KEY, annotation_array_type
from sparkbert.errors import SchemaError
from sparkbert.params import HasInputCols, HasOutputCol, TypedParams
from sparkbert.stages.steps import RAW_TEXT, AnnotationStep, BatchAnnotator, fused_batches


def _is_annotation_type(data_type: Any) -> bool:
    if not isinstance(data_type, ArrayType) or not isinstance(data_type.elementType, StructType):
        return False
    names = data_type.elementType.fieldNames()
    return all(f in names for f in ("annotatorType", "begin", "end", "result", "metadata"))


def annotation_column_type(schema: StructType, column: str) -> str | None:
    """Return the annotator type of ``column`` from its metadata (or from its values' schema).

    Returns ``None`` for a column that is an annotation array without metadata.

    Examples
    --------
    >>> from pyspark.sql.types import StructType, StructField
    >>> from sparkbert.annotation import annotation_array_type
    >>> schema = StructType([StructField("token", annotation_array_type(), True,
    ...                                  {"annotatorType": "token"})])
    >>> annotation_column_type(schema, "token")
    'token'
    """
    field = schema[column]
    meta = field.metadata or {}
    if ANNOTATOR_TYPE_KEY in meta:
        return str(meta[ANNOTATOR_TYPE_KEY])
    if not _is_annotation_type(field.dataType):
        raise SchemaError(
            f"Column '{column}' is of type {field.dataType.simpleString()}, not an annotation column."
        )
    return None


class AnnotatorTransformer(  # type: ignore[misc]
    TypedParams,
    Transformer,
    HasInputCols,
    HasOutputCol,
    DefaultParamsReadable,  # type: ignore[type-arg]
    DefaultParamsWritable,
):
    """Base class of sparkbert's annotator stages (not used directly).

    Subclasses declare ``inputAnnotatorTypes`` (one entry per input column, each a
    tuple of accepted annotator types, or ``RAW_TEXT`` for a string column),
    ``outputAnnotatorType``, and implement ``_annotator``.

    Examples
    --------
    >>> from sparkbert import Tokenizer
    >>> Tokenizer.outputAnnotatorType
    'token'
    """

    inputAnnotatorTypes: ClassVar[tuple[tuple[str, ...], ...]] = ()
    outputAnnotatorType: ClassVar[str] = ""
    #: rows handed to the annotator at once inside a task
    chunkRows: ClassVar[int] = 1024

    def _annotator(self, schema: StructType | None, spark: SparkSession | None) -> BatchAnnotator:
        """The batch annotator for input ``schema``; ``spark`` is None in-process (LightPipeline).

        The one hook of a stage, shared by ``transform`` and LightPipeline: a stage that runs a
        model ships it to the cluster when given a session.
        """
        raise NotImplementedError

    def _output_metadata(self, schema: StructType) -> dict[str, Any]:
        """Column metadata of the output, given the input schema."""
        del schema
        return {ANNOTATOR_TYPE_KEY: self.outputAnnotatorType}

    def _input_kinds(self) -> list[str]:
        return [RAW_TEXT if types == (RAW_TEXT,) else "annotation" for types in self.inputAnnotatorTypes]

    def transformSchema(self, schema: StructType) -> StructType:
        """Check the input columns and return the output schema, on the driver, before any job.

        Raises ``SchemaError`` naming the column and what was expected.

        Examples
        --------
        >>> from pyspark.sql.types import StructType, StructField, StringType
        >>> from sparkbert import DocumentAssembler
        >>> out = DocumentAssembler().transformSchema(StructType([StructField("text", StringType())]))
        >>> out.fieldNames()
        ['text', 'document']
        """
        cols = self.getInputCols()
        if len(cols) != len(self.inputAnnotatorTypes):
            expected = ", ".join("|".join(t) for t in self.inputAnnotatorTypes)
            raise SchemaError(
                f"{type(self).__name__} takes {len(self.inputAnnotatorTypes)} input column(s) of "
                f"annotator types [{expected}] in param 'inputCols', got {cols!r}."
            )
        for col, accepted in zip(cols, self.inputAnnotatorTypes):
            if col not in schema.fieldNames():
                raise SchemaError(
                    f"Input column '{col}' of {type(self).__name__} (param 'inputCols') is missing; "
                    f"available columns: {schema.fieldNames()}."
                )
            if accepted == (RAW_TEXT,):
                if not isinstance(schema[col].dataType, StringType):
                    raise SchemaError(
                        f"Input column '{col}' of {type(self).__name__} must be a string column, "
                        f"got {schema[col].dataType.simpleString()}."
                    )
                continue
            actual = annotation_column_type(schema, col)
            if actual is not None and actual not in accepted:
                raise SchemaError(
                    f"Input column '{col}' of {type(self).__name__} holds '{actual}' annotations; "
                    f"expected annotator type {' or '.join(repr(t) for t in accepted)}."
                )
        return self._append_output(schema)

    def _append_output(self, schema: StructType) -> StructType:
        out = self.getOutputCol()
        if out in schema.fieldNames():
            raise SchemaError(
                f"Output column '{out}' of {type(self).__name__} (param 'outputCol') already exists; "
                "choose another name or drop the column."
            )
        return StructType(
            [*schema.fields, StructField(out, annotation_array_type(), True, self._output_metadata(schema))]
        )

    def _transform(self, dataset: DataFrame) -> DataFrame:
        out_schema = self.transformSchema(dataset.schema)
        step = AnnotationStep(
            tuple(self.getInputCols()),
            tuple(self._input_kinds()),
            self.getOutputCol(),
            self._annotator(dataset.schema, dataset.sparkSession),
            self.chunkRows,
        )
        return annotate_dataframe(dataset, step, out_schema)


def _arrow_safe_schema(schema: StructType) -> StructType:
    """Drop column metadata, which mapInArrow does not need and Connect may not carry."""
    return StructType([StructField(f.name, f.dataType, f.nullable) for f in schema.fields])


@dataclass(frozen=True)
class _Chain:
    source: DataFrame
    steps: tuple[AnnotationStep, ...]


#: How each DataFrame that sparkbert returned was made: the DataFrame its chain of stages
#: started from and the steps since. Consulted by the next stage to fuse with the last ones.
_CHAINS: weakref.WeakKeyDictionary[DataFrame, _Chain] = weakref.WeakKeyDictionary()


def _fusable(dataset: DataFrame) -> _Chain | None:
    chain = _CHAINS.get(dataset)
    if chain is None:
        return None
    try:
        if dataset.is_cached:  # the user persisted the intermediate result: start from it
            return None
    except Exception:  # pragma: no cover - a session that cannot tell: do not fuse
        return None
    return chain


def annotate_dataframe(dataset: DataFrame, step: AnnotationStep, out_schema: StructType) -> DataFrame:
    """Append ``step.output_col`` = ``step.annotator(input columns)`` to every row, via ``mapInArrow``.

    Consecutive sparkbert stages run in ONE ``mapInArrow``: when ``dataset`` is the
    unpersisted output of earlier sparkbert stages (as inside ``PipelineModel.transform``),
    the new step is appended to theirs and the whole chain runs from the chain's source.
    One Python worker per task then does all the work (instead of one per stage, each
    holding its own memory), rows cross the JVM/Python boundary once, and intermediate
    annotations stay Python objects. The result has the same columns, values and metadata.
    Rows are never dropped or reordered within a partition.

    Examples
    --------
    >>> from sparkbert import DocumentAssembler
    >>> DocumentAssembler().chunkRows
    1024
    """
    chain = _fusable(dataset)
    source, steps = (chain.source, (*chain.steps, step)) if chain else (dataset, (step,))
    mapped = source.mapInArrow(fused_batches(steps), _arrow_safe_schema(out_schema))
    out = mapped.select(
        *[
            F.col(f.name).alias(f.name, metadata=f.metadata) if f.metadata else F.col(f.name)
            for f in out_schema.fields
        ]
    )
    _CHAINS[out] = _Chain(source, steps)
    return out
