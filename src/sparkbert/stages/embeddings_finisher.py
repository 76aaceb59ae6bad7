"""EmbeddingsFinisher: embedding annotations → plain arrays or ``pyspark.ml`` vectors.

| input | output |
| --- | --- |
| ``word_embeddings`` or ``sentence_embeddings`` (n) | ``array<array<float>>`` or ``array<vector>`` (n) |
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
from pyspark.ml import Transformer
from pyspark.ml.functions import array_to_vector
from pyspark.ml.linalg import DenseVector, VectorUDT
from pyspark.ml.param import Param
from pyspark.ml.util import DefaultParamsReadable, DefaultParamsWritable
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import ArrayType, FloatType, StructField, StructType

from sparkbert.annotation import SENTENCE_EMBEDDINGS, WORD_EMBEDDINGS
from sparkbert.annotation_column import AnnotationColumn
from sparkbert.errors import SchemaError
from sparkbert.params import HasInputCols, TypedParams, boolean, param, string_list
from sparkbert.stages.base import _is_annotation_type, annotation_column_type

_ACCEPTED = (WORD_EMBEDDINGS, SENTENCE_EMBEDDINGS)


class EmbeddingsFinisher(  # type: ignore[misc]
    TypedParams,
    Transformer,
    HasInputCols,
    DefaultParamsReadable,  # type: ignore[type-arg]
    DefaultParamsWritable,
):
    """Turn embedding annotations into columns that pyspark.ml estimators read.

    For each input column, writes one output column holding the vectors of its
    annotations, in order: ``array<array<float>>`` by default, or ``array<vector>``
    (``pyspark.ml.linalg.VectorUDT``) with ``outputAsVector``. A null annotation
    array gives an empty array; rows are never dropped.

    Attributes
    ----------
    inputCols : list of str, default ["embeddings"]
    outputCols : list of str, default ``finished_<input>`` per input
    outputAsVector : bool, default False
    cleanAnnotations : bool, default False
        Drop every annotation column from the output.

    Examples
    --------
    >>> from pyspark.sql import SparkSession
    >>> from sparkbert.annotation import Annotation, annotation_array_type
    >>> from pyspark.sql.types import StructType, StructField
    >>> spark = SparkSession.builder.master("local[1]").getOrCreate()
    >>> schema = StructType([StructField("embeddings", annotation_array_type(), True,
    ...                                  {"annotatorType": "word_embeddings"})])
    >>> ann = Annotation("word_embeddings", 0, 1, "Hi", {}, [0.5, 1.0])
    >>> df = spark.createDataFrame([([ann.to_row()],)], schema)
    >>> EmbeddingsFinisher().transform(df).first().finished_embeddings
    [[0.5, 1.0]]
    """

    paramDefaults: ClassVar[Mapping[str, Any]] = {"inputCols": ["embeddings"]}

    outputCols: Param[list[str]] = param("outputCols", "output column names", string_list)
    outputAsVector: Param[bool] = param("outputAsVector", "write pyspark.ml vectors", boolean, default=False)
    cleanAnnotations: Param[bool] = param(
        "cleanAnnotations", "drop annotation columns", boolean, default=False
    )

    def setOutputCols(self, *value: str | list[str]) -> EmbeddingsFinisher:
        """Set the output column names, one per input column.

        Examples
        --------
        >>> EmbeddingsFinisher().setOutputCols("vectors").getOutputCols()
        ['vectors']
        """
        cols = list(value[0]) if len(value) == 1 and not isinstance(value[0], str) else list(value)
        return self._set(outputCols=cols)  # type: ignore[no-any-return]

    def getOutputCols(self) -> list[str]:
        """Return the output column names (``finished_<input>`` unless set).

        Examples
        --------
        >>> EmbeddingsFinisher().setInputCols("embeddings").getOutputCols()
        ['finished_embeddings']
        """
        if self.isDefined(self.outputCols):
            return self.getOrDefault(self.outputCols)  # type: ignore[no-any-return]
        return [f"finished_{c}" for c in self.getInputCols()]

    def transformSchema(self, schema: StructType) -> StructType:
        """Check the input columns on the driver and return the output schema.

        Examples
        --------
        >>> from pyspark.sql.types import StructType
        >>> EmbeddingsFinisher().transformSchema(StructType([]))
        Traceback (most recent call last):
        ...
        sparkbert.errors.SchemaError: Input column 'embeddings' of EmbeddingsFinisher (param 'inputCols') is missing; available columns: [].
        """
        inputs, outputs = self.getInputCols(), self.getOutputCols()
        if len(inputs) != len(outputs):
            raise SchemaError(
                f"EmbeddingsFinisher needs one output column per input column: param 'inputCols' "
                f"has {inputs!r}, param 'outputCols' has {outputs!r}."
            )
        for col in inputs:
            if col not in schema.fieldNames():
                raise SchemaError(
                    f"Input column '{col}' of EmbeddingsFinisher (param 'inputCols') is missing; "
                    f"available columns: {schema.fieldNames()}."
                )
            actual = annotation_column_type(schema, col)
            if actual is not None and actual not in _ACCEPTED:
                raise SchemaError(
                    f"Input column '{col}' of EmbeddingsFinisher holds '{actual}' annotations; "
                    f"expected annotator type 'word_embeddings' or 'sentence_embeddings'."
                )
        for col in outputs:
            if col in schema.fieldNames() and col not in inputs:
                raise SchemaError(
                    f"Output column '{col}' of EmbeddingsFinisher (param 'outputCols') already exists."
                )
        element = finished_type(self.getOutputAsVector())
        kept = [f for f in schema.fields if not self._dropped(f)]
        return StructType([*kept, *(StructField(c, ArrayType(element, False), False) for c in outputs)])

    def _dropped(self, field: StructField) -> bool:
        if field.name in self.getOutputCols():
            return True
        return self.getCleanAnnotations() and _is_annotation_type(field.dataType)

    def _finish(self, col: str) -> Column:
        if self.getOutputAsVector():
            finished = F.transform(F.col(col), lambda a: array_to_vector(a["embeddings"]))
        else:
            finished = F.transform(F.col(col), lambda a: a["embeddings"])
        return F.coalesce(finished, F.array().cast(ArrayType(finished_type(self.getOutputAsVector()))))

    def finish_rows(self, values: dict[str, list[Any]], schema: StructType) -> None:
        """Do this stage's work on in-process column values of ``schema`` (LightPipeline's path).

        Vectors come out as ``collect()`` gives them; dropped columns are removed from ``values``.
        """
        as_vector = self.getOutputAsVector()
        finished = {
            out: finish_column(values[col], as_vector)
            for col, out in zip(self.getInputCols(), self.getOutputCols())
        }
        for field in schema.fields:
            if self._dropped(field):
                values.pop(field.name, None)
        values.update(finished)

    def _transform(self, dataset: DataFrame) -> DataFrame:
        self.transformSchema(dataset.schema)
        new_cols = [self._finish(i).alias(o) for i, o in zip(self.getInputCols(), self.getOutputCols())]
        kept = [F.col(f.name) for f in dataset.schema.fields if not self._dropped(f)]
        return dataset.select(*kept, *new_cols)


def finish_column(rows: Sequence[Sequence[Any] | None], as_vector: bool) -> list[list[Any]]:
    """The vectors of each row's annotations as ``finish_vector`` gives them (a column's buffer at once)."""
    if isinstance(rows, AnnotationColumn) and rows.embeddings is not None:
        vectors = list(rows.embeddings.astype(np.float64)) if as_vector else rows.embeddings.tolist()
        if as_vector:
            vectors = [DenseVector(v) for v in vectors]
        bounds = rows.offsets.tolist()
        return [vectors[a:b] for a, b in itertools.pairwise(bounds)]
    return [[finish_vector(a.embeddings, as_vector) for a in row or []] for row in rows]


def finish_vector(vector: Any, as_vector: bool) -> Any:
    """One embedding as ``collect()`` returns it: a list of floats, or a ``DenseVector``."""
    floats = np.asarray(vector, dtype=np.float32)
    return DenseVector(floats.astype(np.float64)) if as_vector else floats.tolist()


def finished_type(as_vector: bool) -> VectorUDT | ArrayType:
    """Return the element type EmbeddingsFinisher writes.

    Examples
    --------
    >>> finished_type(False).simpleString()
    'array<float>'
    """
    return VectorUDT() if as_vector else ArrayType(FloatType(), False)
