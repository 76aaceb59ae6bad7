"""A checkpoint's own sentence-transformers configuration, and the sentence head of a model directory.

sentence-transformers describes a sentence model in ``modules.json``: a ``Transformer``
(the BERT checkpoint itself), then a ``Pooling`` module, then optional ``Dense`` layers and
an optional ``Normalize``. This module reads that chain (safetensors only: a ``Dense`` saved
as a pickle is refused, as every pickle is) and writes what the runtime needs next to the
ONNX graph:

| in the model directory | what |
| --- | --- |
| ``sentence_head.safetensors`` | ``pooler.dense.*`` (BERT's pooler) and ``dense.<i>.*`` layers |
| manifest ``"sentence"`` | ``{"pooler": bool, "modules": {...} or null}`` (see below) |

``modules`` holds ``pooling`` (one of ``SUPPORTED_POOLING``, or several joined by ``+``
in the order sentence-transformers concatenates them, e.g. ``"cls+mean"``), ``dense`` (one
``{"activation", "in_features", "out_features", "bias"}`` per layer), ``normalize``,
``max_seq_length`` (``sentence_bert_config.json``, else ``model_max_length`` of
``tokenizer_config.json``, where sentence-transformers 6 keeps it; ``null`` when neither),
``do_lower_case`` (from the same file; the converter then makes the tokenizer lower-case) and
``default_prompt`` (the text sentence-transformers prepends to every input when
``config_sentence_transformers.json`` names a ``default_prompt_name``; sparkbert does not
prepend it, and says so at conversion).

Examples
--------
>>> import json, tempfile
>>> folder = Path(tempfile.mkdtemp())
>>> _ = (folder / "modules.json").write_text(json.dumps([
...     {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
...     {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
...     {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}]))
>>> (folder / "1_Pooling").mkdir()
>>> _ = (folder / "1_Pooling" / "config.json").write_text('{"pooling_mode_mean_tokens": true}')
>>> modules = read_sentence_modules(folder)
>>> modules.pooling, modules.normalize, modules.dense
('mean', True, ())
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from sparkbert.errors import InvalidParamError, ModelIntegrityError, UnsafeModelError
from sparkbert.model.directory import check_file_name

logger = logging.getLogger(__name__)

MODULES_NAME = "modules.json"
ST_CONFIG_NAME = "sentence_bert_config.json"
#: sentence-transformers' own settings: its version, ``prompts`` and ``default_prompt_name``.
ST_PROMPTS_NAME = "config_sentence_transformers.json"
#: The head weights (pooler and Dense layers) inside a model directory.
SENTENCE_HEAD_NAME = "sentence_head.safetensors"
#: The manifest field describing what sentence vectors a model directory can give.
MANIFEST_FIELD = "sentence"
#: Pooling modes of a ``Pooling`` module that sparkbert implements, by their config keys.
_POOLING_KEYS = {
    "pooling_mode_cls_token": "cls",
    "pooling_mode_mean_tokens": "mean",
    "pooling_mode_max_tokens": "max",
    "pooling_mode_mean_sqrt_len_tokens": "mean_sqrt_len",
    "pooling_mode_weightedmean_tokens": "weightedmean",
    "pooling_mode_lasttoken": "lasttoken",
}
#: Pooling modes sparkbert implements (all of sentence-transformers' single modes).
SUPPORTED_POOLING = tuple(_POOLING_KEYS.values())
#: The order in which sentence-transformers concatenates the modes its legacy boolean keys turn on.
_LEGACY_ORDER = ("cls", "max", "mean", "mean_sqrt_len", "weightedmean", "lasttoken")
#: Joins the modes of a ``Pooling`` that concatenates several (``"cls+mean"``).
POOLING_SEPARATOR = "+"
#: ``Dense`` activations, by the class name sentence-transformers records.
#: A module folder's files that a conversion reads (``2_Dense/model.safetensors``, ...).
_MODULE_FILE = re.compile(r"[0-9]+_[A-Za-z]+/(?:config\.json|model\.safetensors)")
_ACTIVATIONS = {"Tanh": "tanh", "Identity": "identity", "ReLU": "relu", "Sigmoid": "sigmoid"}


@dataclass(frozen=True)
class DenseLayer:
    """One sentence-transformers ``Dense`` layer: ``activation(x @ weight.T + bias)``.

    Examples
    --------
    >>> layer = DenseLayer(np.eye(2, dtype=np.float32), np.ones(2, np.float32), "identity")
    >>> layer(np.array([[1.0, 2.0]])).tolist()
    [[2.0, 3.0]]
    """

    weight: NDArray[np.float32]
    bias: NDArray[np.float32] | None
    activation: str

    def __call__(self, x: NDArray[Any]) -> NDArray[np.float64]:
        y = np.asarray(x, dtype=np.float64) @ self.weight.astype(np.float64).T
        if self.bias is not None:
            y = y + self.bias
        if self.activation == "tanh":
            y = np.tanh(y)
        elif self.activation == "relu":
            y = np.maximum(y, 0.0)
        elif self.activation == "sigmoid":
            y = 1.0 / (1.0 + np.exp(-y))
        return np.asarray(y, dtype=np.float64)

    def describe(self) -> dict[str, Any]:
        """Return the manifest entry of this layer.

        Examples
        --------
        >>> DenseLayer(np.zeros((3, 2), np.float32), None, "tanh").describe()
        {'activation': 'tanh', 'in_features': 2, 'out_features': 3, 'bias': False}
        """
        out_features, in_features = self.weight.shape
        return {
            "activation": self.activation,
            "in_features": int(in_features),
            "out_features": int(out_features),
            "bias": self.bias is not None,
        }


@dataclass(frozen=True)
class SentenceModules:
    """A checkpoint's sentence-transformers chain after the Transformer.

    Examples
    --------
    >>> SentenceModules("cls", (), True, 512).describe()
    {'pooling': 'cls', 'dense': [], 'normalize': True, 'max_seq_length': 512, 'do_lower_case': False, 'default_prompt': None}
    """

    pooling: str
    dense: tuple[DenseLayer, ...]
    normalize: bool
    max_seq_length: int | None
    #: ``do_lower_case`` of ``sentence_bert_config.json``: the converter makes the tokenizer lower-case
    lower_case: bool = False
    #: the prompt sentence-transformers prepends by default (``default_prompt_name``), not applied
    default_prompt: str | None = None

    def describe(self) -> dict[str, Any]:
        """Return the manifest's ``modules`` entry."""
        return {
            "pooling": self.pooling,
            "dense": [layer.describe() for layer in self.dense],
            "normalize": self.normalize,
            "max_seq_length": self.max_seq_length,
            "do_lower_case": self.lower_case,
            "default_prompt": self.default_prompt,
        }


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelIntegrityError(f"{path} is missing (named by {MODULES_NAME})") from None
    except (OSError, ValueError) as e:
        raise ModelIntegrityError(f"{path} is not valid JSON: {e}") from None


