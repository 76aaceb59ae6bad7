"""Rewrites of the fused fp32 graph that make dynamic int8 both faithful and fast.

Dynamic quantization gives each activation tensor one scale per batch, so a single outlier
channel spends the 8 bits of every other channel. In all-MiniLM-L6-v2 the input of the FFN
up projection has one channel reaching 28 where the median channel reaches 2, and the GELU
output feeding the FFN down projection one reaching 25 where the median reaches 1.5. Three
rewrites, all exact in float arithmetic, and one approximation run before ``quantize_dynamic``:

* ``smooth`` (SmoothQuant): ``x @ W == (x / s) @ (s * W)`` with one ``s_j`` per input
  channel, ``s_j = max|x_j|^α / max|W_j|^(1-α)`` from calibration; the ``x / s`` is a ``Mul``
  on the narrow (hidden-size) input of the attention and FFN-up GEMMs. It cannot be folded
  into the LayerNorm before them: that LayerNorm's output is also the residual.
* ``split_outlier_channels`` for the FFN down projection, whose input (GELU output) no
  scale can be folded through: the few intermediate channels with the largest calibrated
  range are zeroed in the quantized GEMMs and computed by a small float32 side path
  (``act(y @ W_up[:, O] + b[O]) @ W_down[O, :]``, the model's own activation nodes copied)
  added to the residual.
* ``unfuse_skip_layer_norm``: ``SkipLayerNormalization`` becomes ``Sum`` +
  ``LayerNormalization``, the same numbers (within 2e-6) at a quarter of the CPU time in
  ONNX Runtime 1.32, which matters once the GEMMs are int8. The converter's fp32 graph has
  been written that way since 2026-12-01: this only changes fp32 directories converted before.
* ``tanh_gelu``: ``BiasGelu`` (exact, erf) becomes ``FastGelu`` with the same bias, the tanh
  approximation BERT's original code used: within 4.8e-4 of the exact GELU per element, far
  inside int8's own error, and cheaper to compute; once the GEMMs are int8 the GELU is a
  tenth of MiniLM's time. The only rewrite that is not exact: it runs last, for int8 only.

Calibration (``channel_ranges``) runs the fp32 graph on random word pieces of the
model's own vocabulary framed by ``[CLS]``/``[SEP]``: the outlier channels are a property
of the weights, and no text has to ship with the package.

Examples
--------
An input channel 16 × wider than the other: smoothing divides it by 2 and multiplies the
other by 2, so the ranges the quantizer sees become 8 and 2 (weight rows take the inverse):

>>> s = smoothing_scales(np.array([16.0, 1.0]), np.ones((2, 3)), alpha=0.5)
>>> s, np.array([16.0, 1.0]) / s
(array([2. , 0.5], dtype=float32), array([8., 2.]))
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import onnx
from numpy.typing import NDArray
from onnx import TensorProto, helper, numpy_helper

#: GEMMs of encoder layer ``i`` by role, as node names of ``sparkbert.model.onnx_graph``.
ROLE_SUFFIXES = {
    "attention": "attention.self",
    "attention_output": "attention.output.dense",
    "ffn_up": "intermediate.dense",
    "ffn_down": "output.dense",
}
_LAYER = re.compile(r"encoder\.layer\.(\d+)\.(.+)")
MS_DOMAIN = "com.microsoft"


def layer_gemms(model: onnx.ModelProto) -> dict[int, dict[str, onnx.NodeProto]]:
    """The GEMM node of each role in each encoder layer."""
    by_suffix = {suffix: role for role, suffix in ROLE_SUFFIXES.items()}
    layers: dict[int, dict[str, onnx.NodeProto]] = {}
    for node in model.graph.node:
        match = _LAYER.fullmatch(node.name)
        if match and match.group(2) in by_suffix and node.op_type in ("MatMul", "Attention"):
            layers.setdefault(int(match.group(1)), {})[by_suffix[match.group(2)]] = node
    return layers


def calibration_batches(
    vocab_size: int, special: Mapping[str, int], *, sequences: int = 64, batch_size: int = 8, seed: int = 0
) -> list[dict[str, NDArray[np.int64]]]:
    """Padded batches of random word pieces framed by ``[CLS]``/``[SEP]``, lengths 10 to 128."""
    rng = np.random.default_rng(seed)
    low = min(1000, vocab_size // 2)  # BERT vocabularies start with special and [unused] entries
    lengths = np.sort(rng.integers(8, 127, sequences))
    batches = []
    for start in range(0, sequences, batch_size):
        rows = lengths[start : start + batch_size]
        width = int(rows.max()) + 2
        ids = np.full((len(rows), width), special["pad"], np.int64)
        mask = np.zeros_like(ids)
        for r, n in enumerate(rows):
            ids[r, : n + 2] = [special["cls"], *rng.integers(low, vocab_size, n), special["sep"]]
            mask[r, : n + 2] = 1
        batches.append({"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)})
    return batches


def channel_ranges(
    model: onnx.ModelProto, batches: Iterable[Mapping[str, NDArray[np.int64]]], tensors: Iterable[str]
) -> dict[str, NDArray[np.float32]]:
    """``max |x_j|`` over real (unpadded) positions of each named tensor, per channel ``j``.

    ``model`` must hold its weights in memory; it is run as is, with ``tensors`` as extra outputs.
    """
    import onnxruntime as ort

    names = sorted(set(tensors))
    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    for name in names:
        probe.graph.output.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, None))
    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(probe.SerializeToString(), options, providers=["CPUExecutionProvider"])
    del probe
    ranges: dict[str, NDArray[np.float32]] = {}
    for batch in batches:
        feed = {i.name: batch[i.name] for i in session.get_inputs()}
        real = batch["attention_mask"].astype(bool)
        for name, value in zip(names, session.run(names, feed), strict=True):
            peak = np.abs(value[real]).max(axis=0)
            ranges[name] = np.maximum(ranges.get(name, peak), peak)
    return ranges


def smoothing_scales(
    x_range: NDArray[np.floating[Any]], weight: NDArray[np.floating[Any]], *, alpha: float
) -> NDArray[np.float32]:
    """SmoothQuant's ``s_j = max|x_j|^α / max|W_j|^(1-α)`` (``W`` is ``[in, out]``), geometric mean 1.

    Examples
    --------
    A wider weight row takes less of the activation's range (here the second row is 4 × wider):

    >>> smoothing_scales(np.array([16.0, 1.0]), np.array([[1.0, 1.0], [4.0, 4.0]]), alpha=0.5)
    array([2.828427  , 0.35355338], dtype=float32)
    """
    w_range = np.abs(weight).max(axis=1)
    s = np.maximum(x_range, 1e-5) ** alpha / np.maximum(w_range, 1e-5) ** (1 - alpha)
    return np.asarray(s / np.exp(np.log(s).mean()), dtype=np.float32)


class _Rewriter:
    """Initializer lookup, replacement and node insertion on one model."""

    def __init__(self, model: onnx.ModelProto) -> None:
        self.model = model
        self.inits = {t.name: t for t in model.graph.initializer}
        self.before: dict[str, list[onnx.NodeProto]] = {}

    def array(self, name: str) -> NDArray[np.float32]:
        return np.array(numpy_helper.to_array(self.inits[name]), dtype=np.float32)  # a writable copy

    def put(self, name: str, value: NDArray[np.float32]) -> str:
        tensor = numpy_helper.from_array(np.ascontiguousarray(value, dtype=np.float32), name)
        if name in self.inits:
            self.inits[name].CopyFrom(tensor)
        else:
            self.model.graph.initializer.append(tensor)
            self.inits[name] = self.model.graph.initializer[-1]
        return name

    def insert(self, before: onnx.NodeProto, *nodes: onnx.NodeProto) -> None:
        self.before.setdefault(before.name, []).extend(nodes)

    def finish(self) -> None:
        ordered = []
        for node in self.model.graph.node:
            ordered += self.before.get(node.name, [])
            ordered.append(node)
        del self.model.graph.node[:]
        self.model.graph.node.extend(ordered)


def smooth(
    model: onnx.ModelProto, ranges: Mapping[str, NDArray[np.float32]], roles: Iterable[str], *, alpha: float
) -> None:
    """Divide the input of each GEMM of ``roles`` by ``s`` (a ``Mul``) and multiply its weight rows by ``s``."""
    rw = _Rewriter(model)
    for layer in layer_gemms(model).values():
        for role in roles:
            node = layer[role]
            x, w = node.input[0], node.input[1]
            s = smoothing_scales(ranges[x], rw.array(w), alpha=alpha)
            rw.put(w, rw.array(w) * s[:, None])
            inverse = rw.put(f"{node.name}.smooth.inverse", 1.0 / s)
            smoothed = f"{node.name}.smooth.output"
            rw.insert(node, helper.make_node("Mul", [x, inverse], [smoothed], name=f"{node.name}.smooth"))
            node.input[0] = smoothed
    rw.finish()


def split_outlier_channels(
    model: onnx.ModelProto, ranges: Mapping[str, NDArray[np.float32]], channels: int
) -> list[str]:
    """Move the ``channels`` widest FFN intermediate channels of every layer to a float32 side path.

    Returns the names of the side path's MatMuls (to be left in float32).
    """
    rw = _Rewriter(model)
    # the residual: SkipLayerNormalization(x, skip, ...) or, in fp32 graphs, Sum(x, skip, bias)
    residual = ("SkipLayerNormalization", "Sum")
    consumers = {i: n for n in model.graph.node for i in n.input if n.op_type in residual}
    producers = {o: n for n in model.graph.node for o in n.output}
    order = {id(n): k for k, n in enumerate(model.graph.node)}
    side: list[str] = []
    for index, layer in sorted(layer_gemms(model).items()):
        up, down = layer["ffn_up"], layer["ffn_down"]
        act = sorted(_activation_nodes(producers, up, down, index), key=lambda n: order[id(n)])
        norm = consumers[down.output[0]]
        picked = np.sort(np.argsort(ranges[down.input[0]])[::-1][:channels])
        w_up, w_down = rw.array(up.input[1]), rw.array(down.input[1])
        p = f"encoder.layer.{index}.ffn_outliers"
        renamed = {up.output[0]: f"{p}.up", down.input[0]: f"{p}.act"}
        nodes = [
            helper.make_node(
                "MatMul",
                [up.input[0], rw.put(f"{p}.up.weight", w_up[:, picked])],
                [f"{p}.up"],
                name=f"{p}.up",
            )
        ]
        for k, node in enumerate(act):
            inputs = []
            for name in node.input:
                bias = rw.array(name) if name in rw.inits else None
                if bias is not None and bias.shape == (w_up.shape[1],):  # the bias
                    inputs.append(rw.put(f"{p}.{k}.bias", bias[picked]))
                    bias[picked] = 0.0
                    rw.put(name, bias)
                else:
                    inputs.append(renamed.get(name, name))
            outputs = [renamed.setdefault(o, f"{p}.{k}.{o}") for o in node.output]
            nodes.append(helper.make_node(node.op_type, inputs, outputs, name=f"{p}.{k}", domain=node.domain))
            nodes[-1].attribute.extend(node.attribute)
        down_w = rw.put(f"{p}.down.weight", w_down[picked, :])
        # act(0) = 0 for every activation the converter writes: the int8 path no longer sees them
        w_up[:, picked], w_down[picked, :] = 0.0, 0.0
        rw.put(up.input[1], w_up)
        rw.put(down.input[1], w_down)
        nodes += [
            helper.make_node("MatMul", [f"{p}.act", down_w], [f"{p}.down"], name=f"{p}.down"),
            helper.make_node("Add", [norm.input[1], f"{p}.down"], [f"{p}.skip"], name=f"{p}.add"),
        ]
        rw.insert(norm, *nodes)
        norm.input[1] = f"{p}.skip"
        side += [f"{p}.up", f"{p}.down"]
    rw.finish()
    return side


#: Ops the FFN activation (with its bias) is made of, in the graphs ``onnx_graph`` writes.
_ACTIVATION_OPS = {"BiasGelu", "FastGelu", "QuickGelu", "Add", "Mul", "Div", "Erf", "Tanh", "Sigmoid", "Relu"}


def _activation_nodes(
    producers: Mapping[str, onnx.NodeProto], up: onnx.NodeProto, down: onnx.NodeProto, index: int
) -> list[onnx.NodeProto]:
    """The nodes between the FFN-up GEMM's output and the down GEMM's input (bias + activation)."""
    found: dict[int, onnx.NodeProto] = {}
    pending = [down.input[0]]
    while pending:
        tensor = pending.pop()
        node = producers.get(tensor)
        if tensor == up.output[0] or node is None or id(node) in found:
            continue  # the GEMM's output, an initializer, or a node already seen
        if node.op_type not in _ACTIVATION_OPS:
            raise ValueError(f"layer {index}: expected MatMul -> activation -> MatMul, found {node.op_type}")
        found[id(node)] = node
        pending.extend(node.input)
    return list(found.values())


def unfuse_skip_layer_norm(model: onnx.ModelProto) -> None:
    """Replace each ``SkipLayerNormalization`` by ``Sum(input, skip, bias)`` + ``LayerNormalization``."""
    nodes = []
    for node in model.graph.node:
        if node.op_type != "SkipLayerNormalization":
            nodes.append(node)
            continue
        eps = next((a.f for a in node.attribute if a.name == "epsilon"), 1e-12)
        terms = [
            node.input[0],
            node.input[1],
            *([node.input[4]] if len(node.input) > 4 and node.input[4] else []),
        ]
        total = f"{node.name}.sum"
        nodes.append(helper.make_node("Sum", terms, [total], name=total))
        nodes.append(
            helper.make_node(
                "LayerNormalization",
                [total, node.input[2], node.input[3]],
                [node.output[0]],
                name=node.name,
                axis=-1,
                epsilon=eps,
            )
        )
    del model.graph.node[:]
    model.graph.node.extend(nodes)


def tanh_gelu(model: onnx.ModelProto) -> int:
    """Replace each ``BiasGelu`` by ``FastGelu`` on the same inputs; return how many."""
    count = 0
    for node in model.graph.node:
        if node.op_type == "BiasGelu" and node.domain == MS_DOMAIN:
            node.op_type = "FastGelu"
            count += 1
    return count


__all__ = [
    "calibration_batches",
    "channel_ranges",
    "layer_gemms",
    "smooth",
    "smoothing_scales",
    "split_outlier_channels",
    "tanh_gelu",
    "unfuse_skip_layer_norm",
]
