"""Emit a BERT encoder as an ONNX graph, streaming its weights to one external-data file.

The default graph is made of ONNX Runtime's fused transformer kernels (domain
``com.microsoft``), the same ops its ``transformers.optimizer`` produces, so nothing depends
on a pattern matcher recognising our graph:

| op | replaces |
| --- | --- |
| ``EmbedLayerNormalization`` | three Gathers, two Adds and the embedding LayerNorm |
| ``Attention`` | Q/K/V projections (one packed GEMM), scaled dot product, mask, Softmax and head reshapes |
| ``SkipLayerNormalization`` (fp16) | dense bias + residual Add + LayerNorm |
| ``BiasGelu`` / ``FastGelu`` | bias Add + exact (erf) GELU / its tanh approximation (``hidden_act``) |

In fp32 the residual is ``Sum(dense, residual, bias)`` + ``LayerNormalization`` instead of
``SkipLayerNormalization``: the same arithmetic (within 2e-6), but ONNX Runtime's CPU kernel
for the fused op is about 4 × slower than the two (onnxruntime 1.32), which made
all-MiniLM-L6-v2's fp32 graph 6 % slower (``benchmarks/int8.py``); its optimizer fuses
``Add`` + ``LayerNormalization`` back but leaves ``Sum`` alone. fp16 is the GPU precision and
keeps the fused op.

``fused=False`` emits the same network with standard ONNX ops only (opset 17), for
runtimes without the contrib ops and as the baseline the fused graph is measured against.

Inputs are ``input_ids``, ``attention_mask`` (1 = token, 0 = padding) and
``token_type_ids``, all int64 ``[batch, sequence]``; the output ``last_hidden_state`` is
float32 ``[batch, sequence, hidden]`` whatever the weight precision. Every hidden state
inside the graph has a stable name, ``HIDDEN_STATE_NAME`` (``hidden_states.0`` is the
embedding output), so a runtime can export the layers it needs
(``sparkbert.runtime.layer_graph.with_hidden_states``).

Examples
--------
>>> import tempfile
>>> from pathlib import Path
>>> with ExternalDataWriter(Path(tempfile.mkdtemp()) / "model.onnx.data") as writer:
...     tensor = writer.add("w", np.ones((2, 3), np.float32))
>>> tensor.dims, tensor.data_location == onnx.TensorProto.EXTERNAL
([2, 3], True)
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import numpy as np
import onnx
from numpy.typing import NDArray
from onnx import TensorProto, helper, numpy_helper

from sparkbert.errors import InvalidParamError
from sparkbert.model.checkpoint import ACTIVATIONS, BertSpec, Closing
from sparkbert.model.format import HIDDEN_STATE_NAME, INPUT_NAMES, OUTPUT_NAME

#: Tensors at least this large start on a 64 KiB boundary, so ONNX Runtime can mmap them.
ALIGN_THRESHOLD = 1 << 20
ALIGNMENT = 1 << 16
_SMALL_ALIGNMENT = 64
OPSET = 17
MS_DOMAIN = "com.microsoft"

# What build_bert_graph writes has a version per precision: ``format.GRAPH_VERSIONS``. Bump it
# there whenever what is written for a precision changes.

#: ``get(canonical_name, shape)`` returns one checkpoint weight as float32.
WeightGetter = Callable[[str, tuple[int, ...]], NDArray[np.float32]]


class ExternalDataWriter(Closing):
    """Append tensors to one external-data file and return protos that point at them.

    Examples
    --------
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "x.data"
    >>> with ExternalDataWriter(path) as writer:
    ...     _ = writer.add("a", np.zeros(3, np.float32))
    ...     b = writer.add("b", np.zeros(3, np.float32))
    >>> [e.value for e in b.external_data]
    ['x.data', '64', '12']
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._file = open(self.path, "wb")  # noqa: SIM115  (closed in close())

    def close(self) -> None:
        """Flush and close the file (leaving a ``with`` block does it).

        Examples
        --------
        >>> import tempfile
        >>> writer = ExternalDataWriter(Path(tempfile.mkdtemp()) / "x.data")
        >>> _ = writer.add("w", np.ones(2, np.float32))
        >>> writer.close()
        >>> writer.path.stat().st_size
        8
        """
        self._file.close()

    def add(self, name: str, array: NDArray[Any]) -> TensorProto:
        """Write ``array`` (aligned) and return an external-data ``TensorProto`` named ``name``.

        Examples
        --------
        >>> import tempfile
        >>> with ExternalDataWriter(Path(tempfile.mkdtemp()) / "x.data") as writer:
        ...     tensor = writer.add("bias", np.zeros((2, 3), np.float16))
        >>> tensor.name, list(tensor.dims), tensor.data_location == TensorProto.EXTERNAL
        ('bias', [2, 3], True)
        """
        array = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<"))
        alignment = ALIGNMENT if array.nbytes >= ALIGN_THRESHOLD else _SMALL_ALIGNMENT
        offset = self._file.tell()
        if offset % alignment:
            self._file.write(b"\0" * (alignment - offset % alignment))
            offset = self._file.tell()
        self._file.write(array.data)
        tensor = TensorProto()
        tensor.name = name
        tensor.data_type = helper.np_dtype_to_tensor_dtype(array.dtype)
        tensor.dims.extend(array.shape)
        for key, value in (("location", self.path.name), ("offset", offset), ("length", array.nbytes)):
            entry = tensor.external_data.add()
            entry.key, entry.value = key, str(value)
        tensor.data_location = TensorProto.EXTERNAL
        return tensor