def _pooling(config: Mapping[str, Any], where: Path) -> str:
    """The ``Pooling`` module's mode, or its modes joined by ``+`` in concatenation order."""
    mode = config.get("pooling_mode")  # sentence-transformers >= 5 writes the mode(s) by name
    if isinstance(mode, (str, list)):
        names = {key.removeprefix("pooling_mode_"): name for key, name in _POOLING_KEYS.items()}
        modes = [names.get(m, m) for m in ([mode] if isinstance(mode, str) else mode)]
    else:  # older releases: one boolean per mode, concatenated in a fixed order; none on is mean
        on = {name for key, name in _POOLING_KEYS.items() if config.get(key)}
        modes = [name for name in _LEGACY_ORDER if name in on] or ["mean"]
    if not modes or any(m not in SUPPORTED_POOLING for m in modes):
        raise InvalidParamError.for_param(
            f"{where}: pooling mode",
            POOLING_SEPARATOR.join(map(str, modes)) or None,
            "one or more of " + ", ".join(repr(m) for m in SUPPORTED_POOLING),
        )
    return POOLING_SEPARATOR.join(modes)


def pooling_parts(pooling: str) -> tuple[str, ...]:
    """The modes of a ``pooling`` value, in the order their vectors are concatenated.

    Examples
    --------
    >>> pooling_parts("cls+mean"), pooling_parts("max")
    (('cls', 'mean'), ('max',))
    """
    return tuple(pooling.split(POOLING_SEPARATOR))


def _dense(folder: Path, where: str) -> DenseLayer:
    from safetensors.numpy import load_file

    config = _read_json(folder / "config.json")
    name = str(config.get("activation_function", "torch.nn.modules.linear.Identity")).rsplit(".", 1)[-1]
    if name not in _ACTIVATIONS:
        raise InvalidParamError.for_param(f"{where}: activation_function", name, sorted(_ACTIVATIONS))
    weights = folder / "model.safetensors"
    if not weights.is_file():
        pickles = sorted(p.name for p in folder.glob("*") if p.suffix in {".bin", ".pt", ".pth", ".pkl"})
        if pickles:
            raise UnsafeModelError(
                f"{folder} holds its Dense weights only as a pickle ({', '.join(pickles)}); loading a "
                "pickle runs arbitrary code, so sparkbert refuses it: use a revision with model.safetensors."
            )
        raise ModelIntegrityError(f"{weights} is missing (the Dense layer's weights)")
    try:
        tensors = load_file(str(weights))
    except Exception as e:  # safetensors raises its own error types
        raise ModelIntegrityError(f"{weights} is not a valid safetensors file: {e}") from e
    weight = tensors.get("linear.weight")
    bias = tensors.get("linear.bias")
    n_in, n_out = config.get("in_features"), config.get("out_features")
    if weight is None or weight.shape != (n_out, n_in) or (bias is not None and bias.shape != (n_out,)):
        raise ModelIntegrityError(
            f"{weights}: expected 'linear.weight' of shape ({n_out}, {n_in}) (config.json), "
            f"found {None if weight is None else tuple(weight.shape)}"
        )
    return DenseLayer(
        weight.astype(np.float32),
        None if bias is None else bias.astype(np.float32),
        _ACTIVATIONS[name],
    )


