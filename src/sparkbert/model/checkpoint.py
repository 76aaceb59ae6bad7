"""Reading a Hugging Face BERT or XLM-RoBERTa checkpoint: its config and its safetensors weights.

Weights are read one tensor at a time (safetensors is memory-mapped), so a conversion
never holds more than the tensor it is writing. Both key layouts of real checkpoints are
accepted and mapped to one canonical name:

| in the file | canonical |
| --- | --- |
| ``bert.embeddings.LayerNorm.gamma`` (Google, mBERT) | ``embeddings.LayerNorm.weight`` |
| ``embeddings.LayerNorm.weight`` (``save_pretrained``) | ``embeddings.LayerNorm.weight`` |
| ``bert.pooler.dense.weight`` (both layouts) | ``pooler.dense.weight`` (optional) |
| ``roberta.encoder.layer.0...`` (XLM-RoBERTa heads) | ``encoder.layer.0...`` |
| ``distilbert.transformer.layer.0.attention.q_lin.weight`` (DistilBERT) | ``encoder.layer.0.attention.self.query.weight`` |
| ``cls.*``, ``vocab_*``, ``*.position_ids`` | ignored |

DistilBERT is BERT's encoder without token types and under other names (see
``DISTILBERT_NAMES``); its config spells the sizes ``dim``, ``n_layers``, ``n_heads``,
``hidden_dim`` and the activation ``activation``.

Pickle-based weights (``pytorch_model.bin``, ``.pt``, ``.ckpt``) are refused: unpickling
runs code.

Examples
--------
>>> canonical_key("bert.encoder.layer.0.output.LayerNorm.gamma")
'encoder.layer.0.output.LayerNorm.weight'
>>> canonical_key("cls.predictions.bias") is None
True
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import numpy as np
from numpy.typing import NDArray

from sparkbert.errors import InvalidParamError, ModelIntegrityError, ModelNotFoundError, UnsafeModelError
from sparkbert.model.directory import check_file_name

logger = logging.getLogger(__name__)

SAFETENSORS_NAME = "model.safetensors"
SAFETENSORS_INDEX_NAME = "model.safetensors.index.json"
_PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle")
#: ``hidden_act`` values the converter implements, by the function each computes: Hugging
#: Face's ``"gelu"`` is the exact erf GELU, the ``gelu_new`` family its tanh approximation.
ACTIVATIONS = {
    "gelu": "gelu",
    "gelu_python": "gelu",
    "gelu_new": "gelu_tanh",
    "gelu_pytorch_tanh": "gelu_tanh",
    "gelu_python_tanh": "gelu_tanh",
    "gelu_fast": "gelu_tanh",
    "gelu_accurate": "gelu_tanh",
    "quick_gelu": "quick_gelu",
    "relu": "relu",
    "silu": "silu",
    "swish": "silu",
}
SUPPORTED_ACTIVATIONS = tuple(ACTIVATIONS)
#: ``model_type`` values the converter implements: BERT; the RoBERTa family, the same encoder
#: with positions numbered from ``pad_token_id + 1`` (xlm-roberta-base and models fine-tuned from
#: it, CamemBERT); DistilBERT, the same encoder without token types (distilbert-base-multilingual-cased).
SUPPORTED_MODEL_TYPES = ("bert", "roberta", "xlm-roberta", "camembert", "distilbert")
#: For configs written before ``model_type`` existed: the model class named in ``architectures``.
_ARCHITECTURE_TYPES = {
    "XLMRoberta": "xlm-roberta",
    "Roberta": "roberta",
    "Camembert": "camembert",
    "DistilBert": "distilbert",
}
_ROBERTA_TYPES = ("roberta", "xlm-roberta", "camembert")
#: DistilBERT's config fields under the names ``BertConfig`` gives them.
_DISTILBERT_CONFIG = {
    "dim": "hidden_size",
    "n_layers": "num_hidden_layers",
    "n_heads": "num_attention_heads",
    "hidden_dim": "intermediate_size",
    "activation": "hidden_act",
}
#: DistilBERT's weight names (inside ``transformer.layer.N``) and their ``BertModel`` names.
DISTILBERT_NAMES = (
    ("transformer.layer.", "encoder.layer."),
    (".attention.q_lin.", ".attention.self.query."),
    (".attention.k_lin.", ".attention.self.key."),
    (".attention.v_lin.", ".attention.self.value."),
    (".attention.out_lin.", ".attention.output.dense."),
    (".sa_layer_norm.", ".attention.output.LayerNorm."),
    (".ffn.lin1.", ".intermediate.dense."),
    (".ffn.lin2.", ".output.dense."),
    (".output_layer_norm.", ".output.LayerNorm."),
)


_C = TypeVar("_C", bound="Closing")


class Closing:
    """Mixin: ``with obj:`` returns ``obj`` and calls ``obj.close()`` on the way out."""

    def __enter__(self: _C) -> _C:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Release what the object holds."""
        raise NotImplementedError


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelNotFoundError(f"{path} not found") from None
    except (OSError, ValueError) as e:
        raise ModelIntegrityError(f"{path} is not valid JSON: {e}") from None
    if not isinstance(data, dict):
        raise ModelIntegrityError(f"{path} must hold a JSON object")
    return data