class _Graph:
    """Accumulates nodes and initializers; weights go to the writer, small constants inline."""

    def __init__(self, writer: ExternalDataWriter, dtype: type[np.floating[Any]]) -> None:
        self.writer = writer
        self.dtype = dtype
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[TensorProto] = []
        self._count = 0

    def weight(self, name: str, array: NDArray[np.float32]) -> str:
        cast = array.astype(self.dtype, copy=False)
        if cast.dtype != array.dtype and not np.isfinite(cast).all():
            raise InvalidParamError(
                f"Weight {name!r} overflows {np.dtype(self.dtype).name}; use precision 'fp32'"
            )
        self.initializers.append(self.writer.add(name, cast))
        return name

    def const(self, value: Any, dtype: Any = None) -> str:
        self._count += 1
        name = f"const_{self._count}"
        self.initializers.append(numpy_helper.from_array(np.asarray(value, dtype=dtype or self.dtype), name))
        return name

    def rename(self, tensor: str, name: str) -> str:
        """Rename the output ``tensor`` of the node that produces it (before anything consumes it)."""
        for node in reversed(self.nodes):
            for k, out in enumerate(node.output):
                if out == tensor:
                    node.output[k] = name
                    return name
        raise KeyError(tensor)

    def op(
        self,
        op_type: str,
        inputs: list[str],
        *,
        name: str | None = None,
        domain: str = "",
        n_outputs: int = 1,
        **attrs: Any,
    ) -> str:
        """Add a node and return its first output (any others are left unused)."""
        self._count += 1
        outputs = [f"{op_type.lower()}_{self._count}" + (f"_{i}" if i else "") for i in range(n_outputs)]
        node_name = name or f"{op_type}_{self._count}"
        self.nodes.append(helper.make_node(op_type, inputs, outputs, name=node_name, domain=domain, **attrs))
        return outputs[0]


