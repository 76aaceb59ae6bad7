"""Params that validate themselves, declared once (the pyspark.ml ``param/shared.py`` pattern).

A param is declared at class level with ``param``: its name, doc, a *validating*
converter and (optionally) its default. The converter runs on every path that sets a
value — constructor keywords, setters, ``setParams``, ``set``, ``copy(extra)``,
``transform(df, params)`` and loading saved metadata — and raises
``InvalidParamError`` naming the param, the value and what is
valid. ``TypedParams`` derives ``setX``/``getX`` for every param a stage does not
write by hand, takes keyword arguments in its constructor and ``setParams``, and sets
the declared defaults, so a stage states each default exactly once.

| converter | accepts | e.g. |
| --- | --- | --- |
| ``integer`` | an int (or integral float) in range | ``integer(1)`` |
| ``choice`` | one of a few strings | ``choice("cpu", "cuda")`` |
| ``boolean`` | ``True`` / ``False`` | ``boolean`` |
| ``string`` | a string | ``string`` |
| ``string_list`` | a string or a list of strings | ``string_list`` |
| ``nonblank_string_list`` | strings, none empty or blank | ``nonblank_string_list`` |
| ``int_list`` | a non-empty list of ints | ``int_list`` |
| ``regex`` | a string that compiles as a regex (``regex`` V1) | ``regex`` |

Examples
--------
>>> from sparkbert import BertEmbeddings
>>> emb = BertEmbeddings()
>>> emb.copy({emb.batchSize: 0})
Traceback (most recent call last):
...
sparkbert.errors.InvalidParamError: Invalid value for param 'batchSize': 0. Valid values: an integer >= 1.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import regex as regex_module
from pyspark.ml import Transformer
from pyspark.ml.param import Param, Params

from sparkbert.errors import InvalidParamError

_P = TypeVar("_P", bound="TypedParams")
_Q = TypeVar("_Q", bound=Params)
T = TypeVar("T")

#: A validating converter: ``(param name, value) -> value``, raising InvalidParamError.
Converter = Callable[[str, Any], Any]

_NO_DEFAULT = object()


def check_choice(param: str, value: Any, valid: tuple[str, ...]) -> Any:
    """Return ``value`` if it is one of ``valid``, else raise naming param, value and choices."""
    if not isinstance(value, str) or value not in valid:
        raise InvalidParamError.for_param(param, value, valid)
    return value


def check_range(param: str, value: Any, low: int, high: int | None = None) -> int:
    """Return ``value`` as int if ``low <= value (<= high)``, else raise a clear error."""
    bound = f"an integer >= {low}" if high is None else f"an integer from {low} to {high}"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or (not isinstance(value, int) and not hasattr(value, "__index__")):
        raise InvalidParamError.for_param(param, value, bound)
    number = int(value)
    if number < low or (high is not None and number > high):
        raise InvalidParamError.for_param(param, value, bound)
    return number


def integer(low: int, high: int | None = None) -> Converter:
    """Converter for an integer from ``low`` (to ``high``)."""
    return functools.partial(_integer, low=low, high=high)


def _integer(name: str, value: Any, *, low: int, high: int | None) -> int:
    return check_range(name, value, low, high)


def choice(*valid: str) -> Converter:
    """Converter for one of the strings ``valid``."""
    return functools.partial(_choice, valid=valid)


def _choice(name: str, value: Any, *, valid: tuple[str, ...]) -> str:
    return str(check_choice(name, value, valid))


def boolean(name: str, value: Any) -> bool:
    """Converter for a boolean (``True``/``False`` only: ``"false"`` is not silently true)."""
    if type(value).__name__ not in {"bool", "bool_"}:
        raise InvalidParamError.for_param(name, value, "True or False")
    return bool(value)


def string(name: str, value: Any) -> str:
    """Converter for a string."""
    if not isinstance(value, str):
        raise InvalidParamError.for_param(name, value, "a string")
    return value


def string_list(name: str, value: Any) -> list[str]:
    """Converter for a list of strings (one string becomes a list of one)."""
    if isinstance(value, str):
        return [value]
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise InvalidParamError.for_param(name, value, "a string or a list of strings")
    return list(value)


def nonblank_string_list(name: str, value: Any) -> list[str]:
    """Converter for a list of strings none of which is empty or blank."""
    values = string_list(name, value)
    if any(not v.strip() for v in values):
        raise InvalidParamError.for_param(name, value, "a list of strings, none empty or blank")
    return values


def int_list(name: str, value: Any) -> list[int]:
    """Converter for a non-empty list of integers."""
    if not isinstance(value, (list, tuple)) or not value:
        raise InvalidParamError.for_param(name, value, "a non-empty list of integers")
    return [check_range(name, v, -(2**31)) for v in value]


def regex(name: str, value: Any) -> str:
    """Converter for a string that compiles as a regular expression."""
    pattern = string(name, value)
    try:
        regex_module.compile(pattern, regex_module.V1)  # the dialect the Tokenizer splits with
    except (regex_module.error, TypeError) as e:
        raise InvalidParamError.for_param(name, pattern, f"a valid regular expression ({e})") from e
    return pattern


def param(name: str, doc: str, convert: Converter, default: Any = _NO_DEFAULT) -> Param[Any]:
    """Declare a class-level Param whose converter validates, with an optional default."""
    declared: Param[Any] = Param(Params._dummy(), name, doc, typeConverter=functools.partial(convert, name))
    declared._sparkbert_default = default  # type: ignore[attr-defined]
    return declared


def _capital(name: str) -> str:
    return name[0].upper() + name[1:]


def _make_setter(name: str) -> Callable[..., Any]:
    def setter(self: Any, value: Any) -> Any:
        return self._set(**{name: value})

    setter.__name__ = f"set{_capital(name)}"
    setter.__doc__ = f"Set param ``{name}`` (validated at once); returns ``self``."
    return setter


def _make_getter(name: str) -> Callable[..., Any]:
    def getter(self: Any) -> Any:
        return self.getOrDefault(name) if self.isDefined(name) else None

    getter.__name__ = f"get{_capital(name)}"
    getter.__doc__ = f"Return param ``{name}`` (its default when unset; None when it has none)."
    return getter


#: Params of Spark NLP's stages that sparkbert's do not have, and what a migrating user does instead.
SPARK_NLP_ONLY: Mapping[str, str] = {
    "contextChars": "punctuation is split from words by Unicode rules; splitChars adds characters",
    "caseSensitiveExceptions": "exceptions always match case-sensitively",
    "exceptionsPath": "pass the strings themselves as exceptions",
    "targetPattern": "tokens follow Unicode word rules; splitPattern adds separators",
    "prefixPattern": "tokens follow Unicode word rules; splitChars or splitPattern add separators",
    "suffixPattern": "tokens follow Unicode word rules; splitChars or splitPattern add separators",
    "infixPatterns": "tokens follow Unicode word rules; splitChars or splitPattern add separators",
    "useAbbreviations": "abbreviations (a multilingual list) are always recognised",
    "detectLists": "list items are not split into sentences of their own",
    "splitLength": "maxLength splits sentences longer than it",
    "customBoundsStrategy": "customBounds end a sentence after the bound",
    "lazyAnnotator": "stages run when Spark runs them",
    "configProtoBytes": "there is no TensorFlow: intraOpThreads sets ONNX Runtime's threads",
}


def _unknown_param(owner: object, name: str) -> str:
    """The error text for a param ``owner`` lacks: Spark NLP's advice when it is one of its params, and the list."""
    names = ", ".join(sorted(p.name for p in owner.params))  # type: ignore[attr-defined]
    hint = SPARK_NLP_ONLY.get(name)
    spark_nlp = f" (a Spark NLP param: in sparkbert {hint})" if hint else ""
    return f"{type(owner).__name__} has no param {name!r}{spark_nlp}; its params are: {names}."