@dataclass(frozen=True)
class BertSpec:
    """The shapes of a ``BertModel``, read from its ``config.json``.

    Examples
    --------
    >>> spec = BertSpec.from_config({"vocab_size": 100, "hidden_size": 8, "num_hidden_layers": 1,
    ...     "num_attention_heads": 2, "intermediate_size": 16, "max_position_embeddings": 32})
    >>> spec.type_vocab_size, spec.layer_norm_eps
    (2, 1e-12)
    >>> xlmr = BertSpec.from_config({"model_type": "xlm-roberta", "vocab_size": 100, "hidden_size": 8,
    ...     "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 16,
    ...     "max_position_embeddings": 514, "type_vocab_size": 1, "pad_token_id": 1})
    >>> xlmr.position_offset, xlmr.max_positions
    (2, 512)

    DistilBERT's config names the same sizes differently and has no token types:

    >>> distil = BertSpec.from_config({"model_type": "distilbert", "vocab_size": 100, "dim": 8,
    ...     "n_layers": 1, "n_heads": 2, "hidden_dim": 16, "max_position_embeddings": 32})
    >>> distil.hidden_size, distil.intermediate_size, distil.token_types
    (8, 16, False)
    """

    vocab_size: int
    hidden_size: int
    num_hidden_layers: int
    num_attention_heads: int
    intermediate_size: int
    max_position_embeddings: int
    type_vocab_size: int = 2
    layer_norm_eps: float = 1e-12
    #: row of the position table used by the first token (RoBERTa: ``pad_token_id + 1``)
    position_offset: int = 0
    model_type: str = "bert"
    #: the FFN's activation function (a value of ``ACTIVATIONS``)
    activation: str = "gelu"
    #: whether the checkpoint has a token-type table (DistilBERT has none: one zero row stands in)
    token_types: bool = True

    @property
    def max_positions(self) -> int:
        """Longest input the position table serves, control tokens included."""
        return self.max_position_embeddings - self.position_offset

    @classmethod
    def from_config(cls, config: Mapping[str, Any], *, where: str = "config.json") -> BertSpec:
        """Check a Hugging Face BERT config and return its shapes.

        Raises
        ------
        ModelIntegrityError
            A size is missing or not a positive integer, or heads do not divide the width.
        InvalidParamError
            The config asks for something the converter does not implement (another
            ``model_type``, activation or position embedding, a decoder).

        Examples
        --------
        >>> BertSpec.from_config({"hidden_act": "mish"})
        Traceback (most recent call last):
        ...
        sparkbert.errors.InvalidParamError: Invalid value for param 'config.json: hidden_act': 'mish'. Valid values: 'gelu', 'gelu_python', 'gelu_new', ...
        """
        model_type = _model_type(config)
        _require(config, "model_type", model_type, SUPPORTED_MODEL_TYPES, where)
        own: dict[str, str] = {}  # BertConfig's field name -> the config's own, for errors
        if model_type == "distilbert":  # its LayerNorms use 1e-12 whatever the config says
            config = {**config, "type_vocab_size": 1, "layer_norm_eps": 1e-12}
            config.update((bert, config[name]) for name, bert in _DISTILBERT_CONFIG.items() if name in config)
            own = {bert: name for name, bert in _DISTILBERT_CONFIG.items()}
        hidden_act = config.get("hidden_act", "gelu")
        _require(config, own.get("hidden_act", "hidden_act"), hidden_act, SUPPORTED_ACTIVATIONS, where)
        position = config.get("position_embedding_type", "absolute")
        _require(config, "position_embedding_type", position, ("absolute",), where)
        _require(config, "is_decoder", bool(config.get("is_decoder", False)), (False,), where)
        sizes: dict[str, int] = {}
        for field in (
            "vocab_size",
            "hidden_size",
            "num_hidden_layers",
            "num_attention_heads",
            "intermediate_size",
            "max_position_embeddings",
            "type_vocab_size",
        ):
            value = config.get(field, 2 if field == "type_vocab_size" else None)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                name = own.get(field, field)
                raise ModelIntegrityError(f"{where}: {name!r} must be a positive integer, got {value!r}")
            sizes[field] = value
        if sizes["hidden_size"] % sizes["num_attention_heads"]:
            raise ModelIntegrityError(
                f"{where}: {own.get('hidden_size', 'hidden_size')} {sizes['hidden_size']} is not a "
                f"multiple of {own.get('num_attention_heads', 'num_attention_heads')} "
                f"{sizes['num_attention_heads']}"
            )
        eps = config.get("layer_norm_eps", 1e-12)
        if not isinstance(eps, (int, float)) or isinstance(eps, bool) or not 0 < eps < 1:
            raise ModelIntegrityError(
                f"{where}: 'layer_norm_eps' must be a small positive number, got {eps!r}"
            )
        offset = 0
        if model_type in _ROBERTA_TYPES:  # RoBERTa numbers positions from padding_idx + 1
            pad = config.get("pad_token_id", 1)
            if not isinstance(pad, int) or isinstance(pad, bool) or pad < 0:
                raise ModelIntegrityError(f"{where}: 'pad_token_id' must be an integer >= 0, got {pad!r}")
            offset = pad + 1
            if offset >= sizes["max_position_embeddings"]:
                raise ModelIntegrityError(
                    f"{where}: max_position_embeddings {sizes['max_position_embeddings']} leaves no "
                    f"position after pad_token_id {pad}"
                )
        return cls(
            layer_norm_eps=float(eps),
            position_offset=offset,
            model_type=model_type,
            activation=ACTIVATIONS[hidden_act],
            token_types=model_type != "distilbert",
            **sizes,
        )


