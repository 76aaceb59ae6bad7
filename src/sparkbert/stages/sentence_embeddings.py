"""SentenceEmbeddings: word embeddings → one vector per sentence (or document).

| input | output |
| --- | --- |
| ``document``, ``word_embeddings`` | ``sentence_embeddings`` |
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from pyspark.ml.param import Param
from pyspark.sql import SparkSession
from pyspark.sql.types import StructType

from sparkbert.annotation import (
    ANNOTATOR_TYPE_KEY,
    DOCUMENT,
    SENTENCE_EMBEDDINGS,
    WORD_EMBEDDINGS,
)
from sparkbert.errors import SchemaError
from sparkbert.params import choice, param
from sparkbert.runtime.sentence_pooling import SENTENCE_POOLING, PoolSentences
from sparkbert.stages.base import AnnotatorTransformer
from sparkbert.stages.steps import BatchAnnotator


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
        return PoolSentences(self.getPoolingStrategy(), self._dimension(schema) if schema is not None else 0)