class TypedParams(Params):
    """Params base: keyword constructor, generated accessors, declared defaults, strict ``set``.

    Subclasses may override a mixin's default in ``paramDefaults``.

    Examples
    --------
    >>> from sparkbert import Tokenizer
    >>> Tokenizer(minLength=2).setMaxLength(10).getMinLength()
    2
    >>> Tokenizer(minLenght=2)
    Traceback (most recent call last):
    ...
    TypeError: Tokenizer has no param 'minLenght'; its params are: ...
    >>> Tokenizer().setContextChars(["(", ")"])  # Spark NLP's setter: what to do instead
    Traceback (most recent call last):
    ...
    AttributeError: Tokenizer has no param 'contextChars' (a Spark NLP param: in sparkbert punctuation is split from words by Unicode rules; splitChars adds characters); its params are: ...
    """

    #: defaults that override those given in ``param``, per class (merged along the MRO)
    paramDefaults: ClassVar[Mapping[str, Any]] = {}

    if TYPE_CHECKING:  # the generated setX/getX accessors, as type checkers see them

        def __getattr__(self, name: str) -> Any: ...

    else:

        def __getattr__(self, name: str) -> Any:
            """Name the missing param (and Spark NLP's advice) for a setter or getter no param backs."""
            if name == "fit" and isinstance(self, Transformer):
                kind = type(self).__name__
                raise AttributeError(
                    f"{kind} is a Transformer and needs no fit (Spark NLP's {kind} may be an estimator): "
                    "call transform(df), or put it in a Pipeline, whose fit passes it through."
                )
            accessor = re.fullmatch(r"(?:set|get)([A-Z]\w*)", name)
            if accessor is None:
                raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
            param_name = accessor.group(1)[0].lower() + accessor.group(1)[1:]
            raise AttributeError(_unknown_param(self, param_name))

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for attr in dir(cls):
            declared = getattr(cls, attr, None)
            if not isinstance(declared, Param):
                continue
            cap = _capital(declared.name)
            if not hasattr(cls, f"set{cap}"):
                setattr(cls, f"set{cap}", _make_setter(declared.name))
            if not hasattr(cls, f"get{cap}"):
                setattr(cls, f"get{cap}", _make_getter(declared.name))

    def __init__(self, **kwargs: Any) -> None:
        super().__init__()
        self._setDefault(**self._declared_defaults())
        self.setParams(**kwargs)

    @classmethod
    def _declared_defaults(cls) -> dict[str, Any]:
        defaults: dict[str, Any] = {}
        for attr in dir(cls):
            declared = getattr(cls, attr, None)
            value = getattr(declared, "_sparkbert_default", _NO_DEFAULT)
            if isinstance(declared, Param) and value is not _NO_DEFAULT:
                defaults[declared.name] = value
        for klass in reversed(cls.__mro__):
            defaults.update(klass.__dict__.get("paramDefaults", {}))
        return defaults

    def setParams(self: _P, **kwargs: Any) -> _P:
        """Set params by keyword (``None`` leaves a param unset); returns ``self``.

        Examples
        --------
        >>> from sparkbert import Tokenizer
        >>> Tokenizer().setParams(minLength=2, splitHan=False).getSplitHan()
        False
        """
        unknown = sorted(k for k in kwargs if not self.hasParam(k))
        if unknown:
            raise TypeError(_unknown_param(self, unknown[0]))
        return self._set(**{k: v for k, v in kwargs.items() if v is not None})

    def set(self, param: Param[Any], value: Any) -> None:
        """Set ``param`` through its validating converter (unlike pyspark, errors are not rewrapped).

        Examples
        --------
        >>> from sparkbert import BertEmbeddings
        >>> emb = BertEmbeddings()
        >>> emb.set(emb.device, "tpu")
        Traceback (most recent call last):
        ...
        sparkbert.errors.InvalidParamError: Invalid value for param 'device': 'tpu'. Valid values: 'auto', 'cpu', 'cuda'.
        """
        self._shouldOwn(param)
        self._set(**{param.name: value})


