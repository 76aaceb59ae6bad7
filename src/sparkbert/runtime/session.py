"""ONNX Runtime sessions and tokenizers, created lazily once per Python process.

The pattern of pyspark's ``predict_batch_udf``/``model_cache``: the UDF closure
carries only small, picklable settings; each Python worker builds the heavy
objects on first use and keeps them in a process-level cache keyed by the model's
identity and the session options, so every later task and batch reuses them.

Examples
--------
>>> default_intra_op_threads(slots=2) >= 1
True
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import threading
from collections.abc import Callable, Hashable
from dataclasses import dataclass, replace
from typing import Any, TypeVar

import numpy as np

from sparkbert.errors import MissingDependencyError

logger = logging.getLogger(__name__)

_T = TypeVar("_T")
_CACHE: dict[Hashable, Any] = {}
_LOCK = threading.Lock()

#: Execution providers accepted by the ``device`` param.
DEVICES = ("auto", "cpu", "cuda")


def cached(key: Hashable, factory: Callable[[], _T]) -> _T:
    """Return the process-wide object for ``key``, building it with ``factory`` once.

    Examples
    --------
    >>> cached(("doc", 1), lambda: [1]) is cached(("doc", 1), lambda: [2])
    True
    """
    with _LOCK:
        if key in _CACHE:
            return _CACHE[key]  # type: ignore[no-any-return]
    value = factory()
    with _LOCK:
        return _CACHE.setdefault(key, value)  # type: ignore[no-any-return]


def clear_cache() -> None:
    """Drop every cached session and tokenizer of this process (for tests and notebooks).

    Examples
    --------
    >>> clear_cache()
    """
    with _LOCK:
        _CACHE.clear()


def default_intra_op_threads(slots: int) -> int:
    """Return intra-op threads for one of ``slots`` concurrent tasks sharing this machine's cores.

    Examples
    --------
    >>> default_intra_op_threads(slots=10**6)
    1
    """
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, cores // max(1, slots))


def providers_for(device: str) -> list[str]:
    """Return ONNX Runtime execution providers for ``device`` (``auto``, ``cpu`` or ``cuda``).

    Examples
    --------
    >>> providers_for("cpu")
    ['CPUExecutionProvider']
    """
    import onnxruntime as ort

    available = ort.get_available_providers()
    if device == "cpu":
        return ["CPUExecutionProvider"]
    if device == "cuda":
        if "CUDAExecutionProvider" not in available:
            raise MissingDependencyError.for_extra("onnxruntime-gpu (CUDAExecutionProvider)", "gpu")
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    if "CUDAExecutionProvider" in available:
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    return ["CPUExecutionProvider"]


@dataclass(frozen=True)
class SessionOptions:
    """What makes two sessions of one model different.

    Examples
    --------
    >>> SessionOptions(intra_op_threads=2).device
    'cpu'
    """

    #: threads per session; 0 means the machine's cores divided by ``slots``
    intra_op_threads: int = 0
    #: tasks that run at once on one machine (Spark's task slots per executor)
    slots: int = 1
    device: str = "cpu"
    allow_spinning: bool = False
    #: CUDA device ordinal; ``None``: the GPU Spark assigned to the running task, else 0
    device_id: int | None = None
    #: CPU: map this machine's prepacked copy of the weights (one copy for all workers)
    share_weights: bool = True


def task_gpu() -> int | None:
    """Return the first GPU address Spark's resource scheduling gave the running task, if any.

    With ``spark.executor.resource.gpu.amount`` and ``spark.task.resource.gpu.amount`` set,
    each task sees its GPUs in ``TaskContext.resources()["gpu"]``; outside a task (or without
    GPU scheduling) there is none.

    Examples
    --------
    >>> task_gpu() is None  # not inside a Spark task
    True
    """
    try:
        from pyspark import TaskContext
    except ImportError:  # pragma: no cover - pyspark is a dependency
        return None
    context = TaskContext.get()
    if context is None:
        return None
    gpu = context.resources().get("gpu")
    if gpu is None or not gpu.addresses:
        return None
    return int(gpu.addresses[0])


def resolve_device(options: SessionOptions) -> SessionOptions:
    """Fix ``options.device_id`` for a CUDA session: the task's GPU, else 0; CPU unchanged.

    Called before the session cache is consulted, so a process that runs tasks on two GPUs
    holds one session per GPU, and a process on one GPU exactly one.

    Examples
    --------
    >>> resolve_device(SessionOptions(device="cuda")).device_id
    0
    >>> resolve_device(SessionOptions(device="cpu")).device_id is None
    True
    """
    if options.device != "cuda" or options.device_id is not None:
        return options
    gpu = task_gpu()
    return replace(options, device_id=0 if gpu is None else gpu)


def create_session(onnx_path: str, options: SessionOptions) -> Any:
    """Create an ``onnxruntime.InferenceSession`` with explicit threads and full graph optimization.

    Examples
    --------
    A one-node graph (the same call loads a converted BERT's ``model.onnx``):

    >>> import os, tempfile, onnx
    >>> from onnx import TensorProto, helper
    >>> ids = helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["b", "s"])
    >>> out = helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, ["b", "s"])
    >>> graph = helper.make_graph([helper.make_node("Cast", ["input_ids"], ["last_hidden_state"], to=1)],
    ...                           "toy", [ids], [out])
    >>> path = os.path.join(tempfile.mkdtemp(), "toy.onnx")
    >>> onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8), path)
    >>> create_session(path, SessionOptions(intra_op_threads=1)).get_providers()
    ['CPUExecutionProvider']
    """
    import onnxruntime as ort

    so = ort.SessionOptions()
    threads = options.intra_op_threads or default_intra_op_threads(options.slots)
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.log_severity_level = 3
    so.add_session_config_entry("session.intra_op.allow_spinning", "1" if options.allow_spinning else "0")
    providers: list[Any] = providers_for(options.device)
    if providers[0] == "CUDAExecutionProvider":
        cuda = {"device_id": str(options.device_id or 0), "use_tf32": "0"}  # fp32 stays fp32
        providers = [("CUDAExecutionProvider", cuda), "CPUExecutionProvider"]
    logger.info("creating ONNX Runtime session for %s (%s, %d threads)", onnx_path, providers[0], threads)
    session = ort.InferenceSession(onnx_path, sess_options=so, providers=providers)
    if len(providers) > 1 and session.get_providers()[0] != "CUDAExecutionProvider":
        # onnxruntime-gpu is installed but could not load CUDA/cuDNN: try the libraries of the
        # nvidia-* wheels (the `gpu` extra installs them), then give up loudly or fall back.
        preload = getattr(ort, "preload_dlls", None)
        if preload is not None:
            with contextlib.redirect_stdout(io.StringIO()):
                preload()
            session = ort.InferenceSession(onnx_path, sess_options=so, providers=providers)
        if session.get_providers()[0] != "CUDAExecutionProvider":
            if options.device == "cuda":
                raise MissingDependencyError(
                    "Invalid value for param 'device': 'cuda'. onnxruntime-gpu is installed but its CUDA "
                    "provider did not load (CUDA 12+/cuDNN 9 libraries not found). Install them with "
                    "`pip install 'sparkbert[gpu]'`, or use device='cpu' or 'auto'."
                )
            logger.warning("CUDA provider did not load; running on CPU")
    return session


def run_session(
    session: Any, input_ids: np.ndarray, attention_mask: np.ndarray, token_type_ids: np.ndarray
) -> np.ndarray:
    """Run one padded batch and return ``last_hidden_state`` as float32 ``(batch, seq, hidden)``.

    Only the inputs the model declares are fed (``token_type_ids`` is optional).

    Examples
    --------
    With a toy graph that echoes ``input_ids`` as floats (see :func:`create_session`):

    >>> import os, tempfile, onnx
    >>> from onnx import TensorProto, helper
    >>> ids = helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["b", "s"])
    >>> mask = helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["b", "s"])
    >>> out = helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, ["b", "s"])
    >>> graph = helper.make_graph([helper.make_node("Cast", ["input_ids"], ["last_hidden_state"], to=1)],
    ...                           "toy", [ids, mask], [out])
    >>> path = os.path.join(tempfile.mkdtemp(), "toy.onnx")
    >>> onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8), path)
    >>> session = create_session(path, SessionOptions(intra_op_threads=1))
    >>> batch = np.array([[101, 7, 102]])
    >>> run_session(session, batch, np.ones_like(batch), np.zeros_like(batch)).tolist()
    [[101.0, 7.0, 102.0]]
    """
    names = {i.name for i in session.get_inputs()}
    feed = {"input_ids": input_ids, "attention_mask": attention_mask}
    if "token_type_ids" in names:
        feed["token_type_ids"] = token_type_ids
    (hidden,) = session.run(["last_hidden_state"], feed)
    return np.asarray(hidden, dtype=np.float32)