def build_bert_graph(
    spec: BertSpec,
    get: WeightGetter,
    writer: ExternalDataWriter,
    *,
    precision: Literal["fp32", "fp16"] = "fp32",
    fused: bool = True,
) -> onnx.ModelProto:
    """Return the ONNX encoder for ``spec``, writing its weights through ``writer``.

    Parameters
    ----------
    spec : BertSpec
        Shapes and epsilon.
    get : callable
        ``get(canonical_name, shape)`` returns a float32 weight (see ``CheckpointWeights``).
    writer : ExternalDataWriter
        Where the weights go; one tensor is in memory at a time.
    precision : {"fp32", "fp16"}
        Weight and compute type; inputs and output keep their int64/float32 types.
    fused : bool, default True
        Emit ONNX Runtime's fused contrib ops; False emits standard ONNX ops only.

    Examples
    --------
    >>> import tempfile
    >>> spec = BertSpec(vocab_size=10, hidden_size=4, num_hidden_layers=1, num_attention_heads=2,
    ...                 intermediate_size=8, max_position_embeddings=6)
    >>> zeros = lambda name, shape: np.zeros(shape, np.float32)
    >>> with ExternalDataWriter(Path(tempfile.mkdtemp()) / "m.data") as writer:
    ...     model = build_bert_graph(spec, zeros, writer)
    >>> sorted({n.op_type for n in model.graph.node})
    ['Attention', 'BiasGelu', 'Cast', 'EmbedLayerNormalization', 'LayerNormalization', 'MatMul', 'Sum']
    """
    if precision not in ("fp32", "fp16"):
        raise InvalidParamError.for_param("precision", precision, ["fp32", "fp16"])
    g = _Graph(writer, np.float32 if precision == "fp32" else np.float16)
    h = spec.hidden_size
    x = g.rename(_embeddings(g, spec, get, fused=fused), HIDDEN_STATE_NAME.format(0))
    mask = _attention_mask(g, fused=fused)
    for i in range(spec.num_hidden_layers):
        x = _layer(g, spec, get, f"encoder.layer.{i}.", x, mask, fused=fused)
        if i + 1 < spec.num_hidden_layers or precision == "fp16":
            x = g.rename(x, HIDDEN_STATE_NAME.format(i + 1))
    if precision == "fp16":
        x = g.op("Cast", [x], to=TensorProto.FLOAT)
    g.nodes[-1].output[0] = OUTPUT_NAME
    io_shape = ["batch", "sequence"]
    graph = helper.make_graph(
        g.nodes,
        "sparkbert_bert_encoder",
        [helper.make_tensor_value_info(name, TensorProto.INT64, io_shape) for name in INPUT_NAMES],
        [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, [*io_shape, h])],
        g.initializers,
    )
    opsets = [helper.make_opsetid("", OPSET)]
    if fused:
        opsets.append(helper.make_opsetid(MS_DOMAIN, 1))
    model = helper.make_model(graph, opset_imports=opsets, producer_name="sparkbert", ir_version=8)
    helper.set_model_props(
        model, {"sparkbert.graph": "fused" if fused else "standard", "precision": precision}
    )
    return model


def _embeddings(g: _Graph, spec: BertSpec, get: WeightGetter, *, fused: bool) -> str:
    h = spec.hidden_size
    word = g.weight("word_embeddings", get("embeddings.word_embeddings.weight", (spec.vocab_size, h)))
    table = get("embeddings.position_embeddings.weight", (spec.max_position_embeddings, h))
    pos = g.weight("position_embeddings", table[spec.position_offset :])  # RoBERTa: from pad + 1
    types = (
        get("embeddings.token_type_embeddings.weight", (spec.type_vocab_size, h))
        if spec.token_types
        else np.zeros((spec.type_vocab_size, h), np.float32)  # DistilBERT: no token types
    )
    seg = g.weight("token_type_embeddings", types)
    gamma = g.weight("embeddings_ln_gamma", get("embeddings.LayerNorm.weight", (h,)))
    beta = g.weight("embeddings_ln_beta", get("embeddings.LayerNorm.bias", (h,)))
    if fused:
        ids = g.op("Cast", ["input_ids"], to=TensorProto.INT32)
        segments = g.op("Cast", ["token_type_ids"], to=TensorProto.INT32)
        return g.op(
            "EmbedLayerNormalization",
            [ids, segments, word, pos, seg, gamma, beta],
            domain=MS_DOMAIN,
            n_outputs=2,  # its shape inference insists on the mask_index output
            epsilon=spec.layer_norm_eps,
        )
    length = g.op("Shape", ["input_ids"], start=1, end=2)
    positions = g.op("Slice", [pos, g.const([0], np.int64), length, g.const([0], np.int64)])
    total = g.op("Add", [g.op("Gather", [word, "input_ids"]), positions])
    total = g.op("Add", [total, g.op("Gather", [seg, "token_type_ids"])])
    return g.op("LayerNormalization", [total, gamma, beta], axis=-1, epsilon=spec.layer_norm_eps)