class HasInputCols(Params):
    """Mixin for the ``inputCols`` param: the annotation columns a stage reads."""

    inputCols: Param[list[str]] = param("inputCols", "input annotation column names", string_list)

    def setInputCols(self: _Q, *value: str | list[str]) -> _Q:
        """Set the input annotation columns, as arguments or one list.

        Examples
        --------
        >>> from sparkbert import BertEmbeddings
        >>> BertEmbeddings().setInputCols("sentence", "token").getInputCols()
        ['sentence', 'token']
        """
        cols = list(value[0]) if len(value) == 1 and not isinstance(value[0], str) else list(value)
        return self._set(inputCols=cols)  # type: ignore[no-any-return]


class HasOutputCol(Params):
    """Mixin for the ``outputCol`` param: the column a stage writes."""

    outputCol: Param[str] = param("outputCol", "output column name", string)


class HasBatchSize(Params):
    """Mixin for ``batchSize``: the most sentences in one ONNX Runtime call."""

    batchSize: Param[int] = param(
        "batchSize", "the most sentences (or windows) in one ONNX Runtime call", integer(1)
    )


class HasCaseSensitive(Params):
    """Mixin for ``caseSensitive`` (defaults to the model's own setting)."""

    caseSensitive: Param[bool] = param(
        "caseSensitive", "whether the model distinguishes case (defaults to the model's own setting)", boolean
    )
