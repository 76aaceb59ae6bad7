"""int8 quantization of a model directory: ONNX Runtime's dynamic quantizer after four graph rewrites.

Weights become int8 (per output channel); activations are quantized on the fly, one scale
per tensor per batch. ONNX Runtime runs ``Attention`` as ``QAttention`` and each dense
``MatMul`` as ``DynamicQuantizeMatMul`` (VNNI/AMX kernels where the CPU has them);
LayerNorms, GELU and Softmax stay float32. Before quantizing, ``sparkbert.model.int8_graph``
rewrites the fp32 graph (the first three exactly in float arithmetic):

* SmoothQuant (α 0.5) on the inputs of the attention and FFN-up GEMMs, with per-channel
  ranges calibrated on the model's own activations (random word pieces of its vocabulary);
* the two widest intermediate channels of every FFN moved to a small float32 side path,
  so the down projection's input has no outlier channel left;
* ``SkipLayerNormalization`` as ``Sum`` + ``LayerNormalization`` (4 × cheaper on CPU; the
  converter's fp32 graph has been written that way since 2026-12-01, so this one only changes
  fp32 directories converted before);
* GELU by its tanh approximation (``FastGelu``, within 4.8e-4 of the exact GELU).

Measured in two runs (``benchmarks/int8.py``, 1 thread, batches of 8, a 2-vCPU machine with
AVX-512 VNNI, onnxruntime 1.32) against the converter's fp32 graph as it was then (with
``SkipLayerNormalization``); cosine is per word piece against fp32 over 50 UD sentences of
each of the 12 languages (mean / minimum), speed on short sentences and on long paragraphs:

| all-MiniLM-L6-v2 | cosine | speed vs fp32 |
| --- | --- | --- |
| every GEMM int8, no rewrite (``quantize_dynamic``) | 0.980 / 0.881 | 2.1–2.2 × |
| FFN down projections kept fp32 (the old default) | 0.991 / 0.946 | 1.5–1.6 × |
| every GEMM int8 + the three exact rewrites | 0.995 / 0.955 | 2.5–2.6 × |
| **+ tanh GELU** (default) | 0.995 / 0.966 | 2.5–2.7 × |

Against today's fp32 graph (``Sum`` + ``LayerNormalization``, 6 % faster on MiniLM) the
default is 2.3–2.5 × on MiniLM (cosine 0.995 / 0.959) and 3.0–3.2 × on the mBERT-shaped
benchmark model (0.9994 / 0.9992). End to end through Spark (full pipeline, 6,000 UD
sentences) int8 MiniLM runs 2.3 × today's fp32 per CPU-second (``docs/performance.md``).
``reduce_range=False`` (8-bit weights) gave 0.997 / 0.977 on MiniLM at the same speed on a
VNNI CPU; it is not the default because AVX2 kernels without VNNI can saturate with it.
Per tensor weights (``per_channel=False``) cost far more fidelity (0.74 mean) for no
speed. The embedding tables stay float32 by default: quantizing them
(``QEmbedLayerNormalization``) also quantizes the LayerNorm's gamma and beta to uint8,
costing about 0.002 of cosine for no speed (a lookup is not a GEMM); it only saves disk.

Examples
--------
>>> quantize_int8(None, "/tmp/out")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
sparkbert.errors.InvalidParamError: Invalid value for param 'src': None. Valid values: a ModelDirectory ...
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sparkbert._paths import temp_sibling
from sparkbert.errors import InvalidParamError
from sparkbert.model.directory import (
    CONFIG_NAME,
    ONNX_DATA_NAME,
    ONNX_NAME,
    TOKENIZER_NAME,
    ModelDirectory,
    another_model_error,
    existing_output,
    write_model_directory,
)
from sparkbert.model.onnx_graph import ExternalDataWriter, externalize

logger = logging.getLogger(__name__)
#: metadata ``quantize_dynamic`` reads as "pre-processed" (``quant_utils.model_has_pre_process_metadata``)
_PRE_PROCESSED = ("onnx.quant.pre_process", "onnxruntime.quant")

#: Manifest fields that describe the files rather than the model; not carried over.
_FILE_FIELDS = ("format", "format_version", "files", "sparkbert_version")
#: Files rewritten by quantization; every other listed file is copied unchanged.
_GRAPH_FILES = {ONNX_NAME, ONNX_DATA_NAME}
#: The GEMMs of a layer, by role, as node-name patterns of ``sparkbert.model.onnx_graph``.
ROLES = {
    "attention": r"encoder\.layer\.\d+\.attention\.self",
    "attention_output": r"encoder\.layer\.\d+\.attention\.output\.dense",
    "ffn_up": r"encoder\.layer\.\d+\.intermediate\.dense",
    "ffn_down": r"encoder\.layer\.\d+\.output\.dense",
}
#: Roles kept in float32 by default: none (see the module docstring for the measurements).
DEFAULT_KEEP_FP32: tuple[str, ...] = ()


@dataclass(frozen=True)
class Int8Recipe:
    """How ``quantize_int8_recipe`` quantizes; the defaults are ``quantize_int8``'s.

    Examples
    --------
    >>> Int8Recipe(keep_fp32=("ffn_down",)).outlier_channels
    2
    """

    per_channel: bool = True
    reduce_range: bool = True
    quantize_embeddings: bool = False
    keep_fp32: tuple[str, ...] = DEFAULT_KEEP_FP32
    #: GEMM roles whose input is smoothed (SmoothQuant); roles in ``keep_fp32`` are skipped.
    smooth: tuple[str, ...] = ("attention", "ffn_up")
    alpha: float = 0.5
    #: Widest FFN intermediate channels computed in float32 per layer (0: none).
    outlier_channels: int = 2
    #: ``SkipLayerNormalization`` as ``Sum`` + ``LayerNormalization`` (fp32 graphs converted before 2026-12-01).
    unfuse_layer_norm: bool = True
    #: GELU by its tanh approximation (``FastGelu``): within 4.8e-4, cheaper than the exact erf.
    tanh_gelu: bool = True
    calibration_sequences: int = 64


def quantize_int8(
    src: ModelDirectory,
    out: str | os.PathLike[str],
    *,
    per_channel: bool = True,
    reduce_range: bool = True,
    quantize_embeddings: bool = False,
    keep_fp32: Iterable[str] = DEFAULT_KEEP_FP32,
) -> ModelDirectory:
    """Write an int8 copy of an fp32 model directory to ``out``, atomically.

    Parameters
    ----------
    src : ModelDirectory
        An ``fp32`` model directory (as made by ``convert_checkpoint``).
    out : str or os.PathLike
        The model directory to create. If it already holds this quantization of ``src``
        (same recipe) it is returned as is; another model there is refused.
    per_channel : bool, default True
        One scale per output channel of each weight, rather than per tensor.
    reduce_range : bool, default True
        7-bit weights, safe on AVX2 CPUs without VNNI (whose u8×s8 kernels can saturate);
        ``False`` is more faithful where every executor has VNNI or AMX.
    quantize_embeddings : bool, default False
        Also quantize the embedding tables (smaller file, lower fidelity).
    keep_fp32 : iterable of str, default ()
        GEMM roles left in float32: any of ``"attention"``, ``"attention_output"``,
        ``"ffn_up"``, ``"ffn_down"`` (slower; the rewrites already keep fidelity).

    Returns
    -------
    ModelDirectory
        With ``precision`` ``"int8"``; tokenizer and config are copied unchanged and the
        manifest records the settings and the source directory's identity.

    Raises
    ------
    InvalidParamError
        ``src`` is not an fp32 model directory, ``keep_fp32`` names an unknown role, or
        ``out`` holds something else.

    Examples
    --------
    >>> import inspect
    >>> list(inspect.signature(quantize_int8).parameters)[:2]
    ['src', 'out']
    """
    keep = tuple(sorted(set(keep_fp32)))
    for role in keep:
        if role not in ROLES:
            raise InvalidParamError.for_param("keep_fp32", role, list(ROLES))
    recipe = Int8Recipe(
        per_channel=per_channel,
        reduce_range=reduce_range,
        quantize_embeddings=quantize_embeddings,
        keep_fp32=keep,
    )
    return quantize_int8_recipe(src, out, recipe)


def int8_settings(src: ModelDirectory, recipe: Int8Recipe) -> dict[str, Any]:
    """The ``quantization`` manifest entry that ``recipe`` applied to ``src`` writes.

    A copy quantized by another recipe (or another version's default) has a different entry.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> int8_settings(SimpleNamespace(identity="abc"), Int8Recipe(tanh_gelu=False))["gelu"]
    'erf'
    """
    return {**recipe_settings(recipe), "from_identity": src.identity}


def recipe_settings(recipe: Int8Recipe) -> dict[str, Any]:
    """``int8_settings`` without the source: what tells one recipe from another.

    Examples
    --------
    >>> recipe_settings(Int8Recipe()) == recipe_settings(Int8Recipe(tanh_gelu=False))
    False
    """
    op_types = ["MatMul", "Attention"] + (
        ["EmbedLayerNormalization", "Gather"] if recipe.quantize_embeddings else []
    )
    return {
        "method": "onnxruntime.quantization.quantize_dynamic",
        "weight_type": "int8",
        "per_channel": recipe.per_channel,
        "reduce_range": recipe.reduce_range,
        "op_types": op_types,
        "keep_fp32": list(recipe.keep_fp32),
        "smooth": [r for r in recipe.smooth if r not in recipe.keep_fp32],
        "smooth_alpha": recipe.alpha,
        "fp32_outlier_channels": 0 if "ffn_down" in recipe.keep_fp32 else recipe.outlier_channels,
        "unfuse_layer_norm": recipe.unfuse_layer_norm,
        "gelu": "tanh" if recipe.tanh_gelu else "erf",
        "calibration": f"{recipe.calibration_sequences} sequences of random word pieces, seed 0",
    }


@contextmanager
def _root_logger_untouched() -> Iterator[None]:
    """Keep ONNX Runtime's ``logging.info`` calls from configuring the root logger (``basicConfig``)."""
    root = logging.getLogger()
    guard = logging.NullHandler() if not root.handlers else None
    if guard is not None:
        root.addHandler(guard)
    try:
        yield
    finally:
        if guard is not None:
            root.removeHandler(guard)


def quantize_int8_recipe(
    src: ModelDirectory, out: str | os.PathLike[str], recipe: Int8Recipe
) -> ModelDirectory:
    """``quantize_int8`` with every setting of the recipe open (for measurements).

    Examples
    --------
    >>> quantize_int8_recipe(None, "/tmp/out", Int8Recipe())  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    sparkbert.errors.InvalidParamError: Invalid value for param 'src': None. Valid values: a ModelDirectory ...
    """
    if not isinstance(src, ModelDirectory):
        raise InvalidParamError.for_param("src", src, "a ModelDirectory (see ModelDirectory.load)")
    if src.precision != "fp32":
        raise InvalidParamError.for_param("src.precision", src.precision, ["fp32"])
    for role in recipe.keep_fp32:
        if role not in ROLES:
            raise InvalidParamError.for_param("keep_fp32", role, list(ROLES))
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    settings = int8_settings(src, recipe)
    op_types = settings["op_types"]
    found = existing_output(Path(out))
    if found is not None:
        made = found.manifest.get("quantization") or {}
        if made != settings:
            same_source = made.get("from_identity") == src.identity
            raise another_model_error(
                Path(out), found, "another int8 recipe" if same_source else "another model"
            )
        logger.info("%s already holds this quantization; reusing it", out)
        return found

    def populate(staging: Path) -> Mapping[str, Any]:
        scratch = temp_sibling(out, "tmp")
        scratch.mkdir()
        try:
            model = onnx.load(str(src.onnx_path))
            side = _rewrite(model, src, recipe, settings)
            pattern = re.compile("|".join(f"(?:{ROLES[role]})" for role in recipe.keep_fp32) or "(?!)")
            excluded = side + [n.name for n in model.graph.node if pattern.fullmatch(n.name)]
            # the graph is already fused and typed; unmarked, quantize_dynamic advises
            # pre-processing through the root logger, installing a handler in the user's process
            model.metadata_props.add(key=_PRE_PROCESSED[0], value=_PRE_PROCESSED[1])
            onnx.save(
                model, str(scratch / "fp32.onnx"), save_as_external_data=True, location="fp32.onnx.data"
            )
            del model
            with _root_logger_untouched():
                quantize_dynamic(
                    scratch / "fp32.onnx",
                    scratch / ONNX_NAME,
                    op_types_to_quantize=op_types,
                    per_channel=recipe.per_channel,
                    reduce_range=recipe.reduce_range,
                    weight_type=QuantType.QInt8,
                    nodes_to_exclude=excluded,
                    # onnx shape inference cannot type the outputs of contrib ops: they are float
                    extra_options={"MatMulConstBOnly": True, "DefaultTensorType": onnx.TensorProto.FLOAT},
                )
            model = onnx.load(str(scratch / ONNX_NAME))
            props = {p.key: p.value for p in model.metadata_props if (p.key, p.value) != _PRE_PROCESSED}
            onnx.helper.set_model_props(model, {**props, "precision": "int8"})  # replaces them all
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        with ExternalDataWriter(staging / ONNX_DATA_NAME) as writer:
            externalize(model, writer)
        (staging / ONNX_NAME).write_bytes(model.SerializeToString())
        del model
        for name in (TOKENIZER_NAME, CONFIG_NAME, *sorted(set(src.manifest["files"]) - _GRAPH_FILES)):
            if not (staging / name).exists():  # e.g. the sentence head, kept in float32
                shutil.copyfile(src.path / name, staging / name)
        fields = {k: v for k, v in src.manifest.items() if k not in _FILE_FIELDS}
        return {**fields, "precision": "int8", "quantization": settings}

    logger.info("Quantizing %s to int8 into %s", src.path, out)
    return write_model_directory(out, populate)


def _rewrite(model: Any, src: ModelDirectory, recipe: Int8Recipe, settings: dict[str, Any]) -> list[str]:
    """Apply the recipe's graph rewrites to the fp32 ``model`` in place; return float32 side GEMMs."""
    from sparkbert.model import int8_graph
    from sparkbert.runtime.tokenization import load_tokenizer, special_ids

    smooth = [r for r in recipe.smooth if r not in recipe.keep_fp32]
    channels = settings["fp32_outlier_channels"]
    side: list[str] = []
    if smooth or channels:
        layers = int8_graph.layer_gemms(model).values()
        tensors = [layer[r].input[0] for layer in layers for r in {*smooth, "ffn_down"}]
        tokenizer = load_tokenizer(src.tokenizer_path)
        ids = special_ids(tokenizer)
        batches = int8_graph.calibration_batches(
            tokenizer.get_vocab_size(),
            {"cls": ids.cls, "sep": ids.sep, "pad": ids.pad},
            sequences=recipe.calibration_sequences,
        )
        ranges = int8_graph.channel_ranges(model, batches, tensors)
        if smooth:
            int8_graph.smooth(model, ranges, smooth, alpha=recipe.alpha)
        if channels:
            side = int8_graph.split_outlier_channels(model, ranges, channels)
    if recipe.unfuse_layer_norm:
        int8_graph.unfuse_skip_layer_norm(model)
    if recipe.tanh_gelu:
        int8_graph.tanh_gelu(model)
    return side


__all__ = [
    "DEFAULT_KEEP_FP32",
    "Int8Recipe",
    "int8_settings",
    "quantize_int8",
    "quantize_int8_recipe",
    "recipe_settings",
]
