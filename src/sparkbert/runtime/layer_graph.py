"""Layer choice: export the hidden states asked for from a converted graph, and combine them.

A converted graph names every hidden state (``hidden_states.0`` is the embedding output,
``hidden_states.i`` the output of layer ``i``; the last is ``last_hidden_state``) but outputs
only the last. ``with_hidden_states`` returns the same graph, weights still in
``model.onnx.data``, whose outputs are exactly the hidden states asked for (float32, also
in an fp16 graph); ``combine_layers`` pools them per position: ``mean``, ``sum`` or
``concat`` (the BERT paper's best feature-based NER result concatenates the top four).

Layer indices follow transformers' ``hidden_states``: ``-1`` is the last layer, ``-(L+1)``
(or ``0``) the embedding output.

Examples
--------
>>> absolute_layers([-1, -2, -13], num_layers=12)
(12, 11, 0)
>>> import numpy as np
>>> combine_layers([np.ones((1, 2, 3)), 3 * np.ones((1, 2, 3))], "mean")[0, 0].tolist()
[2.0, 2.0, 2.0]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from sparkbert.errors import InvalidParamError, ModelIntegrityError
from sparkbert.model.format import HIDDEN_STATE_NAME, OUTPUT_NAME

#: Values of ``layerPooling``.
LAYER_POOLING = ("mean", "sum", "concat")
#: Suffix of an exported hidden state (a float32 copy; the graph may compute in fp16).
_EXPORTED = ".float32"


def absolute_layers(layers: Sequence[int], num_layers: int) -> tuple[int, ...]:
    """Map layer indices (negative from the top) to ``0..num_layers``; raise naming the valid range.

    Examples
    --------
    >>> absolute_layers([0, 2], num_layers=2)
    (0, 2)
    >>> absolute_layers([-4], num_layers=2)
    Traceback (most recent call last):
    ...
    sparkbert.errors.InvalidParamError: Invalid value for param 'layers': [-4]. Valid values: integers from -3 to 2 (-1: the last of 2 layers, -3 or 0: the embedding output).
    """
    low, high = -(num_layers + 1), num_layers
    if not layers or any(
        isinstance(i, bool) or not isinstance(i, int) or not low <= i <= high for i in layers
    ):
        raise InvalidParamError.for_param(
            "layers",
            list(layers),
            f"integers from {low} to {high} (-1: the last of {num_layers} layers, {low} or 0: the embedding output)",
        )
    return tuple(i if i >= 0 else num_layers + 1 + i for i in layers)


def output_names(layers: Sequence[int], num_layers: int) -> list[str]:
    """Return the graph output name of each absolute layer index, in order.

    Examples
    --------
    >>> output_names([2, 0], num_layers=2)
    ['last_hidden_state', 'hidden_states.0.float32']
    """
    return [OUTPUT_NAME if i == num_layers else HIDDEN_STATE_NAME.format(i) + _EXPORTED for i in layers]


def with_hidden_states(onnx_path: str, names: Sequence[str]) -> bytes:
    """Return the serialized graph of ``onnx_path`` whose outputs are exactly ``names``.

    ``names`` come from ``output_names``; each is a float32 ``[batch, sequence, hidden]``
    output. The weights stay external: create the session with the model folder as its
    external-data folder.

    Raises
    ------
    ModelIntegrityError
        The graph does not name its hidden states (converted by an older sparkbert).

    Examples
    --------
    >>> with_hidden_states("/nonexistent/model.onnx", ["hidden_states.0.float32"])
    Traceback (most recent call last):
    ...
    FileNotFoundError: ...
    """
    import onnx
    from onnx import TensorProto, helper

    model = onnx.load(onnx_path, load_external_data=False)
    graph = model.graph
    produced = {out for node in graph.node for out in node.output}
    wanted = sorted(set(names))
    keep = [o for o in graph.output if o.name == OUTPUT_NAME and OUTPUT_NAME in wanted]
    del graph.output[:]
    graph.output.extend(keep)
    for name in wanted:
        if name == OUTPUT_NAME:
            continue
        inner = name.removesuffix(_EXPORTED)
        if inner not in produced:
            raise ModelIntegrityError(
                f"{onnx_path} does not name its hidden states (converted by an older sparkbert); "
                "convert the checkpoint again to choose layers"
            )
        graph.node.append(
            helper.make_node("Cast", [inner], [name], name=f"export_{inner}", to=TensorProto.FLOAT)
        )
        graph.output.append(
            helper.make_tensor_value_info(name, TensorProto.FLOAT, ["batch", "sequence", "hidden"])
        )
    return bytes(model.SerializeToString())


def run_layers(
    session: Any, names: Sequence[str], feed: dict[str, NDArray[np.int64]]
) -> list[NDArray[np.float32]]:
    """Run one batch and return the outputs ``names`` (repeats allowed), in order, as float32.

    Only the inputs the graph declares are fed (``token_type_ids`` is optional).
    """
    declared = {i.name for i in session.get_inputs()}
    unique = sorted(set(names))
    values = session.run(unique, {k: v for k, v in feed.items() if k in declared})
    by_name = dict(zip(unique, values))
    return [np.asarray(by_name[n], dtype=np.float32) for n in names]


def combine_layers(states: Sequence[NDArray[Any]], pooling: str) -> NDArray[np.float32]:
    """Combine per-layer ``(batch, sequence, hidden)`` states into one array, float32.

    Examples
    --------
    >>> a, b = np.zeros((1, 1, 2)), np.ones((1, 1, 2))
    >>> combine_layers([a, b], "concat").shape, combine_layers([a, b], "sum")[0, 0].tolist()
    ((1, 1, 4), [1.0, 1.0])
    """
    if pooling not in LAYER_POOLING:
        raise InvalidParamError.for_param("layerPooling", pooling, LAYER_POOLING)
    if len(states) == 1:
        return np.asarray(states[0], dtype=np.float32)
    if pooling == "concat":
        return np.concatenate([np.asarray(s, dtype=np.float32) for s in states], axis=-1)
    total = np.sum([np.asarray(s, dtype=np.float64) for s in states], axis=0)
    return np.asarray(total / len(states) if pooling == "mean" else total, dtype=np.float32)


def layer_width(hidden_size: int, n_layers: int, pooling: str) -> int:
    """Return the width of combined vectors.

    Examples
    --------
    >>> layer_width(768, 4, "concat"), layer_width(768, 4, "mean")
    (3072, 768)
    """
    return hidden_size * n_layers if pooling == "concat" else hidden_size


__all__ = [
    "LAYER_POOLING",
    "absolute_layers",
    "combine_layers",
    "layer_width",
    "output_names",
    "run_layers",
    "with_hidden_states",
]
