"""Weights held once per machine: ONNX Runtime's prepacked weights, memory-mapped from disk.

ONNX Runtime's CPU kernels *pre-pack* every weight matrix into their own blocked layout
when a session starts, on the heap of the process: each Spark Python worker then holds a
private copy of all weights (about the weight file's size), even though the file itself is
memory-mapped and shared. Since ONNX Runtime 1.21 an optimized model can be saved with its
pre-packed blobs in the external data file, and a session loading that file maps them
instead of packing again, so every worker on a machine shares one copy in the page cache.

``prepacked_model`` makes that file once per machine (per model, ONNX Runtime version and
CPU), under a file lock, in a temporary folder renamed into place, and checks it: a probe
batch through the new file must give the same vectors as the original model (1e-5) before
any worker uses it. Anything that fails (an older ONNX Runtime, a read-only disk) logs a
warning and the worker loads the original model as before: the feature only ever saves
memory, it never changes a result.

Examples
--------
>>> prepack_root().name
'prepacked'
"""

from __future__ import annotations

import hashlib
import logging
import os
import platform
import shutil
import tempfile
from pathlib import Path

import numpy as np
from filelock import FileLock

from sparkbert.model.format import ONNX_DATA_NAME, ONNX_NAME, OUTPUT_NAME, temp_sibling
from sparkbert.runtime.session import SessionOptions, ort_session_options
from sparkbert.settings import sparkbert_home

logger = logging.getLogger(__name__)

#: First ONNX Runtime release that saves and memory-maps pre-packed weights.
MIN_ORT = (1, 21)
#: Largest difference allowed between the prepacked file and the original on the probe batch.
PROBE_TOLERANCE = 1e-5


def prepack_root() -> Path:
    """Return the folder holding this machine's prepacked models (``$SPARKBERT_HOME/prepacked``).

    Falls back to the system's temporary folder when ``SPARKBERT_HOME`` is not writable
    (executors often run as a user without a home directory).

    Examples
    --------
    >>> prepack_root().name
    'prepacked'
    """
    home = sparkbert_home()
    try:
        home.mkdir(parents=True, exist_ok=True)
        if os.access(home, os.W_OK):
            return home / "prepacked"
    except OSError:
        pass
    return (
        Path(tempfile.gettempdir()) / f"sparkbert-{os.getuid() if hasattr(os, 'getuid') else 0}" / "prepacked"
    )


def machine_key(model_identity: str) -> str:
    """Return the cache key of a prepacked copy: model, ONNX Runtime version and CPU features.

    The packed layouts depend on the kernels ONNX Runtime picks for this CPU, so a copy is
    only reused by the same version on a CPU with the same instruction-set flags.

    Examples
    --------
    >>> len(machine_key("0" * 64))
    32
    """
    import onnxruntime as ort

    flags = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            flags = next((line for line in f if line.startswith(("flags", "Features"))), "")
    except OSError:
        pass
    parts = (model_identity, ort.__version__, platform.machine(), platform.system(), flags)
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:32]


def supported() -> bool:
    """Whether the installed ONNX Runtime can save and map pre-packed weights.

    Examples
    --------
    >>> isinstance(supported(), bool)
    True
    """
    import onnxruntime as ort

    try:
        version = tuple(int(x) for x in ort.__version__.split(".")[:2])
    except ValueError:
        return False
    return version >= MIN_ORT


def prepacked_model(onnx_path: str, model_identity: str, probe: dict[str, np.ndarray]) -> str | None:
    """Return this machine's prepacked copy of ``onnx_path`` (made once), or ``None`` if unavailable.

    ``probe`` is one input batch (``input_ids``, ``attention_mask`` and, if the model takes
    it, ``token_type_ids``) used to check the copy against the original before it is used.

    Examples
    --------
    >>> prepacked_model("missing/model.onnx", "0" * 64, {}) is None
    True
    """
    if not supported() or not os.path.isfile(onnx_path):
        return None
    target = prepack_root() / machine_key(model_identity)
    if (target / ONNX_NAME).is_file():
        return str(target / ONNX_NAME)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(target) + ".lock", timeout=1800):
            if not (target / ONNX_NAME).is_file():
                shutil.rmtree(target, ignore_errors=True)  # a copy left half-made by a killed worker
                _build(onnx_path, target, probe)
    except Exception as exc:  # never fail a job over a memory optimisation
        logger.warning("prepacked weights not used for %s: %s", onnx_path, exc)
        return None
    return str(target / ONNX_NAME)


def _session(path: str, save_to: Path | None = None) -> object:
    import onnxruntime as ort

    config = {}
    if save_to is not None:
        config = {
            "session.optimized_model_external_initializers_file_name": ONNX_DATA_NAME,
            "session.optimized_model_external_initializers_min_size_in_bytes": "1024",
            "session.save_external_prepacked_constant_initializers": "1",
        }
    so = ort_session_options(SessionOptions(intra_op_threads=1), config)
    if save_to is not None:
        so.optimized_model_filepath = str(save_to / ONNX_NAME)
    return ort.InferenceSession(path, sess_options=so, providers=["CPUExecutionProvider"])


def _build(onnx_path: str, target: Path, probe: dict[str, np.ndarray]) -> None:
    staging = temp_sibling(target, "staging")
    staging.mkdir()
    try:
        original = _session(onnx_path, save_to=staging)
        logger.info("wrote prepacked weights of %s to %s", onnx_path, target)
        if probe:
            packed = _session(str(staging / ONNX_NAME))
            names = {i.name for i in packed.get_inputs()}  # type: ignore[attr-defined]
            feed = {k: v for k, v in probe.items() if k in names}
            (want,) = original.run([OUTPUT_NAME], feed)  # type: ignore[attr-defined]
            (got,) = packed.run([OUTPUT_NAME], feed)  # type: ignore[attr-defined]
            worst = float(np.abs(np.asarray(got, np.float32) - np.asarray(want, np.float32)).max())
            if not worst <= PROBE_TOLERANCE:
                raise RuntimeError(f"prepacked copy differs from the model by {worst:.2e} on the probe batch")
            del packed
        del original
        os.replace(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
