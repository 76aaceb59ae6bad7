"""int8 quantization: fidelity to fp32 on the real MiniLM weights, and the directory it writes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from tests.helpers.checkpoints import encode_batches, make_numpy_checkpoint, ort_session, ud_sentences

from sparkbert.errors import InvalidParamError
from sparkbert.model.convert import convert_checkpoint
from sparkbert.model.directory import ModelDirectory
from sparkbert.model.quantize import quantize_int8


@pytest.fixture(scope="module")
def minilm_int8(minilm_fp32: ModelDirectory, tmp_path_factory: pytest.TempPathFactory) -> ModelDirectory:
    return quantize_int8(minilm_fp32, tmp_path_factory.mktemp("int8") / "minilm")


def token_cosines(ours: np.ndarray, theirs: np.ndarray, mask: np.ndarray) -> np.ndarray:
    a, b = ours[mask.astype(bool)], theirs[mask.astype(bool)]
    return np.asarray((a * b).sum(-1) / np.linalg.norm(a, axis=-1) / np.linalg.norm(b, axis=-1))


@pytest.mark.slow
def test_int8_stays_close_to_fp32_on_real_weights(
    minilm_fp32: ModelDirectory, minilm_int8: ModelDirectory
) -> None:
    fp32, int8 = ort_session(minilm_fp32.onnx_path), ort_session(minilm_int8.onnx_path)
    batches = encode_batches(minilm_fp32.tokenizer_path, ud_sentences(25), batch_size=32)  # 12 languages
    cosines = np.concatenate(
        [token_cosines(int8.run(None, b)[0], fp32.run(None, b)[0], b["attention_mask"]) for b in batches]
    )
    assert cosines.size > 10_000
    assert cosines.mean() >= 0.99
    assert cosines.min() >= 0.9


def test_int8_directory(minilm_fp32: ModelDirectory, minilm_int8: ModelDirectory) -> None:
    assert minilm_int8.precision == "int8"
    loaded = ModelDirectory.load(minilm_int8.path)
    assert sorted(loaded.manifest["files"]) == [
        "config.json",
        "model.onnx",
        "model.onnx.data",
        "sentence_head.safetensors",  # MiniLM's pooler, copied unchanged (float32)
        "tokenizer.json",
    ]
    for key in ("source", "hidden_size", "cased", "source_files", "max_position_embeddings", "sentence"):
        assert loaded.manifest[key] == minilm_fp32.manifest[key]
    assert loaded.manifest["quantization"]["from_identity"] == minilm_fp32.identity
    assert loaded.tokenizer_path.read_bytes() == minilm_fp32.tokenizer_path.read_bytes()
    nodes = onnx.load(str(loaded.onnx_path), load_external_data=False).graph.node
    ops = [n.op_type for n in nodes]
    layers = loaded.num_hidden_layers
    assert ops.count("QAttention") == layers
    assert ops.count("DynamicQuantizeMatMul") + ops.count("MatMulInteger") == 2 * layers
    fp32_matmuls = [n.name for n in nodes if n.op_type == "MatMul"]  # FFN down projections, by default
    assert fp32_matmuls == [f"encoder.layer.{i}.output.dense" for i in range(layers)]
    size = loaded.path.joinpath("model.onnx.data").stat().st_size
    assert size < 0.8 * minilm_fp32.path.joinpath("model.onnx.data").stat().st_size


def test_convert_to_int8_in_one_call(tmp_path: Path) -> None:
    folder = make_numpy_checkpoint(tmp_path / "ckpt", num_hidden_layers=1)
    directory = convert_checkpoint(folder, tmp_path / "out" / "int8", precision="int8")
    assert directory.precision == "int8"
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["int8"]  # no fp32 scratch left
    batch = {"input_ids": np.array([[101, 5000, 102]]), "attention_mask": np.ones((1, 3), np.int64)}
    batch["token_type_ids"] = np.zeros((1, 3), np.int64)
    assert ort_session(directory.onnx_path).run(None, batch)[0].shape == (1, 3, 32)


def test_refuses_a_non_fp32_source(minilm_int8: ModelDirectory, tmp_path: Path) -> None:
    with pytest.raises(InvalidParamError, match="fp32"):
        quantize_int8(minilm_int8, tmp_path / "again")