def _attention_mask(g: _Graph, *, fused: bool) -> str:
    if fused:  # Attention takes the raw 1/0 mask, [batch, sequence], as int32
        return g.op("Cast", ["attention_mask"], to=TensorProto.INT32)
    float_type = helper.np_dtype_to_tensor_dtype(np.dtype(g.dtype))
    keep = g.op("Cast", ["attention_mask"], to=float_type)
    bias = g.op("Mul", [g.op("Sub", [g.const(1.0), keep]), g.const(-10000.0)])
    return g.op("Unsqueeze", [bias, g.const([1, 2], np.int64)])  # [batch, 1, 1, sequence]


def _dense(g: _Graph, get: WeightGetter, name: str, x: str, n_in: int, n_out: int) -> tuple[str, str]:
    """Return (x @ W.T, bias name) for a Hugging Face Linear layer (weight [out, in])."""
    weight = g.weight(f"{name}.weight", get(f"{name}.weight", (n_out, n_in)).T)
    bias = g.weight(f"{name}.bias", get(f"{name}.bias", (n_out,)))
    return g.op("MatMul", [x, weight], name=name), bias


def _layer(g: _Graph, spec: BertSpec, get: WeightGetter, p: str, x: str, mask: str, *, fused: bool) -> str:
    h, heads, eps = spec.hidden_size, spec.num_attention_heads, spec.layer_norm_eps
    ln = {
        "attn": (f"{p}attention.output.LayerNorm.weight", f"{p}attention.output.LayerNorm.bias"),
        "out": (f"{p}output.LayerNorm.weight", f"{p}output.LayerNorm.bias"),
    }
    if fused:
        parts = [f"{p}attention.self.{n}" for n in ("query", "key", "value")]
        qkv = np.concatenate([get(f"{n}.weight", (h, h)).T for n in parts], axis=1)
        qkv_w = g.weight(f"{p}attention.qkv.weight", qkv)
        del qkv
        qkv_b = g.weight(f"{p}attention.qkv.bias", np.concatenate([get(f"{n}.bias", (h,)) for n in parts]))
        context = g.op(
            "Attention", [x, qkv_w, qkv_b, mask], name=f"{p}attention.self", domain=MS_DOMAIN, num_heads=heads
        )
    else:
        context = _standard_attention(g, spec, get, p, x, mask)
    dense, bias = _dense(g, get, f"{p}attention.output.dense", context, h, h)
    y = _add_layer_norm(g, get, dense, x, bias, ln["attn"], h, eps, fused=fused)
    up, up_bias = _dense(g, get, f"{p}intermediate.dense", y, h, spec.intermediate_size)
    act = _activation(g, spec.activation, up, up_bias, fused=fused)
    down, down_bias = _dense(g, get, f"{p}output.dense", act, spec.intermediate_size, h)
    return _add_layer_norm(g, get, down, y, down_bias, ln["out"], h, eps, fused=fused)


def _activation(g: _Graph, kind: str, x: str, bias: str, *, fused: bool) -> str:
    """``act(x + bias)`` for the FFN (``kind``: a value of ``ACTIVATIONS``); fused ops where ORT has them."""
    if fused and kind in ("gelu", "gelu_tanh"):
        return g.op("BiasGelu" if kind == "gelu" else "FastGelu", [x, bias], domain=MS_DOMAIN)
    x = g.op("Add", [x, bias])
    if kind == "gelu":  # 0.5 x (1 + erf(x / √2))
        erf = g.op("Erf", [g.op("Div", [x, g.const(math.sqrt(2.0))])])
        return g.op("Mul", [g.op("Mul", [x, g.op("Add", [erf, g.const(1.0)])]), g.const(0.5)])
    if kind == "gelu_tanh":  # 0.5 x (1 + tanh(√(2/π) (x + 0.044715 x³)))
        cube = g.op("Mul", [g.op("Mul", [x, x]), x])
        inner = g.op("Add", [x, g.op("Mul", [cube, g.const(0.044715)])])
        tanh = g.op("Tanh", [g.op("Mul", [inner, g.const(math.sqrt(2.0 / math.pi))])])
        return g.op("Mul", [g.op("Mul", [x, g.op("Add", [tanh, g.const(1.0)])]), g.const(0.5)])
    if kind == "quick_gelu":  # x σ(1.702 x)
        if fused:
            return g.op("QuickGelu", [x], domain=MS_DOMAIN, alpha=1.702)
        return g.op("Mul", [x, g.op("Sigmoid", [g.op("Mul", [x, g.const(1.702)])])])
    if kind == "silu":  # x σ(x)
        return g.op("Mul", [x, g.op("Sigmoid", [x])])
    if kind == "relu":
        return g.op("Relu", [x])
    raise InvalidParamError.for_param("activation", kind, sorted(set(ACTIVATIONS.values())))


