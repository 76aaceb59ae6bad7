"""SentenceDetector: ``document`` → one annotation per sentence, with exact offsets.

| input | output |
| --- | --- |
| ``document`` | ``document`` |
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from pyspark.ml.param import Param
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StructType

from sparkbert.annotation import DOCUMENT
from sparkbert.params import boolean, integer, nonblank_string_list, param
from sparkbert.stages.base import AnnotatorTransformer
from sparkbert.stages.steps import BatchAnnotator, DetectSentences


class SentenceDetector(AnnotatorTransformer):
    """Split documents into sentences with multilingual rules and exact offsets.

    Sentence annotations carry metadata ``sentence`` (their index in the row) and
    satisfy ``text[begin:end + 1] == result``. Nothing is dropped: a sentence longer
    than ``maxLength`` is split at whitespace, and one shorter than ``minLength`` is
    merged into its neighbour.

    Attributes
    ----------
    inputCols : list of str, default ["document"]
    outputCol : str, default "sentence"
    explodeSentences : bool, default False
        Emit one row per sentence (other columns repeated), as Spark NLP.
    maxLength : int, default 0
        Longest sentence in characters; 0 means no limit.
    minLength : int, default 0
    customBounds : list of str, default []
        Extra strings that end a sentence.
    useCustomBoundsOnly : bool, default False

    Examples
    --------
    >>> from pyspark.sql import SparkSession
    >>> from sparkbert import DocumentAssembler
    >>> spark = SparkSession.builder.master("local[1]").getOrCreate()
    >>> df = DocumentAssembler().transform(spark.createDataFrame([("Hi. Bye!",)], ["text"]))
    >>> [s.result for s in SentenceDetector().transform(df).first().sentence]
    ['Hi.', 'Bye!']
    """

    inputAnnotatorTypes = ((DOCUMENT,),)
    outputAnnotatorType = DOCUMENT

    paramDefaults: ClassVar[Mapping[str, Any]] = {"inputCols": ["document"], "outputCol": "sentence"}

    explodeSentences: Param[bool] = param("explodeSentences", "one row per sentence", boolean, default=False)
    maxLength: Param[int] = param(
        "maxLength", "longest sentence in characters (0: no limit)", integer(0), default=0
    )
    minLength: Param[int] = param(
        "minLength", "shorter sentences are merged into a neighbour", integer(0), default=0
    )
    customBounds: Param[list[str]] = param(
        "customBounds", "extra strings that end a sentence", nonblank_string_list, default=[]
    )
    useCustomBoundsOnly: Param[bool] = param(
        "useCustomBoundsOnly", "split only at customBounds", boolean, default=False
    )

    def _annotator(self, schema: StructType | None, spark: SparkSession | None) -> BatchAnnotator:
        return DetectSentences(
            max_length=self.getMaxLength() or None,
            min_length=self.getMinLength(),
            custom_bounds=tuple(self.getCustomBounds()),
            use_custom_bounds_only=self.getUseCustomBoundsOnly(),
        )

    def _transform(self, dataset: DataFrame) -> DataFrame:
        out = super()._transform(dataset)
        if not self.getExplodeSentences():
            return out
        col = self.getOutputCol()
        meta = out.schema[col].metadata
        exploded = out.withColumn(col, F.explode_outer(F.col(col)))
        value = F.when(F.col(col).isNull(), F.array().cast(out.schema[col].dataType)).otherwise(
            F.array(F.col(col))
        )
        # withMetadata, not alias(metadata=...): Spark Connect drops metadata set inside withColumn
        return exploded.withColumn(col, value).withMetadata(col, meta)
