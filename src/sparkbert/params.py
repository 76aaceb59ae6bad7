"""Typed ``Param`` mixins shared by the stages (the pyspark.ml ``param/shared.py`` pattern).

Each mixin declares its Param at class level with a type converter and a doc
string, sets its default with ``_setDefault`` and offers a camelCase setter that
returns ``self`` and a getter that goes through ``getOrDefault``.

Examples
--------
>>> from sparkbert import Tokenizer
>>> Tokenizer().setInputCols("sentence").getInputCols()
['sentence']
"""

from __future__ import annotations

from typing import Any, TypeVar

from pyspark.ml.param import Param, Params, TypeConverters

from sparkbert.errors import InvalidParamError

_P = TypeVar("_P", bound="Params")


def _to_list_string(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    return TypeConverters.toListString(value)


def check_choice(param: str, value: Any, valid: tuple[str, ...]) -> Any:
    """Return ``value`` if it is one of ``valid``, else raise naming param, value and choices.

    Examples
    --------
    >>> check_choice("poolingStrategy", "mean", ("first", "mean", "last"))
    'mean'
    """
    if value not in valid:
        raise InvalidParamError.for_param(param, value, valid)
    return value


def check_range(param: str, value: Any, low: int, high: int | None = None) -> int:
    """Return ``value`` as int if ``low <= value (<= high)``, else raise a clear error.

    Examples
    --------
    >>> check_range("batchSize", 8, 1)
    8
    """
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidParamError.for_param(param, value, "an integer")
    if value < low or (high is not None and value > high):
        bound = f"an integer >= {low}" if high is None else f"an integer from {low} to {high}"
        raise InvalidParamError.for_param(param, value, bound)
    return value


class HasInputCols(Params):
    """Mixin for the ``inputCols`` param: the annotation columns a stage reads.

    Examples
    --------
    >>> from sparkbert import BertEmbeddings
    >>> BertEmbeddings().setInputCols(["sentence", "token"]).getInputCols()
    ['sentence', 'token']
    """

    inputCols: Param[list[str]] = Param(
        Params._dummy(), "inputCols", "input annotation column names", typeConverter=_to_list_string
    )

    def setInputCols(self: _P, *value: str | list[str]) -> _P:
        """Set the input annotation columns, as arguments or one list.

        Examples
        --------
        >>> from sparkbert import Tokenizer
        >>> Tokenizer().setInputCols(["sentence"]).getInputCols()
        ['sentence']
        """
        cols = list(value[0]) if len(value) == 1 and not isinstance(value[0], str) else list(value)
        return self._set(inputCols=cols)  # type: ignore[no-any-return]

    def getInputCols(self) -> list[str]:
        """Return the input annotation columns.

        Examples
        --------
        >>> from sparkbert import Tokenizer
        >>> Tokenizer().getInputCols()
        ['sentence']
        """
        return self.getOrDefault(self.inputCols)  # type: ignore[no-any-return]


class HasOutputCol(Params):
    """Mixin for the ``outputCol`` param: the column a stage writes.

    Examples
    --------
    >>> from sparkbert import Tokenizer
    >>> Tokenizer().setOutputCol("words").getOutputCol()
    'words'
    """

    outputCol: Param[str] = Param(
        Params._dummy(), "outputCol", "output column name", typeConverter=TypeConverters.toString
    )

    def setOutputCol(self: _P, value: str) -> _P:
        """Set the output column name.

        Examples
        --------
        >>> from sparkbert import DocumentAssembler
        >>> DocumentAssembler().setOutputCol("doc").getOutputCol()
        'doc'
        """
        return self._set(outputCol=value)  # type: ignore[no-any-return]

    def getOutputCol(self) -> str:
        """Return the output column name.

        Examples
        --------
        >>> from sparkbert import DocumentAssembler
        >>> DocumentAssembler().getOutputCol()
        'document'
        """
        return self.getOrDefault(self.outputCol)  # type: ignore[no-any-return]


class HasBatchSize(Params):
    """Mixin for ``batchSize``: the most sentences in one ONNX Runtime call.

    Examples
    --------
    >>> from sparkbert import BertEmbeddings
    >>> BertEmbeddings().setBatchSize(8).getBatchSize()
    8
    """

    batchSize: Param[int] = Param(
        Params._dummy(),
        "batchSize",
        "the most sentences (or windows) in one ONNX Runtime call",
        typeConverter=TypeConverters.toInt,
    )

    def setBatchSize(self: _P, value: int) -> _P:
        """Set the most sentences per ONNX Runtime call (>= 1).

        Examples
        --------
        >>> from sparkbert import BertEmbeddings
        >>> BertEmbeddings().setBatchSize(64).getBatchSize()
        64
        """
        return self._set(batchSize=check_range("batchSize", value, 1))  # type: ignore[no-any-return]

    def getBatchSize(self) -> int:
        """Return the most sentences per ONNX Runtime call.

        Examples
        --------
        >>> from sparkbert import BertEmbeddings
        >>> BertEmbeddings().getBatchSize()
        8
        """
        return self.getOrDefault(self.batchSize)  # type: ignore[no-any-return]


class HasCaseSensitive(Params):
    """Mixin for ``caseSensitive``.

    Examples
    --------
    >>> from sparkbert import BertEmbeddings
    >>> BertEmbeddings().setCaseSensitive(True).getCaseSensitive()
    True
    """

    caseSensitive: Param[bool] = Param(
        Params._dummy(),
        "caseSensitive",
        "whether the model distinguishes case (defaults to the model's own setting)",
        typeConverter=TypeConverters.toBoolean,
    )

    def setCaseSensitive(self: _P, value: bool) -> _P:
        """Set whether the model distinguishes case.

        Examples
        --------
        >>> from sparkbert import BertEmbeddings
        >>> BertEmbeddings().setCaseSensitive(False).getCaseSensitive()
        False
        """
        return self._set(caseSensitive=value)  # type: ignore[no-any-return]

    def getCaseSensitive(self) -> bool:
        """Return whether the model distinguishes case.

        Examples
        --------
        >>> from sparkbert import BertEmbeddings
        >>> BertEmbeddings().setCaseSensitive(True).getCaseSensitive()
        True
        """
        return self.getOrDefault(self.caseSensitive)  # type: ignore[no-any-return]
