"""Tokenizer: sentences → ``token`` annotations with exact offsets.

==============  ===============
input           output
==============  ===============
``document``    ``token``
==============  ===============
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from pyspark import keyword_only
from pyspark.ml.param import Param, Params, TypeConverters

from sparkbert.annotation import DOCUMENT, TOKEN, Annotation
from sparkbert.errors import InvalidParamError
from sparkbert.params import check_range
from sparkbert.stages.base import AnnotatorTransformer, BatchAnnotator
from sparkbert.text.tokens import tokenize


class _Tokenize:
    """Picklable batch annotator: sentences → tokens."""

    def __init__(self, **options: Any) -> None:
        self.options = options

    def __call__(self, columns: Sequence[Sequence[Any]]) -> list[list[Annotation]]:
        return [tokenize(sentences, **self.options) for sentences in columns[0]]


class Tokenizer(AnnotatorTransformer):
    """Split sentences into tokens: words, numbers, punctuation, symbols, emoji.

    Splits on Unicode whitespace and separates punctuation and symbols from words,
    but keeps numbers (``3.14``, ``1,000``), abbreviations (``U.S.``), URLs, e-mail
    addresses, hashtags and emoji sequences whole. Each Han character is its own
    token by default, as BERT treats them (``splitHan=False`` keeps Han runs whole).
    Every token satisfies ``text[begin:end + 1] == result`` and carries metadata
    ``sentence``.

    Parameters
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

    splitHan: Param[bool] = Param(
        Params._dummy(), "splitHan", "each Han character is a token", TypeConverters.toBoolean
    )
    splitChars: Param[list[str]] = Param(
        Params._dummy(), "splitChars", "extra characters that always split", TypeConverters.toListString
    )
    splitPattern: Param[str] = Param(
        Params._dummy(), "splitPattern", "regex whose matches separate tokens", TypeConverters.toString
    )
    exceptions: Param[list[str]] = Param(
        Params._dummy(), "exceptions", "strings never split", TypeConverters.toListString
    )
    minLength: Param[int] = Param(Params._dummy(), "minLength", "shortest token kept", TypeConverters.toInt)
    maxLength: Param[int] = Param(
        Params._dummy(), "maxLength", "longest token kept (0: no limit)", TypeConverters.toInt
    )

    @keyword_only
    def __init__(
        self,
        *,
        inputCols: list[str] | None = None,
        outputCol: str = "token",
        splitHan: bool = True,
        splitChars: list[str] | None = None,
        splitPattern: str = "",
        exceptions: list[str] | None = None,
        minLength: int = 0,
        maxLength: int = 0,
    ) -> None:
        super().__init__()
        self._setDefault(
            inputCols=["sentence"],
            outputCol="token",
            splitHan=True,
            splitChars=[],
            splitPattern="",
            exceptions=[],
            minLength=0,
            maxLength=0,
        )
        self.setParams(**self._input_kwargs)

    @keyword_only
    def setParams(
        self,
        *,
        inputCols: list[str] | None = None,
        outputCol: str = "token",
        splitHan: bool = True,
        splitChars: list[str] | None = None,
        splitPattern: str = "",
        exceptions: list[str] | None = None,
        minLength: int = 0,
        maxLength: int = 0,
    ) -> Tokenizer:
        """Set params by keyword; returns ``self``.

        Examples
        --------
        >>> Tokenizer().setParams(splitHan=False).getSplitHan()
        False
        """
        kwargs = {k: v for k, v in self._input_kwargs.items() if v is not None}
        for name in ("minLength", "maxLength"):
            if name in kwargs:
                check_range(name, kwargs[name], 0)
        if kwargs.get("splitPattern"):
            _check_pattern(kwargs["splitPattern"])
        return self._set(**kwargs)  # type: ignore[no-any-return]

    def setSplitHan(self, value: bool) -> Tokenizer:
        """Make each Han character its own token (default True).

        Examples
        --------
        >>> Tokenizer().setSplitHan(False).getSplitHan()
        False
        """
        return self._set(splitHan=value)  # type: ignore[no-any-return]

    def getSplitHan(self) -> bool:
        """Return whether each Han character is its own token.

        Examples
        --------
        >>> Tokenizer().getSplitHan()
        True
        """
        return self.getOrDefault(self.splitHan)  # type: ignore[no-any-return]

    def setSplitChars(self, value: list[str]) -> Tokenizer:
        """Set extra characters that always split.

        Examples
        --------
        >>> Tokenizer().setSplitChars(["-"]).getSplitChars()
        ['-']
        """
        return self._set(splitChars=value)  # type: ignore[no-any-return]

    def getSplitChars(self) -> list[str]:
        """Return the extra split characters.

        Examples
        --------
        >>> Tokenizer().getSplitChars()
        []
        """
        return self.getOrDefault(self.splitChars)  # type: ignore[no-any-return]

    def setSplitPattern(self, value: str) -> Tokenizer:
        """Set a regular expression whose matches separate tokens.

        Examples
        --------
        >>> Tokenizer().setSplitPattern("_").getSplitPattern()
        '_'
        """
        return self._set(splitPattern=_check_pattern(value))  # type: ignore[no-any-return]

    def getSplitPattern(self) -> str:
        """Return the split pattern ('' for none).

        Examples
        --------
        >>> Tokenizer().getSplitPattern()
        ''
        """
        return self.getOrDefault(self.splitPattern)  # type: ignore[no-any-return]

    def setExceptions(self, value: list[str]) -> Tokenizer:
        """Set strings that are never split.

        Examples
        --------
        >>> Tokenizer().setExceptions(["New York"]).getExceptions()
        ['New York']
        """
        return self._set(exceptions=value)  # type: ignore[no-any-return]

    def getExceptions(self) -> list[str]:
        """Return the strings never split.

        Examples
        --------
        >>> Tokenizer().getExceptions()
        []
        """
        return self.getOrDefault(self.exceptions)  # type: ignore[no-any-return]

    def setMinLength(self, value: int) -> Tokenizer:
        """Keep only tokens at least this long.

        Examples
        --------
        >>> Tokenizer().setMinLength(2).getMinLength()
        2
        """
        return self._set(minLength=check_range("minLength", value, 0))  # type: ignore[no-any-return]

    def getMinLength(self) -> int:
        """Return the shortest token kept.

        Examples
        --------
        >>> Tokenizer().getMinLength()
        0
        """
        return self.getOrDefault(self.minLength)  # type: ignore[no-any-return]

    def setMaxLength(self, value: int) -> Tokenizer:
        """Keep only tokens at most this long (0: no limit).

        Examples
        --------
        >>> Tokenizer().setMaxLength(20).getMaxLength()
        20
        """
        return self._set(maxLength=check_range("maxLength", value, 0))  # type: ignore[no-any-return]

    def getMaxLength(self) -> int:
        """Return the longest token kept (0: no limit).

        Examples
        --------
        >>> Tokenizer().getMaxLength()
        0
        """
        return self.getOrDefault(self.maxLength)  # type: ignore[no-any-return]

    def _annotator(self) -> BatchAnnotator:
        return _Tokenize(
            split_han=self.getSplitHan(),
            split_chars=tuple(self.getSplitChars()),
            split_pattern=self.getSplitPattern() or None,
            exceptions=tuple(self.getExceptions()),
            min_length=self.getMinLength(),
            max_length=self.getMaxLength() or None,
        )


def _check_pattern(pattern: str) -> str:
    try:
        re.compile(pattern)
    except re.error as e:
        raise InvalidParamError.for_param("splitPattern", pattern, f"a valid regular expression ({e})") from e
    return pattern