def _model_type(config: Mapping[str, Any]) -> str:
    """``model_type``; without one, the family its ``architectures`` name, else ``bert``.

    >>> _model_type({"architectures": ["XLMRobertaForMaskedLM"]}), _model_type({})
    ('xlm-roberta', 'bert')
    """
    if "model_type" in config:
        return str(config["model_type"])
    for architecture in config.get("architectures") or ():
        for prefix, model_type in _ARCHITECTURE_TYPES.items():
            if str(architecture).startswith(prefix):
                return model_type
    return "bert"


def _require(
    config: Mapping[str, Any], field: str, value: object, valid: tuple[object, ...], where: str
) -> None:
    if value not in valid:
        raise InvalidParamError.for_param(f"{where}: {field}", value, valid)


def read_config(checkpoint: Path) -> tuple[dict[str, Any], BertSpec]:
    """Return a checkpoint's ``config.json`` and its ``BertSpec``.

    Examples
    --------
    >>> read_config(Path("/nonexistent"))
    Traceback (most recent call last):
    ...
    sparkbert.errors.ModelNotFoundError: /nonexistent/config.json not found
    """
    path = checkpoint / "config.json"
    config = _read_json(path)
    return config, BertSpec.from_config(config, where=str(path))


def canonical_key(key: str) -> str | None:
    """Map a checkpoint key to its canonical ``BertModel`` name, or None to ignore it.

    Examples
    --------
    >>> canonical_key("embeddings.word_embeddings.weight")
    'embeddings.word_embeddings.weight'
    >>> canonical_key("bert.embeddings.position_ids") is None
    True
    >>> canonical_key("bert.pooler.dense.weight")
    'pooler.dense.weight'
    >>> canonical_key("roberta.encoder.layer.0.output.dense.bias")
    'encoder.layer.0.output.dense.bias'
    >>> canonical_key("distilbert.transformer.layer.5.ffn.lin2.weight")
    'encoder.layer.5.output.dense.weight'
    >>> canonical_key("vocab_projector.bias") is None
    True
    """
    name = key.removeprefix("bert.").removeprefix("roberta.").removeprefix("distilbert.")
    if name.startswith("transformer.layer."):
        for theirs, ours in DISTILBERT_NAMES:
            name = name.replace(theirs, ours)
    if not name.startswith(("embeddings.", "encoder.", "pooler.")) or name.endswith("position_ids"):
        return None
    return name.replace("LayerNorm.gamma", "LayerNorm.weight").replace("LayerNorm.beta", "LayerNorm.bias")