def read_sentence_modules(checkpoint: Path) -> SentenceModules | None:
    """Return the checkpoint's Pooling → Dense → Normalize chain, or None without ``modules.json``.

    Raises
    ------
    InvalidParamError
        A module or pooling mode sparkbert does not implement (named, with what it does).
    UnsafeModelError
        A module path that leaves the folder, or Dense weights only as a pickle.
    ModelIntegrityError
        A missing or malformed module file.

    Examples
    --------
    >>> read_sentence_modules(Path("/nonexistent")) is None
    True
    """
    path = Path(checkpoint) / MODULES_NAME
    if not path.is_file():
        return None
    entries = _read_json(path)
    if not isinstance(entries, list):
        raise ModelIntegrityError(f"{path} must hold a list of modules")
    pooling: str | None = None
    dense: list[DenseLayer] = []
    normalize = False
    for entry in sorted(entries, key=lambda e: int(e.get("idx", 0)) if isinstance(e, dict) else 0):
        if not isinstance(entry, dict):
            raise ModelIntegrityError(f"{path}: every module must be an object")
        kind = str(entry.get("type", "")).rsplit(".", 1)[-1]  # the module path moved between releases
        sub = str(entry.get("path", ""))
        folder = Path(checkpoint) / check_file_name(sub, where=str(path)) if sub else Path(checkpoint)
        order_ok = {
            "Transformer": pooling is None and not dense,
            "Pooling": pooling is None,
            "Dense": pooling is not None and not normalize,
            "Normalize": pooling is not None,
        }
        if kind not in order_ok:
            raise InvalidParamError.for_param(
                f"{path}: type", entry.get("type"), "Transformer, Pooling, Dense, Normalize (in that order)"
            )
        if not order_ok[kind]:
            raise InvalidParamError(
                f"{path}: module {kind!r} is out of order (Transformer → Pooling → Dense → Normalize)"
            )
        if kind == "Pooling":
            config = _read_json(folder / "config.json")
            pooling = _pooling(config if isinstance(config, dict) else {}, folder / "config.json")
        elif kind == "Dense":
            dense.append(_dense(folder, str(folder)))
        elif kind == "Normalize":
            normalize = True
    if pooling is None:
        raise InvalidParamError(f"{path} has no Pooling module; sparkbert needs one to read it")
    max_seq_length, lower_case = None, False
    st_config = Path(checkpoint) / ST_CONFIG_NAME
    if st_config.is_file():
        value = _read_json(st_config)
        value = value if isinstance(value, dict) else {}
        length = value.get("max_seq_length")
        max_seq_length = length if isinstance(length, int) and not isinstance(length, bool) else None
        lower_case = value.get("do_lower_case") is True
    if max_seq_length is None:  # sentence-transformers 6 keeps it as the tokenizer's limit
        max_seq_length = _tokenizer_max_length(Path(checkpoint) / "tokenizer_config.json")
    prompt = _default_prompt(Path(checkpoint) / ST_PROMPTS_NAME)
    if prompt:
        logger.warning(
            "%s: sentence-transformers prepends the prompt %r to every text by default; sparkbert "
            "embeds texts as given, so prepend it yourself for the same vectors",
            Path(checkpoint) / ST_PROMPTS_NAME,
            prompt,
        )
    return SentenceModules(pooling, tuple(dense), normalize, max_seq_length, lower_case, prompt)


def _tokenizer_max_length(path: Path) -> int | None:
    """``model_max_length`` of a ``tokenizer_config.json`` when it is a real limit (transformers writes 1e30 for none).

    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / "tokenizer_config.json").write_text('{"model_max_length": 128}')
    >>> _tokenizer_max_length(folder / "tokenizer_config.json"), _tokenizer_max_length(folder / "none.json")
    (128, None)
    """
    value = _read_json(path) if path.is_file() else None
    length = value.get("model_max_length") if isinstance(value, dict) else None
    if isinstance(length, int) and not isinstance(length, bool) and 0 < length < 1_000_000:
        return length
    return None


