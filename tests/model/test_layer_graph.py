"""Converted graphs name every hidden state; the runtime exports exactly the ones asked for, equal to transformers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
from tests.helpers.checkpoints import make_random_checkpoint

from sparkbert.errors import InvalidParamError, ModelIntegrityError
from sparkbert.model.convert import convert_checkpoint
from sparkbert.runtime.layer_graph import absolute_layers, output_names, run_layers, with_hidden_states

TOLERANCE = 1e-5
LAYERS = 3


@pytest.fixture(scope="module", params=["hf", "bert"])
def converted(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Any, Path]:
    root = tmp_path_factory.mktemp(f"layers-{request.param}")
    folder, model = make_random_checkpoint(
        root / "ckpt", layout=request.param, seed=5, num_hidden_layers=LAYERS
    )
    return Path(convert_checkpoint(folder, root / "model").path), model, folder


def _session(model_dir: Path, layers: list[int]) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    options.add_session_config_entry("session.model_external_initializers_file_folder_path", str(model_dir))
    graph = with_hidden_states(str(model_dir / "model.onnx"), output_names(layers, LAYERS))
    return ort.InferenceSession(graph, options, providers=["CPUExecutionProvider"])


def _batch() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    ids = np.zeros((3, 17), np.int64)
    mask = np.zeros_like(ids)
    for row, n in enumerate((17, 9, 4)):
        ids[row, :n] = rng.integers(1000, 119000, n)
        ids[row, 0], ids[row, n - 1] = 101, 102
        mask[row, :n] = 1
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}


@pytest.mark.reference
def test_every_hidden_state_equals_transformers(converted: tuple[Path, Any, Path]) -> None:
    import torch

    model_dir, model, _ = converted
    batch = _batch()
    with torch.no_grad():
        reference = model(**{k: torch.from_numpy(v) for k, v in batch.items()}, output_hidden_states=True)
    layers = list(range(LAYERS + 1))
    session = _session(model_dir, layers)
    assert sorted(o.name for o in session.get_outputs()) == sorted(output_names(layers, LAYERS))
    outputs = run_layers(session, output_names(layers, LAYERS), batch)
    keep = batch["attention_mask"].astype(bool)
    for i, ours in enumerate(outputs):
        theirs = reference.hidden_states[i].numpy()
        assert ours.dtype == np.float32 and ours.shape == theirs.shape
        assert float(np.abs(ours - theirs)[keep].max()) <= TOLERANCE, f"hidden_states[{i}]"


def test_only_the_asked_states_are_outputs(converted: tuple[Path, Any, Path]) -> None:
    model_dir, _, _ = converted
    graph = onnx.load_from_string(
        with_hidden_states(str(model_dir / "model.onnx"), output_names([1, 0], LAYERS))
    )
    assert [o.name for o in graph.graph.output] == ["hidden_states.0.float32", "hidden_states.1.float32"]
    original = onnx.load(str(model_dir / "model.onnx"), load_external_data=False)
    assert [o.name for o in original.graph.output] == ["last_hidden_state"]  # unchanged on disk


def test_indices_count_from_the_top_and_are_checked() -> None:
    assert absolute_layers([-1, -4, 2], num_layers=LAYERS) == (3, 0, 2)
    with pytest.raises(InvalidParamError, match=r"'layers'.*from -4 to 3"):
        absolute_layers([-5], num_layers=LAYERS)
    with pytest.raises(InvalidParamError, match="'layers'"):
        absolute_layers([], num_layers=LAYERS)


def test_a_graph_without_names_says_to_convert_again(
    tmp_path: Path, converted: tuple[Path, Any, Path]
) -> None:
    model_dir, _, _ = converted
    graph = onnx.load(str(model_dir / "model.onnx"), load_external_data=False)
    for node in graph.graph.node:
        for k, out in enumerate(node.output):
            if out.startswith("hidden_states."):
                node.output[k] = "anonymous_" + out
    path = tmp_path / "old.onnx"
    onnx.save(graph, str(path))
    with pytest.raises(ModelIntegrityError, match="convert the checkpoint again"):
        with_hidden_states(str(path), output_names([0], LAYERS))


def test_fp16_and_int8_graphs_keep_the_names(converted: tuple[Path, Any, Path], tmp_path: Path) -> None:
    from sparkbert.model.directory import ModelDirectory
    from sparkbert.model.quantize import quantize_int8

    model_dir, _, checkpoint = converted
    fp32 = _session(model_dir, [0, 2, 3]).run(output_names([0, 2, 3], LAYERS), _batch())
    int8 = quantize_int8(ModelDirectory.load(model_dir), tmp_path / "int8")
    fp16 = convert_checkpoint(checkpoint, tmp_path / "fp16", precision="fp16")
    keep = _batch()["attention_mask"].astype(bool)
    for directory, tolerance in ((int8, 0.5), (fp16, 0.05)):
        outputs = _session(directory.path, [0, 2, 3]).run(output_names([0, 2, 3], LAYERS), _batch())
        assert [o.dtype for o in outputs] == [np.float32] * 3
        for ours, reference in zip(outputs, fp32):
            assert float(np.abs(ours - reference)[keep].max()) <= tolerance, directory.precision