def weight_files(checkpoint: Path) -> list[str]:
    """Return the safetensors file names of a checkpoint (one file, or the shards of an index).

    Raises
    ------
    UnsafeModelError
        Only pickle-based weights are present, or an index names a path outside the folder.
    ModelIntegrityError
        No weights at all, or a shard listed in the index is missing.

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / "pytorch_model.bin").write_bytes(b"")
    >>> weight_files(folder)
    Traceback (most recent call last):
    ...
    sparkbert.errors.UnsafeModelError: ... holds only pickle-based weights (pytorch_model.bin)...runs arbitrary code...
    """
    if (checkpoint / SAFETENSORS_NAME).is_file():
        return [SAFETENSORS_NAME]
    index_path = checkpoint / SAFETENSORS_INDEX_NAME
    if index_path.is_file():
        weight_map = _read_json(index_path).get("weight_map")
        if not isinstance(weight_map, dict) or not weight_map:
            raise ModelIntegrityError(f"{index_path} has no 'weight_map'")
        shards = sorted({check_file_name(v, where=str(index_path)) for v in weight_map.values()})
        for shard in shards:
            if not (checkpoint / shard).is_file():
                raise ModelIntegrityError(f"{checkpoint / shard} is listed in {index_path.name} but missing")
        return [*shards, SAFETENSORS_INDEX_NAME]
    pickles = sorted(p.name for p in checkpoint.iterdir() if p.name.endswith(_PICKLE_SUFFIXES))
    if pickles:
        raise UnsafeModelError(
            f"{checkpoint} holds only pickle-based weights ({', '.join(pickles)}). Loading a pickle "
            "runs arbitrary code, so sparkbert refuses it: use a checkpoint with model.safetensors "
            "(most Hub repos have one; or convert once, in a sandbox, with transformers' "
            "save_pretrained(..., safe_serialization=True))."
        )
    raise ModelIntegrityError(f"{checkpoint} has no {SAFETENSORS_NAME} or {SAFETENSORS_INDEX_NAME}")


