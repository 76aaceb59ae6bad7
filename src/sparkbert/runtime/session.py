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
import functools
import io
import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, replace
from typing import Any, TypeVar

import numpy as np

from sparkbert._onnxruntime import check_onnxruntime
from sparkbert.errors import MissingDependencyError
from sparkbert.model.format import INPUT_NAMES, OUTPUT_NAME

logger = logging.getLogger(__name__)

_T = TypeVar("_T")

#: Execution providers accepted by the ``device`` param.
DEVICES = ("auto", "cpu", "cuda")
#: Environment variable: models (sessions + tokenizers) one Python worker keeps at once.
CACHE_SIZE_ENV = "SPARKBERT_MODEL_CACHE_SIZE"
DEFAULT_CACHE_SIZE = 2


class ModelCache:
    """A bounded, thread-safe LRU of heavy per-process objects; each key is built once.

    Concurrent first calls for one key wait for a single build (a second ~700 MB session is
    never made); calls for other keys are not blocked meanwhile. Past ``size`` entries the
    least recently used is dropped (its session is freed when no caller holds it).

    Examples
    --------
    >>> cache = ModelCache(size=1)
    >>> cache.get("a", lambda: [1]) is cache.get("a", lambda: [2])
    True
    >>> _ = cache.get("b", lambda: [3]); list(cache.keys())
    ['b']
    """

    def __init__(self, size: int | None = None) -> None:
        self._size = size
        self._items: OrderedDict[Hashable, Any] = OrderedDict()
        self._building: dict[Hashable, threading.Lock] = {}
        self._lock = threading.Lock()

    @property
    def size(self) -> int:
        """Entries kept: the constructor's ``size``, else ``$SPARKBERT_MODEL_CACHE_SIZE``, else 2."""
        if self._size is not None:
            return self._size
        raw = os.environ.get(CACHE_SIZE_ENV, "")
        try:
            return max(1, int(raw)) if raw.strip() else DEFAULT_CACHE_SIZE
        except ValueError:
            logger.warning("ignoring %s=%r: not an integer", CACHE_SIZE_ENV, raw)
            return DEFAULT_CACHE_SIZE

    def keys(self) -> list[Hashable]:
        """The cached keys, least recently used first."""
        with self._lock:
            return list(self._items)

    def get(self, key: Hashable, factory: Callable[[], _T]) -> _T:
        """Return the object for ``key``, building it with ``factory`` once even under concurrent calls."""
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]  # type: ignore[no-any-return]
            build_lock = self._building.setdefault(key, threading.Lock())
        with build_lock:
            with self._lock:
                if key in self._items:
                    self._items.move_to_end(key)
                    return self._items[key]  # type: ignore[no-any-return]
            value = factory()
            with self._lock:
                self._items[key] = value
                while len(self._items) > self.size:
                    evicted, _ = self._items.popitem(last=False)
                    logger.info("model cache full: dropped %s", evicted)
                self._building.pop(key, None)
            return value

    def clear(self) -> None:
        """Drop every entry."""
        with self._lock:
            self._items.clear()


_CACHE = ModelCache()


def cached(key: Hashable, factory: Callable[[], _T]) -> _T:
    """Return this process's object for ``key`` from the bounded model cache, building it once.

    Examples
    --------
    >>> cached(("doc", 1), lambda: [1]) is cached(("doc", 1), lambda: [2])
    True
    """
    return _CACHE.get(key, factory)


def clear_cache() -> None:
    """Drop every cached session and tokenizer of this process (for tests and notebooks)."""
    _CACHE.clear()


