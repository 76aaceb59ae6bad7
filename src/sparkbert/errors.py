"""The exceptions sparkbert raises.

Every error derives from ``SparkBertError`` and also from the built-in that
fits, so callers can catch either::

    SparkBertError
    ├── InvalidParamError (ValueError)        a param value outside what is valid
    ├── SchemaError (ValueError)              a missing, mistyped or clashing column
    ├── ModelError
    │   ├── ModelNotFoundError (FileNotFoundError)   no such model, or offline and not cached
    │   ├── ModelIntegrityError (ValueError)         a file missing or failing its sha256
    │   └── UnsafeModelError (ValueError)            pickles, remote code, paths leaving a folder
    ├── UnsupportedStageError (TypeError)     a stage LightPipeline cannot run in-process
    └── MissingDependencyError (ImportError)  an optional extra is not installed

Examples
--------
>>> from sparkbert.errors import InvalidParamError
>>> try:
...     raise InvalidParamError.for_param("poolingStrategy", "median", ["first", "mean", "last"])
... except ValueError as e:
...     print(e)
Invalid value for param 'poolingStrategy': 'median'. Valid values: 'first', 'mean', 'last'.
"""

from __future__ import annotations

from collections.abc import Iterable


class SparkBertError(Exception):
    """Base class of every error sparkbert raises.

    Examples
    --------
    >>> issubclass(SchemaError, SparkBertError)
    True
    """


class InvalidParamError(SparkBertError, ValueError):
    """A param was given a value outside what is valid.

    Examples
    --------
    >>> str(InvalidParamError.for_param("batchSize", 0, "an integer >= 1"))
    "Invalid value for param 'batchSize': 0. Valid values: an integer >= 1."
    """

    @classmethod
    def for_param(cls, param: str, value: object, valid: Iterable[object] | str) -> InvalidParamError:
        """Build the error naming the param, the value given and what is valid.

        Examples
        --------
        >>> print(InvalidParamError.for_param("precision", "int4", ["fp32", "int8"]))
        Invalid value for param 'precision': 'int4'. Valid values: 'fp32', 'int8'.
        """
        choices = valid if isinstance(valid, str) else ", ".join(repr(v) for v in valid)
        return cls(f"Invalid value for param '{param}': {value!r}. Valid values: {choices}.")


class SchemaError(SparkBertError, ValueError):
    """An input column is missing or of the wrong annotator type, or the output exists.

    Examples
    --------
    >>> isinstance(SchemaError("x"), ValueError)
    True
    """


class ModelError(SparkBertError):
    """Base class of errors about a model directory or checkpoint.

    Examples
    --------
    >>> issubclass(ModelNotFoundError, ModelError)
    True
    """


class ModelNotFoundError(ModelError, FileNotFoundError):
    """A model could not be found locally, in the cache or in the registry.

    Examples
    --------
    >>> isinstance(ModelNotFoundError("no model"), FileNotFoundError)
    True
    """


class ModelIntegrityError(ModelError, ValueError):
    """A model file is missing, truncated or fails its recorded sha256.

    Examples
    --------
    >>> isinstance(ModelIntegrityError("bad"), ValueError)
    True
    """


class UnsafeModelError(ModelError, ValueError):
    """A model asks for something unsafe: pickled weights, remote code, escaping paths.

    Examples
    --------
    >>> isinstance(UnsafeModelError("pickle"), ValueError)
    True
    """


class UnsupportedStageError(SparkBertError, TypeError):
    """A pipeline stage that cannot run in-process in a ``LightPipeline``.

    Examples
    --------
    >>> issubclass(UnsupportedStageError, TypeError)
    True
    """


class MissingDependencyError(SparkBertError, ImportError):
    """An optional dependency is not installed; the message names the extra.

    Examples
    --------
    >>> str(MissingDependencyError.for_extra("torch", "test"))
    "This feature needs 'torch'. Install it with: pip install 'sparkbert[test]'"
    """

    @classmethod
    def for_extra(cls, package: str, extra: str) -> MissingDependencyError:
        """Build the error naming the package and the extra that installs it.

        Examples
        --------
        >>> MissingDependencyError.for_extra("onnxruntime-gpu", "gpu").args[0][:22]
        "This feature needs 'on"
        """
        return cls(f"This feature needs {package!r}. Install it with: pip install 'sparkbert[{extra}]'")


__all__ = [
    "InvalidParamError",
    "MissingDependencyError",
    "ModelError",
    "ModelIntegrityError",
    "ModelNotFoundError",
    "SchemaError",
    "SparkBertError",
    "UnsafeModelError",
    "UnsupportedStageError",
]