class CheckpointWeights(Closing):
    """Lazy, checked access to a checkpoint's weights by canonical name.

    Use as a context manager; ``get`` returns one float32 array at a time.

    Examples
    --------
    >>> import tempfile
    >>> from safetensors.numpy import save_file
    >>> folder = Path(tempfile.mkdtemp())
    >>> save_file({"bert.embeddings.LayerNorm.gamma": np.ones(4, np.float16)}, str(folder / "model.safetensors"))
    >>> with CheckpointWeights(folder) as weights:
    ...     weights.get("embeddings.LayerNorm.weight", (4,)).dtype
    dtype('float32')
    """

    def __init__(self, checkpoint: str | os.PathLike[str]) -> None:
        from safetensors import safe_open

        self.checkpoint = Path(checkpoint)
        self.files = weight_files(self.checkpoint)
        self._stack = contextlib.ExitStack()
        self._keys: dict[str, tuple[Any, str, str]] = {}
        try:
            for name in self.files:
                if name.endswith(".json"):
                    continue
                try:
                    handle = self._stack.enter_context(
                        safe_open(str(self.checkpoint / name), framework="numpy")
                    )
                except Exception as e:  # safetensors raises its own error types
                    raise ModelIntegrityError(
                        f"{self.checkpoint / name} is not a valid safetensors file: {e}"
                    ) from e
                for key in handle.keys():  # noqa: SIM118 (safe_open is not iterable)
                    canonical = canonical_key(key)
                    if canonical is None:
                        continue
                    if canonical in self._keys:
                        raise ModelIntegrityError(
                            f"{self.checkpoint}: {key!r} and {self._keys[canonical][1]!r} are both {canonical!r}"
                        )
                    self._keys[canonical] = (handle, key, name)
        except BaseException:
            self._stack.close()
            raise

    def close(self) -> None:
        """Close the memory-mapped files (leaving a ``with`` block does it).

        Examples
        --------
        >>> import tempfile
        >>> from safetensors.numpy import save_file
        >>> folder = Path(tempfile.mkdtemp())
        >>> save_file({"pooler.dense.bias": np.zeros(4, np.float32)}, str(folder / "model.safetensors"))
        >>> weights = CheckpointWeights(folder)
        >>> weights.close()
        """
        self._stack.close()

    def keys(self) -> Iterator[str]:
        """Yield the canonical names present (ignored keys left out).

        Examples
        --------
        >>> import tempfile
        >>> from safetensors.numpy import save_file
        >>> folder = Path(tempfile.mkdtemp())
        >>> tensors = {"bert.embeddings.LayerNorm.beta": np.zeros(4, np.float32),
        ...            "cls.predictions.bias": np.zeros(4, np.float32)}
        >>> save_file(tensors, str(folder / "model.safetensors"))
        >>> with CheckpointWeights(folder) as weights:
        ...     list(weights.keys())
        ['embeddings.LayerNorm.bias']
        """
        yield from self._keys

    def has(self, name: str) -> bool:
        """Return True when the canonical weight ``name`` is present (e.g. the optional pooler).

        Examples
        --------
        >>> import tempfile
        >>> from safetensors.numpy import save_file
        >>> folder = Path(tempfile.mkdtemp())
        >>> save_file({"bert.pooler.dense.bias": np.zeros(4, np.float32)}, str(folder / "model.safetensors"))
        >>> with CheckpointWeights(folder) as weights:
        ...     weights.has("pooler.dense.bias"), weights.has("pooler.dense.weight")
        (True, False)
        """
        return name in self._keys

    def get(self, name: str, shape: tuple[int, ...]) -> NDArray[np.float32]:
        """Return the float32 weight ``name`` after checking its shape.

        Raises
        ------
        ModelIntegrityError
            The weight is missing (both layouts' spellings are named) or has another shape.

        Examples
        --------
        >>> import tempfile
        >>> from safetensors.numpy import save_file
        >>> folder = Path(tempfile.mkdtemp())
        >>> save_file({"embeddings.LayerNorm.bias": np.ones(4, np.float16)}, str(folder / "model.safetensors"))
        >>> with CheckpointWeights(folder) as weights:
        ...     weights.get("embeddings.LayerNorm.bias", (4,))
        array([1., 1., 1., 1.], dtype=float32)
        >>> with CheckpointWeights(folder) as weights:
        ...     weights.get("embeddings.LayerNorm.bias", (8,))
        Traceback (most recent call last):
        ...
        sparkbert.errors.ModelIntegrityError: ...: 'embeddings.LayerNorm.bias' has shape (4,), the config implies (8,)
        """
        if name not in self._keys:
            if any(key.startswith(("transformer.", "distilbert.")) for _, key, _ in self._keys.values()):
                legacy = name  # a DistilBERT checkpoint: name the weight as it spells it
                for theirs, ours in DISTILBERT_NAMES:
                    legacy = legacy.replace(ours, theirs)
            else:
                legacy = "bert." + name.replace("LayerNorm.weight", "LayerNorm.gamma").replace(
                    "LayerNorm.bias", "LayerNorm.beta"
                )
            raise ModelIntegrityError(
                f"{self.checkpoint}: weight {name!r} (or {legacy!r}) is missing from {', '.join(self.files)}"
            )
        handle, key, file_name = self._keys[name]
        found = tuple(handle.get_slice(key).get_shape())
        if found != shape:
            raise ModelIntegrityError(
                f"{self.checkpoint / file_name}: {key!r} has shape {found}, the config implies {shape}"
            )
        if handle.get_slice(key).get_dtype() == "BF16":
            return _read_bf16(self.checkpoint / file_name, key, shape)
        return np.asarray(handle.get_tensor(key), dtype=np.float32)


def _read_bf16(path: Path, key: str, shape: tuple[int, ...]) -> NDArray[np.float32]:
    """Read a bfloat16 tensor (which numpy lacks) by widening its bits to float32."""
    with open(path, "rb") as f:
        header_len = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(header_len))
    begin, end = header[key]["data_offsets"]
    bits = np.fromfile(path, dtype="<u2", count=(end - begin) // 2, offset=8 + header_len + begin)
    return (bits.astype(np.uint32) << 16).view(np.float32).reshape(shape)


__all__ = [
    "ACTIVATIONS",
    "DISTILBERT_NAMES",
    "SUPPORTED_ACTIVATIONS",
    "SUPPORTED_MODEL_TYPES",
    "BertSpec",
    "CheckpointWeights",
    "canonical_key",
    "read_config",
    "weight_files",
]
