"""SentenceDetector: ``document`` → one annotation per sentence, with exact offsets.

==============  ===============
input           output
==============  ===============
``document``    ``document``
==============  ===============
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pyspark import keyword_only
from pyspark.ml.param import Param, Params, TypeConverters
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from sparkbert.annotation import DOCUMENT, Annotation
from sparkbert.params import check_range
from sparkbert.stages.base import AnnotatorTransformer, BatchAnnotator
from sparkbert.text.sentences import detect_sentences


class _DetectSentences:
    """Picklable batch annotator: documents → sentences."""

    def __init__(self, **options: Any) -> None:
        self.options = options

    def __call__(self, columns: Sequence[Sequence[Any]]) -> list[list[Annotation]]:
        out = []
        for docs in columns[0]:
            sentences: list[Annotation] = []
            for doc in docs:
                found = detect_sentences(doc, **self.options)
                offset = len(sentences)
                sentences.extend(
                    Annotation(
                        s.annotator_type,
                        s.begin,
                        s.end,
                        s.result,
                        {**s.metadata, "sentence": str(offset + i)},
                    )
                    for i, s in enumerate(found)
                )
            out.append(sentences)
        return out


class SentenceDetector(AnnotatorTransformer):
    """Split documents into sentences with multilingual rules and exact offsets.

    Sentence annotations carry metadata ``sentence`` (their index in the row) and
    satisfy ``text[begin:end + 1] == result``. Nothing is dropped: a sentence longer
    than ``maxLength`` is split at whitespace, and one shorter than ``minLength`` is
    merged into its neighbour.

    Parameters
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

    explodeSentences: Param[bool] = Param(
        Params._dummy(), "explodeSentences", "one row per sentence", TypeConverters.toBoolean
    )
    maxLength: Param[int] = Param(
        Params._dummy(), "maxLength", "longest sentence in characters (0: no limit)", TypeConverters.toInt
    )
    minLength: Param[int] = Param(
        Params._dummy(), "minLength", "shorter sentences are merged into a neighbour", TypeConverters.toInt
    )
    customBounds: Param[list[str]] = Param(
        Params._dummy(), "customBounds", "extra strings that end a sentence", TypeConverters.toListString
    )
    useCustomBoundsOnly: Param[bool] = Param(
        Params._dummy(), "useCustomBoundsOnly", "split only at customBounds", TypeConverters.toBoolean
    )

    @keyword_only
    def __init__(
        self,
        *,
        inputCols: list[str] | None = None,
        outputCol: str = "sentence",
        explodeSentences: bool = False,
        maxLength: int = 0,
        minLength: int = 0,
        customBounds: list[str] | None = None,
        useCustomBoundsOnly: bool = False,
    ) -> None:
        super().__init__()
        self._setDefault(
            inputCols=["document"],
            outputCol="sentence",
            explodeSentences=False,
            maxLength=0,
            minLength=0,
            customBounds=[],
            useCustomBoundsOnly=False,
        )
        self.setParams(**self._input_kwargs)

    @keyword_only
    def setParams(
        self,
        *,
        inputCols: list[str] | None = None,
        outputCol: str = "sentence",
        explodeSentences: bool = False,
        maxLength: int = 0,
        minLength: int = 0,
        customBounds: list[str] | None = None,
        useCustomBoundsOnly: bool = False,
    ) -> SentenceDetector:
        """Set params by keyword; returns ``self``.

        Examples
        --------
        >>> SentenceDetector().setParams(maxLength=200).getMaxLength()
        200
        """
        kwargs = {k: v for k, v in self._input_kwargs.items() if v is not None}
        for name in ("maxLength", "minLength"):
            if name in kwargs:
                check_range(name, kwargs[name], 0)
        return self._set(**kwargs)  # type: ignore[no-any-return]

    def setExplodeSentences(self, value: bool) -> SentenceDetector:
        """Emit one row per sentence.

        Examples
        --------
        >>> SentenceDetector().setExplodeSentences(True).getExplodeSentences()
        True
        """
        return self._set(explodeSentences=value)  # type: ignore[no-any-return]

    def getExplodeSentences(self) -> bool:
        """Return whether one row per sentence is emitted.

        Examples
        --------
        >>> SentenceDetector().getExplodeSentences()
        False
        """
        return self.getOrDefault(self.explodeSentences)  # type: ignore[no-any-return]

    def setMaxLength(self, value: int) -> SentenceDetector:
        """Set the longest sentence in characters (0: no limit).

        Examples
        --------
        >>> SentenceDetector().setMaxLength(500).getMaxLength()
        500
        """
        return self._set(maxLength=check_range("maxLength", value, 0))  # type: ignore[no-any-return]

    def getMaxLength(self) -> int:
        """Return the longest sentence in characters (0: no limit).

        Examples
        --------
        >>> SentenceDetector().getMaxLength()
        0
        """
        return self.getOrDefault(self.maxLength)  # type: ignore[no-any-return]

    def setMinLength(self, value: int) -> SentenceDetector:
        """Set the shortest sentence in characters.

        Examples
        --------
        >>> SentenceDetector().setMinLength(3).getMinLength()
        3
        """
        return self._set(minLength=check_range("minLength", value, 0))  # type: ignore[no-any-return]

    def getMinLength(self) -> int:
        """Return the shortest sentence in characters.

        Examples
        --------
        >>> SentenceDetector().getMinLength()
        0
        """
        return self.getOrDefault(self.minLength)  # type: ignore[no-any-return]

    def setCustomBounds(self, value: list[str]) -> SentenceDetector:
        """Set extra strings that end a sentence.

        Examples
        --------
        >>> SentenceDetector().setCustomBounds([";"]).getCustomBounds()
        [';']
        """
        return self._set(customBounds=value)  # type: ignore[no-any-return]

    def getCustomBounds(self) -> list[str]:
        """Return the extra strings that end a sentence.

        Examples
        --------
        >>> SentenceDetector().getCustomBounds()
        []
        """
        return self.getOrDefault(self.customBounds)  # type: ignore[no-any-return]

    def setUseCustomBoundsOnly(self, value: bool) -> SentenceDetector:
        """Split only at ``customBounds``.

        Examples
        --------
        >>> SentenceDetector().setUseCustomBoundsOnly(True).getUseCustomBoundsOnly()
        True
        """
        return self._set(useCustomBoundsOnly=value)  # type: ignore[no-any-return]

    def getUseCustomBoundsOnly(self) -> bool:
        """Return whether only ``customBounds`` split.

        Examples
        --------
        >>> SentenceDetector().getUseCustomBoundsOnly()
        False
        """
        return self.getOrDefault(self.useCustomBoundsOnly)  # type: ignore[no-any-return]

    def _annotator(self) -> BatchAnnotator:
        return _DetectSentences(
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
