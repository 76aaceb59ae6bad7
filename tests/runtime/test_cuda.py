"""The CUDA execution provider and the fp16 model directory on a real GPU.

Skipped unless ``onnxruntime-gpu`` is installed and its CUDA provider loads (the ``gpu``
extra on a machine with an NVIDIA GPU). Each test checks that the session really runs on
CUDA (ONNX Runtime silently falls back to the CPU when CUDA libraries are missing), then
measures against Hugging Face transformers (PyTorch, CPU) on UD sentences of 12 languages.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from tests.runtime.reference import reference_vectors
from tests.runtime.test_reference import _ud_inputs

from sparkbert.annotation import Annotation
from sparkbert.model.convert import convert_checkpoint
from sparkbert.runtime.embedder import Embedder, EmbedderConfig, load_resources
from sparkbert.runtime.session import SessionOptions, clear_cache, providers_for


def _cuda_loads() -> bool:
    try:
        import onnxruntime as ort
    except ImportError:
        return False
    return "CUDAExecutionProvider" in ort.get_available_providers()


pytestmark = [
    pytest.mark.gpu,
    pytest.mark.reference,
    pytest.mark.skipif(not _cuda_loads(), reason="needs onnxruntime-gpu with a CUDA device"),
]

PER_LANGUAGE = 50


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    from tests.helpers.checkpoints import make_random_checkpoint

    return make_random_checkpoint(
        tmp_path_factory.mktemp("cuda") / "ckpt",
        num_hidden_layers=4,
        hidden_size=256,
        num_attention_heads=4,
        intermediate_size=1024,
    )


@pytest.fixture(scope="module")
def inputs() -> tuple[list[str], list[list[Annotation]], list[list[Annotation]]]:
    return _ud_inputs(PER_LANGUAGE)


@pytest.fixture(scope="module")
def reference(
    checkpoint: tuple[Path, Any], inputs: tuple[list[str], Any, list[list[Annotation]]]
) -> list[Any]:
    folder, model = checkpoint
    texts, _, tokens = inputs
    spans = [[(t.begin, t.end + 1) for t in row] for row in tokens]
    return reference_vectors(model, folder, texts, spans, ("first",))["first"]


def _embed(model_dir: Path, inputs: Any, batch_size: int = 32, device: str = "cuda") -> list[np.ndarray]:
    _, sentences, tokens = inputs
    config = EmbedderConfig.for_model(
        str(model_dir), max_sentence_length=512, batch_size=batch_size, session=SessionOptions(device=device)
    )
    assert load_resources(config).session.get_providers()[0] == (
        "CUDAExecutionProvider" if device == "cuda" else "CPUExecutionProvider"
    )
    rows = Embedder(config).embed(sentences, tokens)
    for row, toks in zip(rows, tokens):
        assert len(row) == len(toks)  # every token embedded
    return [np.array([a.embeddings for a in row], dtype=np.float32) for row in rows]


def _cosines(got: list[np.ndarray], ref: list[np.ndarray]) -> np.ndarray:
    a, b = np.concatenate(got), np.concatenate(ref)
    return np.asarray((a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)))


def test_auto_picks_cuda_and_one_session_per_process(tmp_path: Path, checkpoint: tuple[Path, Any]) -> None:
    assert providers_for("auto")[0] == "CUDAExecutionProvider"
    model = convert_checkpoint(checkpoint[0], tmp_path / "fp32")
    clear_cache()
    config = EmbedderConfig.for_model(str(model.path), session=SessionOptions(device="cuda"))
    first = load_resources(config).session
    assert first.get_providers()[0] == "CUDAExecutionProvider"
    assert load_resources(config).session is first  # built once, reused by every batch
    assert (
        load_resources(
            EmbedderConfig.for_model(str(model.path), session=SessionOptions(device="cuda", device_id=0))
        ).session
        is first
    )


def test_fp32_on_cuda_matches_transformers(
    tmp_path: Path, checkpoint: tuple[Path, Any], inputs: Any, reference: list[np.ndarray]
) -> None:
    model = convert_checkpoint(checkpoint[0], tmp_path / "fp32")
    got = _embed(model.path, inputs)
    worst = max(float(np.abs(g - r).max()) for g, r in zip(got, reference))
    print(f"fp32 CUDA vs transformers CPU: max abs diff {worst:.2e} over {sum(len(g) for g in got)} tokens")
    assert worst <= 1e-3
    # batching does not change the result on the GPU either
    single = _embed(model.path, inputs, batch_size=1)
    assert max(float(np.abs(g - s).max()) for g, s in zip(got, single)) <= 1e-4


def test_fp16_on_cuda_keeps_fidelity(
    tmp_path: Path, checkpoint: tuple[Path, Any], inputs: Any, reference: list[np.ndarray]
) -> None:
    model = convert_checkpoint(checkpoint[0], tmp_path / "fp16", precision="fp16")
    assert model.precision == "fp16"
    got = _embed(model.path, inputs)
    assert all(g.dtype == np.float32 and np.isfinite(g).all() for g in got)
    cos = _cosines(got, reference)
    worst = max(float(np.abs(g - r).max()) for g, r in zip(got, reference))
    print(
        f"fp16 CUDA vs transformers fp32 CPU: cosine mean {cos.mean():.5f} min {cos.min():.5f}, max abs {worst:.2e}"
    )
    assert cos.mean() >= 0.999 and cos.min() >= 0.99
