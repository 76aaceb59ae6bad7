"""Experimental ONNX Runtime session settings for sparkbert, applied inside Spark's Python workers.

sparkbert's ``create_session`` exposes threads and spinning only. To measure other levers
(``session.disable_prepacking``, prepacked weights saved to an mmap-able external file,
the CPU memory arena) without editing ``src/``, the benchmark runs a ``BertEmbeddings``
subclass whose batch annotator swaps ``sparkbert.runtime.embedder.create_session`` for
:func:`create_session` below, in the worker, before the first batch.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from sparkbert.runtime.embedder import Embedder, EmbedderConfig
from sparkbert.stages.bert_embeddings import BertEmbeddings, _task_slots

logger = logging.getLogger("benchmarks.patches")

#: Extra session settings, set in the worker by :class:`PatchedEmbedder`.
_EXTRA: dict[str, Any] = {}


def prepacked_model(
    onnx_path: str | os.PathLike[str], out_dir: str | os.PathLike[str], threads: int = 1
) -> Path:
    """Write (once) ``onnx_path`` optimized, with its prepacked weights in an mmap-able data file.

    ``session.save_external_prepacked_constant_initializers`` makes ONNX Runtime write the
    weights as its kernels pack them (MLAS layouts) into the external data file; a session
    loaded from that file maps them instead of packing a private heap copy per process.
    The packed layout depends on the CPU's kernels: make it on the machine that runs it.
    """
    import onnxruntime as ort

    out = Path(out_dir)
    model = out / "model.onnx"
    if model.is_file():
        return model
    tmp = out.with_name(out.name + ".tmp")
    tmp.mkdir(parents=True, exist_ok=True)
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.log_severity_level = 3
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.optimized_model_filepath = str(tmp / "model.onnx")
    so.add_session_config_entry("session.optimized_model_external_initializers_file_name", "model.onnx.data")
    so.add_session_config_entry("session.optimized_model_external_initializers_min_size_in_bytes", "1024")
    so.add_session_config_entry("session.save_external_prepacked_constant_initializers", "1")
    ort.InferenceSession(str(onnx_path), sess_options=so, providers=["CPUExecutionProvider"])
    tmp.rename(out)
    return model


def create_session(onnx_path: str, options: Any) -> Any:
    """sparkbert's ``create_session`` plus the settings in ``_EXTRA``."""
    import onnxruntime as ort

    from sparkbert.runtime.session import default_intra_op_threads, providers_for

    so = ort.SessionOptions()
    threads = options.intra_op_threads or default_intra_op_threads(options.slots)
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.log_severity_level = 3
    so.add_session_config_entry("session.intra_op.allow_spinning", "1" if options.allow_spinning else "0")
    for key, value in _EXTRA.get("config", {}).items():
        so.add_session_config_entry(key, value)
    if "mem_arena" in _EXTRA:
        so.enable_cpu_mem_arena = bool(_EXTRA["mem_arena"])
    path = _EXTRA.get("onnx_path") or onnx_path
    return ort.InferenceSession(path, sess_options=so, providers=providers_for(options.device))


class PatchedEmbedder(Embedder):
    """An :class:`Embedder` whose worker creates its session with :func:`create_session`."""

    def __init__(self, config: EmbedderConfig, extra: dict[str, Any]) -> None:
        super().__init__(config)
        self.extra = extra

    def embed(self, sentence_rows: Any, token_rows: Any) -> Any:
        import sparkbert.runtime.embedder as embedder_module

        if embedder_module.create_session is not create_session:
            _EXTRA.clear()
            _EXTRA.update(self.extra)
            embedder_module.create_session = create_session
        return super().embed(sentence_rows, token_rows)


class BenchBertEmbeddings(BertEmbeddings):
    """BertEmbeddings with session experiments, spinning and a per-instance ``chunkRows``."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.session_extra: dict[str, Any] = {}
        self.allow_spinning = False

    def _annotator_for(self, dataset: Any) -> Any:
        from dataclasses import replace

        config = self._config(slots=_task_slots(dataset.sparkSession))
        if self.allow_spinning:
            config = replace(config, session=replace(config.session, allow_spinning=True))
        if not self.session_extra:
            return Embedder(config)
        return PatchedEmbedder(config, dict(self.session_extra))