def _default_prompt(path: Path) -> str | None:
    """The prompt that ``default_prompt_name`` names in ``config_sentence_transformers.json``, if any."""
    if not path.is_file():
        return None
    config = _read_json(path)
    if not isinstance(config, dict) or not isinstance(config.get("prompts"), dict):
        return None
    prompt = config["prompts"].get(config.get("default_prompt_name"))
    return prompt if isinstance(prompt, str) and prompt else None


def sentence_files(names: Iterable[str]) -> list[str]:
    """Return the sentence-transformers files of a repo listing to download with its checkpoint.

    ``modules.json``, ``sentence_bert_config.json``, ``config_sentence_transformers.json`` and
    each module folder's ``config.json``
    and ``model.safetensors``; pickled module weights are never listed (a Dense layer with
    only a pickle is then refused at conversion, naming it).

    Examples
    --------
    >>> sentence_files(["config.json", "modules.json", "1_Pooling/config.json",
    ...                 "2_Dense/model.safetensors", "2_Dense/pytorch_model.bin", "README.md"])
    ['1_Pooling/config.json', '2_Dense/model.safetensors', 'modules.json']
    """
    listed = set(names)
    if MODULES_NAME not in listed:
        return []
    own = (MODULES_NAME, ST_CONFIG_NAME, ST_PROMPTS_NAME)
    return sorted(n for n in listed if n in own or _MODULE_FILE.fullmatch(n))


def head_tensors(
    modules: SentenceModules | None, pooler: Mapping[str, NDArray[np.float32]]
) -> dict[str, NDArray[np.float32]]:
    """Return the tensors of ``sentence_head.safetensors``: the pooler's and each Dense layer's.

    Examples
    --------
    >>> sorted(head_tensors(None, {"pooler.dense.bias": np.zeros(2, np.float32)}))
    ['pooler.dense.bias']
    """
    tensors = dict(pooler)
    for i, layer in enumerate(modules.dense if modules else ()):
        tensors[f"dense.{i}.weight"] = layer.weight
        if layer.bias is not None:
            tensors[f"dense.{i}.bias"] = layer.bias
    return {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in tensors.items()}


@dataclass(frozen=True)
class SentenceHead:
    """What a model directory can do with a pooled vector: its pooler and its ST chain.

    Examples
    --------
    >>> head = SentenceHead.from_info({}, {})
    >>> head.has_pooler, head.modules is None
    (False, True)
    """

    pooler: tuple[NDArray[np.float32], NDArray[np.float32]] | None
    modules: SentenceModules | None

    @property
    def has_pooler(self) -> bool:
        """Whether the checkpoint had pooler weights."""
        return self.pooler is not None

    @classmethod
    def from_info(cls, info: Mapping[str, Any], tensors: Mapping[str, NDArray[np.float32]]) -> SentenceHead:
        """Rebuild the head from the manifest's ``sentence`` field and the head's tensors."""
        pooler = None
        if info.get("pooler"):
            pooler = (tensors["pooler.dense.weight"], tensors["pooler.dense.bias"])
        described = info.get("modules")
        modules = None
        if described:
            dense = tuple(
                DenseLayer(tensors[f"dense.{i}.weight"], tensors.get(f"dense.{i}.bias"), str(d["activation"]))
                for i, d in enumerate(described.get("dense", []))
            )
            modules = SentenceModules(
                str(described["pooling"]),
                dense,
                bool(described.get("normalize")),
                described.get("max_seq_length"),
                bool(described.get("do_lower_case", False)),
                described.get("default_prompt"),
            )
        return cls(pooler, modules)

    def apply_pooler(self, cls_vectors: NDArray[Any]) -> NDArray[np.float64]:
        """BERT's pooler on ``(n, hidden)`` ``[CLS]`` vectors: ``tanh(x @ W.T + b)``."""
        if self.pooler is None:
            raise InvalidParamError("this model has no pooler weights")
        weight, bias = self.pooler
        y = np.tanh(np.asarray(cls_vectors, np.float64) @ weight.astype(np.float64).T + bias)
        return np.asarray(y, dtype=np.float64)


def sentence_info(checkpoint_has_pooler: bool, modules: SentenceModules | None) -> dict[str, Any]:
    """Return the manifest's ``sentence`` field.

    Examples
    --------
    >>> sentence_info(True, None)
    {'pooler': True, 'modules': None}
    """
    return {"pooler": checkpoint_has_pooler, "modules": modules.describe() if modules else None}


__all__ = [
    "MANIFEST_FIELD",
    "POOLING_SEPARATOR",
    "SENTENCE_HEAD_NAME",
    "SUPPORTED_POOLING",
    "DenseLayer",
    "SentenceHead",
    "SentenceModules",
    "head_tensors",
    "pooling_parts",
    "read_sentence_modules",
    "sentence_files",
    "sentence_info",
]
