"""Tokenizer: sentences → ``token`` annotations with exact offsets.

| input | output |
| --- | --- |
| ``document`` | ``token`` |
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from pyspark.ml.param import Param
from pyspark.sql import SparkSession
from pyspark.sql.types import StructType

from sparkbert.annotation import DOCUMENT, TOKEN
from sparkbert.params import boolean, integer, nonblank_string_list, param, regex
from sparkbert.stages.base import AnnotatorTransformer
from sparkbert.stages.steps import BatchAnnotator, Tokenize


class Tokenizer(AnnotatorTransformer):
    """Split sentences into tokens: words, numbers, punctuation, symbols, emoji.

    Splits on Unicode whitespace and separates punctuation and symbols from words,
    but keeps numbers (``3.14``, ``1,000``), abbreviations (``U.S.``), URLs, e-mail
    addresses, hashtags and emoji sequences whole. Each Han character is its own
    token by default, as BERT treats them (``splitHan=False`` keeps Han runs whole).
    Every token satisfies ``text[begin:end + 1] == result`` and carries metadata
    ``sentence``.

    Attributes
    ----------
    inputCols : list of str, default ["sentence"]
    outputCol : str, default "token"
    splitHan : bool, default True
    splitChars : list of str
        Extra characters that always split.
    splitPattern : str
        A regular expression whose matches separate tokens.
    exceptions : list of str
        Strings never split (matched case-sensitively), e.g. ``"New York"``.
    minLength, maxLength : int
        Keep only tokens of these lengths (0: no limit).

    Examples
    --------
    >>> from pyspark.sql import SparkSession
    >>> from sparkbert import DocumentAssembler, SentenceDetector
    >>> spark = SparkSession.builder.master("local[1]").getOrCreate()
    >>> df = spark.createDataFrame([("It costs 3.14 € in the U.S.",)], ["text"])
    >>> df = SentenceDetector().transform(DocumentAssembler().transform(df))
    >>> [t.result for t in Tokenizer().transform(df).first().token]
    ['It', 'costs', '3.14', '€', 'in', 'the', 'U.S.']
    """

    inputAnnotatorTypes = ((DOCUMENT,),)
    outputAnnotatorType = TOKEN

    paramDefaults: ClassVar[Mapping[str, Any]] = {"inputCols": ["sentence"], "outputCol": "token"}

    splitHan: Param[bool] = param("splitHan", "each Han character is a token", boolean, default=True)
    splitChars: Param[list[str]] = param(
        "splitChars", "extra characters that always split", nonblank_string_list, default=[]
    )
    splitPattern: Param[str] = param("splitPattern", "regex whose matches separate tokens", regex, default="")
    exceptions: Param[list[str]] = param(
        "exceptions", "strings never split", nonblank_string_list, default=[]
    )
    minLength: Param[int] = param("minLength", "shortest token kept", integer(0), default=0)
    maxLength: Param[int] = param("maxLength", "longest token kept (0: no limit)", integer(0), default=0)

    def _annotator(self, schema: StructType | None, spark: SparkSession | None) -> BatchAnnotator:
        return Tokenize(
            split_han=self.getSplitHan(),
            split_chars=tuple(self.getSplitChars()),
            split_pattern=self.getSplitPattern() or None,
            exceptions=tuple(self.getExceptions()),
            min_length=self.getMinLength(),
            max_length=self.getMaxLength() or None,
        )