def task_slots() -> int:
    """Tasks this executor runs at once, decided here: its cores divided by ``spark.task.cpus``.

    Outside a Spark task (LightPipeline, ``sparkbert.embed``) the process is alone: 1.
    """
    try:
        from pyspark import TaskContext
    except ImportError:  # pragma: no cover - pyspark is a dependency
        return 1
    context = TaskContext.get()
    if context is None:
        return 1
    return max(1, machine_cores() // max(1, context.cpus()))


def machine_cores() -> int:
    """Return the cores this process may run on (its CPU affinity), the machine's share for sparkbert."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def default_intra_op_threads(slots: int) -> int:
    """Return intra-op threads for one of ``slots`` concurrent tasks sharing this machine's cores.

    Examples
    --------
    >>> default_intra_op_threads(slots=10**6)
    1
    """
    return max(1, machine_cores() // max(1, slots or task_slots()))


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
    #: tasks that run at once on one machine (Spark's task slots per executor); 0: decided by
    #: the executor itself (``task_slots``)
    slots: int = 0
    #: ``auto`` is resolved by ``resolve_device`` in the worker, against its own onnxruntime
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
    """Decide the device where the work runs: ``auto`` → ``cuda`` if this process's onnxruntime
    has the CUDA provider, else ``cpu``; for CUDA, ``device_id`` is the task's GPU, else 0.

    Called in the worker before the session cache is consulted (a CPU-only driver does not
    decide for GPU executors), so a process that runs tasks on two GPUs holds one session per
    GPU, and a process on one GPU exactly one.

    Examples
    --------
    >>> resolve_device(SessionOptions(device="cuda")).device_id
    0
    >>> resolve_device(SessionOptions(device="cpu")).device_id is None
    True
    """
    if options.device == "auto":
        import onnxruntime as ort

        found = "cuda" if "CUDAExecutionProvider" in ort.get_available_providers() else "cpu"
        options = replace(options, device=found)
    if options.device != "cuda" or options.device_id is not None:
        return options
    gpu = task_gpu()
    return replace(options, device_id=0 if gpu is None else gpu)


def ort_session_options(options: SessionOptions, config: Mapping[str, str] | None = None) -> Any:
    """The one builder of ``onnxruntime.SessionOptions``: threads, full optimization, quiet logs.

    ``config`` adds session config entries (``{"session.xxx": "value"}``).

    Examples
    --------
    >>> ort_session_options(SessionOptions(intra_op_threads=3)).intra_op_num_threads
    3
    """
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = options.intra_op_threads or default_intra_op_threads(options.slots)
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.log_severity_level = 3
    so.add_session_config_entry("session.intra_op.allow_spinning", "1" if options.allow_spinning else "0")
    for key, value in (config or {}).items():
        so.add_session_config_entry(key, value)
    return so


@functools.cache
def _check_onnxruntime_once() -> None:
    """Refuse a worker with no ONNX Runtime package, or with the CPU and GPU ones both installed."""
    check_onnxruntime()


def create_session(onnx_path: str, options: SessionOptions, *, graph: bytes | None = None) -> Any:
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
    _check_onnxruntime_once()
    import onnxruntime as ort

    so = ort_session_options(options)
    source: str | bytes = onnx_path
    if graph is not None:  # a variant of onnx_path (e.g. more outputs): its weights stay beside it
        so.add_session_config_entry(
            "session.model_external_initializers_file_folder_path", os.path.dirname(onnx_path)
        )
        source = graph
    threads = so.intra_op_num_threads
    providers: list[Any] = providers_for(options.device)
    if providers[0] == "CUDAExecutionProvider":
        cuda = {"device_id": str(options.device_id or 0), "use_tf32": "0"}  # fp32 stays fp32
        providers = [("CUDAExecutionProvider", cuda), "CPUExecutionProvider"]
    logger.info("creating ONNX Runtime session for %s (%s, %d threads)", onnx_path, providers[0], threads)
    session = ort.InferenceSession(source, sess_options=so, providers=providers)
    if len(providers) > 1 and session.get_providers()[0] != "CUDAExecutionProvider":
        # onnxruntime-gpu is installed but could not load CUDA/cuDNN: try the libraries of the
        # nvidia-* wheels (the `gpu` extra installs them), then give up loudly or fall back.
        preload = getattr(ort, "preload_dlls", None)
        if preload is not None:
            with contextlib.redirect_stdout(io.StringIO()):
                preload()
            session = ort.InferenceSession(source, sess_options=so, providers=providers)
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
    With a toy graph that echoes ``input_ids`` as floats (see ``create_session``):

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
    ids_name, mask_name, types_name = INPUT_NAMES
    feed = {ids_name: input_ids, mask_name: attention_mask}
    if types_name in {i.name for i in session.get_inputs()}:
        feed[types_name] = token_type_ids
    (hidden,) = session.run([OUTPUT_NAME], feed)
    return np.asarray(hidden, dtype=np.float32)