def _add_layer_norm(
    g: _Graph,
    get: WeightGetter,
    x: str,
    skip: str,
    bias: str,
    names: tuple[str, str],
    h: int,
    eps: float,
    *,
    fused: bool,
) -> str:
    """LayerNorm(x + bias + skip): fused for fp16, ``Sum`` + ``LayerNormalization`` for fp32 (see the module docstring)."""
    gamma = g.weight(names[0], get(names[0], (h,)))
    beta = g.weight(names[1], get(names[1], (h,)))
    if fused and g.dtype == np.float16:
        return g.op("SkipLayerNormalization", [x, skip, gamma, beta, bias], domain=MS_DOMAIN, epsilon=eps)
    total = g.op("Sum", [x, skip, bias]) if fused else g.op("Add", [g.op("Add", [x, bias]), skip])
    return g.op("LayerNormalization", [total, gamma, beta], axis=-1, epsilon=eps)


def _standard_attention(g: _Graph, spec: BertSpec, get: WeightGetter, p: str, x: str, mask: str) -> str:
    h, heads = spec.hidden_size, spec.num_attention_heads
    split = g.const([0, 0, heads, h // heads], np.int64)
    projected = {}
    for n in ("query", "key", "value"):
        out, bias = _dense(g, get, f"{p}attention.self.{n}", x, h, h)
        projected[n] = g.op("Reshape", [g.op("Add", [out, bias]), split])
    q = g.op("Transpose", [projected["query"]], perm=[0, 2, 1, 3])
    k = g.op("Transpose", [projected["key"]], perm=[0, 2, 3, 1])
    v = g.op("Transpose", [projected["value"]], perm=[0, 2, 1, 3])
    scores = g.op("Div", [g.op("MatMul", [q, k]), g.const(math.sqrt(h // heads))])
    probs = g.op("Softmax", [g.op("Add", [scores, mask])], axis=-1)
    context = g.op("Transpose", [g.op("MatMul", [probs, v])], perm=[0, 2, 1, 3])
    return g.op("Reshape", [context, g.const([0, 0, h], np.int64)])


def externalize(model: onnx.ModelProto, writer: ExternalDataWriter, *, threshold: int = 1024) -> None:
    """Move every initializer of at least ``threshold`` bytes into ``writer``'s file, in place.

    Examples
    --------
    >>> import tempfile
    >>> w = numpy_helper.from_array(np.ones(1000, np.float32), "w")
    >>> model = helper.make_model(helper.make_graph([], "g", [], [], [w]))
    >>> with ExternalDataWriter(Path(tempfile.mkdtemp()) / "m.data") as writer:
    ...     externalize(model, writer)
    >>> model.graph.initializer[0].data_location == TensorProto.EXTERNAL
    True
    """
    for i, tensor in enumerate(model.graph.initializer):
        if tensor.data_location == TensorProto.EXTERNAL:
            raise ValueError(f"initializer {tensor.name!r} is already external; load the model with its data")
        array = numpy_helper.to_array(tensor)
        if array.nbytes >= threshold:
            model.graph.initializer[i].CopyFrom(writer.add(tensor.name, array))


__all__ = [
    "HIDDEN_STATE_NAME",
    "INPUT_NAMES",
    "OUTPUT_NAME",
    "ExternalDataWriter",
    "build_bert_graph",
    "externalize",
]
