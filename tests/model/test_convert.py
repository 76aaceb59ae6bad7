"""The checkpoint → ONNX converter: same numbers as transformers, a fused graph, safe refusals."""

from __future__ import annotations

import json
import logging
import pickle
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
from safetensors.numpy import load_file, save_file
from tests.helpers.checkpoints import (
    MBERT_TOKENIZER_DIR,
    as_older_sparkbert_wrote_it,
    copy_tokenizer,
    encode_batches,
    make_distilbert_checkpoint,
    make_numpy_checkpoint,
    make_random_checkpoint,
    ort_session,
    perturb,
    ud_sentences,
)

from sparkbert.errors import InvalidParamError, ModelIntegrityError, ModelNotFoundError, UnsafeModelError
from sparkbert.model.checkpoint import CheckpointWeights, read_config
from sparkbert.model.convert import convert_checkpoint
from sparkbert.model.directory import ModelDirectory, sha256_file
from sparkbert.model.format import GRAPH_VERSIONS, outdated
from sparkbert.model.onnx_graph import ExternalDataWriter, build_bert_graph

TOLERANCE = 1e-4


def random_batch(
    seed: int, vocab_size: int, lengths: list[int], type_vocab_size: int = 2
) -> dict[str, np.ndarray]:
    """Right-padded [CLS] ... [SEP] rows of random ids and token types."""
    rng = np.random.default_rng(seed)
    ids = np.zeros((len(lengths), max(lengths)), np.int64)
    mask = np.zeros_like(ids)
    types = np.zeros_like(ids)
    for row, n in enumerate(lengths):
        ids[row, :n] = rng.integers(1000, vocab_size, n)
        ids[row, 0], ids[row, n - 1] = 101, 102
        mask[row, :n] = 1
        types[row, :n] = rng.integers(0, type_vocab_size, n)
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}


def reference(model: Any, batch: dict[str, np.ndarray]) -> np.ndarray:
    import torch

    with torch.no_grad():
        inputs = {k: torch.from_numpy(v) for k, v in batch.items()}
        return np.asarray(model(**inputs).last_hidden_state.numpy())


def max_diff_on_tokens(ours: np.ndarray, theirs: np.ndarray, mask: np.ndarray) -> float:
    return float(np.abs(ours - theirs)[mask.astype(bool)].max())


def run(directory: ModelDirectory, batch: dict[str, np.ndarray]) -> np.ndarray:
    return np.asarray(ort_session(directory.onnx_path).run(None, batch)[0])


def graph_of(folder: Path, out: Path, *, fused: bool = True) -> Path:
    """Convert ``folder`` into ``out``: the converter's fused ``model.onnx``, or the standard-op graph."""
    if fused:
        return convert_checkpoint(folder, out).onnx_path
    out.mkdir(parents=True)
    with CheckpointWeights(folder) as weights, ExternalDataWriter(out / "model.onnx.data") as writer:
        graph = build_bert_graph(read_config(folder)[1], weights.get, writer, fused=False)
    (out / "model.onnx").write_bytes(graph.SerializeToString())
    return out / "model.onnx"


# -- fidelity to transformers -------------------------------------------------------------


@pytest.mark.reference
@pytest.mark.parametrize("layout", ["hf", "bert"])
def test_matches_transformers_on_padded_batches(
    layout: str, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> None:
    folder, model = request.getfixturevalue(f"{layout}_checkpoint")
    directory = (
        request.getfixturevalue("converted_bert")
        if layout == "bert"
        else convert_checkpoint(folder, tmp_path_factory.mktemp("out") / "hf")
    )
    session = ort_session(directory.onnx_path)
    vocab = model.config.vocab_size
    for batch in (
        random_batch(0, vocab, [9]),
        random_batch(1, vocab, [5, 17, 12, 3]),  # right-padded, different lengths
        random_batch(2, vocab, [512, 40]),  # every position embedding
    ):
        ours = session.run(None, batch)[0]
        assert ours.shape == (*batch["input_ids"].shape, 32)
        assert ours.dtype == np.float32
        assert max_diff_on_tokens(ours, reference(model, batch), batch["attention_mask"]) <= TOLERANCE


@pytest.mark.reference
def test_matches_transformers_for_another_shape(tmp_path: Path) -> None:
    folder, model = make_random_checkpoint(
        tmp_path / "ckpt",
        layout="bert",
        seed=3,
        num_hidden_layers=3,
        hidden_size=48,
        num_attention_heads=6,
        intermediate_size=96,
        max_position_embeddings=64,
        type_vocab_size=3,
    )
    directory = convert_checkpoint(folder, tmp_path / "out")
    assert (directory.hidden_size, directory.num_hidden_layers, directory.max_positions) == (48, 3, 64)
    batch = random_batch(4, model.config.vocab_size, [64, 20, 7], type_vocab_size=3)
    ours = run(directory, batch)
    assert max_diff_on_tokens(ours, reference(model, batch), batch["attention_mask"]) <= TOLERANCE


@pytest.mark.reference
@pytest.mark.parametrize("fused", [True, False], ids=["fused", "standard"])
@pytest.mark.parametrize("hidden_act", ["gelu_new", "gelu_pytorch_tanh", "quick_gelu", "relu", "silu"])
def test_matches_transformers_with_other_activations(tmp_path: Path, hidden_act: str, fused: bool) -> None:
    folder, model = make_random_checkpoint(
        tmp_path / "ckpt", seed=5, num_hidden_layers=2, intermediate_size=96, hidden_act=hidden_act
    )
    path = graph_of(folder, tmp_path / "out", fused=fused)
    ops = {n.op_type for n in onnx.load(str(path), load_external_data=False).graph.node}
    op = {"gelu_new": "FastGelu", "gelu_pytorch_tanh": "FastGelu", "quick_gelu": "QuickGelu"}.get(hidden_act)
    assert (op in ops) == fused if op else {"relu": "Relu", "silu": "Sigmoid"}[hidden_act] in ops
    session = ort_session(path)
    batch = random_batch(6, model.config.vocab_size, [40, 9, 3])
    ours = np.asarray(session.run(None, batch)[0])
    assert max_diff_on_tokens(ours, reference(model, batch), batch["attention_mask"]) <= TOLERANCE


@pytest.mark.reference
@pytest.mark.parametrize(
    ("head", "sinusoidal", "activation", "fused"),
    [("model", False, "gelu", True), ("masked_lm", True, "relu", True), ("masked_lm", False, "gelu", False)],
    ids=["model", "masked-lm-sinusoidal-relu", "masked-lm-standard-graph"],
)
def test_distilbert_matches_transformers(
    tmp_path: Path, head: str, sinusoidal: bool, activation: str, fused: bool
) -> None:
    """DistilBERT: BERT's encoder under other names, no token types; both published key layouts."""
    folder, model = make_distilbert_checkpoint(
        tmp_path / "ckpt",
        head=head,  # type: ignore[arg-type]
        seed=11,
        n_layers=3,
        sinusoidal_pos_embds=sinusoidal,
        activation=activation,
    )
    session = ort_session(graph_of(folder, tmp_path / "out", fused=fused))
    vocab = model.config.vocab_size
    for batch in (random_batch(0, vocab, [5, 17, 12, 3], 1), random_batch(1, vocab, [512, 40], 1)):
        ours = np.asarray(session.run(None, batch)[0])
        theirs = reference(model, {k: v for k, v in batch.items() if k != "token_type_ids"})
        assert max_diff_on_tokens(ours, theirs, batch["attention_mask"]) <= TOLERANCE


@pytest.mark.reference
@pytest.mark.parametrize("model_type", ["roberta", "xlm-roberta", "camembert"])
def test_roberta_family_matches_transformers(tmp_path: Path, model_type: str) -> None:
    """Positions numbered from pad_token_id + 1; the same encoder under each family name."""
    import torch
    from transformers import AutoConfig, AutoModel

    config = AutoConfig.for_model(
        model_type,
        vocab_size=119547,  # the mBERT tokenizer copied beside it; ids are random here
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=130,
        type_vocab_size=1,
        pad_token_id=1,
        layer_norm_eps=1e-5,
    )
    torch.manual_seed(2)
    model = AutoModel.from_config(config).eval()
    perturb(model, 2)
    model.save_pretrained(tmp_path / "ckpt")
    copy_tokenizer(MBERT_TOKENIZER_DIR, tmp_path / "ckpt")
    # a config from before model_type existed: the family comes from its architectures
    untyped = shutil.copytree(tmp_path / "ckpt", tmp_path / "untyped")
    config_json = json.loads((untyped / "config.json").read_text())
    del config_json["model_type"]
    (untyped / "config.json").write_text(json.dumps(config_json))
    for folder in (tmp_path / "ckpt", untyped):
        directory = convert_checkpoint(folder, tmp_path / "out" / folder.name)
        assert (directory.manifest["model_type"], directory.max_positions) == (model_type, 128)
        session = ort_session(directory.onnx_path)
        for batch in (random_batch(3, 119547, [9, 30, 4], 1), random_batch(4, 119547, [128, 17], 1)):
            ours = np.asarray(session.run(None, batch)[0])
            assert max_diff_on_tokens(ours, reference(model, batch), batch["attention_mask"]) <= TOLERANCE


def test_distilbert_errors_name_its_own_fields_and_weights(tmp_path: Path) -> None:
    folder, _ = make_distilbert_checkpoint(tmp_path / "ckpt", head="masked_lm", n_layers=1)
    tensors = load_file(str(folder / "model.safetensors"))
    del tensors["distilbert.transformer.layer.0.ffn.lin1.bias"]
    save_file(tensors, str(folder / "model.safetensors"))
    with pytest.raises(
        ModelIntegrityError, match=r"intermediate\.dense\.bias.*transformer\.layer\.0\.ffn\.lin1\.bias"
    ):
        convert_checkpoint(folder, tmp_path / "out")
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "n_heads": 5}))
    with pytest.raises(ModelIntegrityError, match=r"dim 32 is not a multiple of n_heads 5"):
        convert_checkpoint(folder, tmp_path / "out")
    (folder / "config.json").write_text(json.dumps({**config, "activation": "mish"}))
    with pytest.raises(InvalidParamError, match=r"config\.json: activation.*'mish'"):
        convert_checkpoint(folder, tmp_path / "out")
    assert not (tmp_path / "out").exists()


@pytest.mark.reference
@pytest.mark.slow
def test_matches_transformers_on_real_minilm(minilm_dir: Path, minilm_fp32: ModelDirectory) -> None:
    from transformers import BertModel

    model = BertModel.from_pretrained(str(minilm_dir)).eval()
    assert not minilm_fp32.cased
    session = ort_session(minilm_fp32.onnx_path)
    for batch in encode_batches(minilm_fp32.tokenizer_path, ud_sentences(3), batch_size=36):
        ours = session.run(None, batch)[0]
        assert max_diff_on_tokens(ours, reference(model, batch), batch["attention_mask"]) <= TOLERANCE


# -- the graph ----------------------------------------------------------------------------


def test_graph_is_fused_after_onnxruntime_optimization(minilm_fp32: ModelDirectory, tmp_path: Path) -> None:
    optimized = tmp_path / "optimized.onnx"
    ort_session(minilm_fp32.onnx_path, optimized=optimized)
    ops = [node.op_type for node in onnx.load(str(optimized), load_external_data=False).graph.node]
    layers = minilm_fp32.num_hidden_layers
    assert ops.count("Attention") + ops.count("MultiHeadAttention") == layers
    # fp32: Sum + LayerNormalization, which ONNX Runtime leaves alone (its CPU SkipLayerNormalization is slower)
    assert ops.count("Sum") == ops.count("LayerNormalization") == 2 * layers
    assert ops.count("BiasGelu") + ops.count("Gelu") == layers
    assert not {"Softmax", "Erf", "Tanh", "SkipLayerNormalization"} & set(ops)  # nothing left unfused


def test_graph_io_and_single_external_data_file(minilm_fp32: ModelDirectory) -> None:
    model = onnx.load(str(minilm_fp32.onnx_path), load_external_data=False)
    onnx.checker.check_model(str(minilm_fp32.onnx_path))
    inputs = {i.name: i.type.tensor_type for i in model.graph.input}
    assert list(inputs) == ["input_ids", "attention_mask", "token_type_ids"]
    assert all(t.elem_type == onnx.TensorProto.INT64 for t in inputs.values())
    (output,) = model.graph.output
    assert output.name == "last_hidden_state"
    assert output.type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    locations = {
        entry.value
        for tensor in model.graph.initializer
        for entry in tensor.external_data
        if entry.key == "location"
    }
    assert locations == {"model.onnx.data"}
    big = [t for t in model.graph.initializer if 4 * int(np.prod(t.dims)) >= 1 << 20]
    offsets = [int(next(e.value for e in t.external_data if e.key == "offset")) for t in big]
    assert offsets and all(offset % 4096 == 0 for offset in offsets)  # mmap-able


def test_standard_op_graph_computes_the_same(tmp_path: Path) -> None:
    folder = make_numpy_checkpoint(tmp_path / "ckpt", type_vocab_size=3)
    path = graph_of(folder, tmp_path / "standard", fused=False)
    assert not any(node.domain for node in onnx.load(str(path)).graph.node)  # standard ONNX only
    onnx.checker.check_model(str(path), full_check=True)
    batch = random_batch(6, read_config(folder)[1].vocab_size, [30, 11, 2], type_vocab_size=3)
    standard = ort_session(path).run(None, batch)[0]
    fused = run(convert_checkpoint(folder, tmp_path / "fused"), batch)
    assert max_diff_on_tokens(fused, standard, batch["attention_mask"]) <= TOLERANCE


def test_fp16_keeps_io_types_and_runs(tmp_path: Path) -> None:
    folder = make_numpy_checkpoint(tmp_path / "ckpt")
    fp16 = convert_checkpoint(folder, tmp_path / "fp16", precision="fp16")
    fp32 = convert_checkpoint(folder, tmp_path / "fp32")
    assert fp16.precision == "fp16"
    model = onnx.load(str(fp16.onnx_path), load_external_data=False)
    weights = [t for t in model.graph.initializer if t.data_location == onnx.TensorProto.EXTERNAL]
    assert weights and all(t.data_type == onnx.TensorProto.FLOAT16 for t in weights)
    assert model.graph.output[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    ops = {n.op_type for n in model.graph.node}
    assert "SkipLayerNormalization" in ops and "Sum" not in ops  # the GPU precision keeps the fused op
    assert fp16.manifest["graph_version"] == GRAPH_VERSIONS["fp16"] and outdated(fp16) is None
    assert (
        fp16.path.joinpath("model.onnx.data").stat().st_size
        < 0.6 * fp32.path.joinpath("model.onnx.data").stat().st_size
    )
    batch = random_batch(5, 119547, [20, 6])
    half, full = run(fp16, batch), run(fp32, batch)  # ONNX Runtime's CPU EP runs these fp16 kernels
    assert half.dtype == np.float32
    assert max_diff_on_tokens(half, full, batch["attention_mask"]) < 0.05


# -- checkpoint layouts and refusals ------------------------------------------------------


def test_sharded_checkpoint_gives_the_same_weights(tmp_path: Path) -> None:
    folder = make_numpy_checkpoint(tmp_path / "single")
    sharded = tmp_path / "sharded"
    shutil.copytree(folder, sharded)
    tensors = load_file(str(sharded / "model.safetensors"))
    (sharded / "model.safetensors").unlink()
    names = sorted(tensors)
    weight_map = {}
    for i, part in enumerate((names[: len(names) // 2], names[len(names) // 2 :])):
        shard = f"model-0000{i + 1}-of-00002.safetensors"
        save_file({n: tensors[n] for n in part}, str(sharded / shard))
        weight_map.update(dict.fromkeys(part, shard))
    (sharded / "model.safetensors.index.json").write_text(json.dumps({"weight_map": weight_map}))
    one = convert_checkpoint(folder, tmp_path / "one")
    two = convert_checkpoint(sharded, tmp_path / "two")
    assert sha256_file(one.path / "model.onnx.data") == sha256_file(two.path / "model.onnx.data")
    assert "model.safetensors.index.json" in two.manifest["source_files"]

    weight_map[names[0]] = "../outside.safetensors"
    (sharded / "model.safetensors.index.json").write_text(json.dumps({"weight_map": weight_map}))
    with pytest.raises(UnsafeModelError, match="outside.safetensors"):
        convert_checkpoint(sharded, tmp_path / "three")


def test_refuses_pickle_weights_without_unpickling(tmp_path: Path) -> None:
    canary = tmp_path / "pwned"

    class Payload:
        def __reduce__(self) -> tuple[Any, ...]:
            return (open, (str(canary), "w"))

    folder = tmp_path / "ckpt"
    folder.mkdir()
    shutil.copyfile(make_numpy_checkpoint(tmp_path / "src") / "config.json", folder / "config.json")
    (folder / "pytorch_model.bin").write_bytes(pickle.dumps(Payload()))
    with pytest.raises(UnsafeModelError, match=r"pickle.*safetensors") as info:
        convert_checkpoint(folder, tmp_path / "out")
    assert "pytorch_model.bin" in str(info.value)
    assert not canary.exists()
    assert not (tmp_path / "out").exists()


def test_missing_weight_is_named(tmp_path: Path) -> None:
    folder = make_numpy_checkpoint(tmp_path / "ckpt", layout="bert")
    tensors = load_file(str(folder / "model.safetensors"))
    del tensors["bert.encoder.layer.1.output.LayerNorm.beta"]
    save_file(tensors, str(folder / "model.safetensors"))
    with pytest.raises(ModelIntegrityError, match=r"encoder\.layer\.1\.output\.LayerNorm\.bias"):
        convert_checkpoint(folder, tmp_path / "out")
    assert list(tmp_path.iterdir()) == [folder]  # no half-written output


def test_misshapen_weight_is_named(tmp_path: Path) -> None:
    folder = make_numpy_checkpoint(tmp_path / "ckpt")
    config = json.loads((folder / "config.json").read_text())
    config["intermediate_size"] = 80
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelIntegrityError, match=r"intermediate\.dense\.weight.*\(64, 32\).*\(80, 32\)"):
        convert_checkpoint(folder, tmp_path / "out")


@pytest.mark.parametrize(
    ("field", "value", "valid"),
    [
        ("hidden_act", "mish", "'gelu', 'gelu_python', 'gelu_new'"),
        ("model_type", "albert", "'bert', 'roberta', 'xlm-roberta', 'camembert', 'distilbert'"),
        ("position_embedding_type", "relative_key", "'absolute'"),
    ],
)
def test_unsupported_config_lists_what_is_supported(
    tmp_path: Path, field: str, value: str, valid: str
) -> None:
    folder = make_numpy_checkpoint(tmp_path / "ckpt")
    config = json.loads((folder / "config.json").read_text())
    config[field] = value
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(InvalidParamError, match=f"{field}.*{value}.*Valid values: {valid}"):
        convert_checkpoint(folder, tmp_path / "out")


def test_missing_folder_or_config(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError):
        convert_checkpoint(tmp_path / "nope", tmp_path / "out")
    with pytest.raises(ModelNotFoundError, match="config.json"):
        convert_checkpoint(tmp_path, tmp_path / "out")


def test_source_sha256_is_checked_and_recorded(tmp_path: Path) -> None:
    folder = make_numpy_checkpoint(tmp_path / "ckpt")
    good = {"model.safetensors": sha256_file(folder / "model.safetensors")}
    directory = convert_checkpoint(
        folder, tmp_path / "ok", source="org/tiny", revision="abc123", source_sha256=good
    )
    manifest = directory.manifest
    assert (manifest["source"], manifest["revision"], manifest["precision"]) == ("org/tiny", "abc123", "fp32")
    assert manifest["source_files"]["model.safetensors"]["sha256"] == good["model.safetensors"]
    assert {"config.json", "tokenizer.json", "tokenizer_config.json"} <= set(manifest["source_files"])
    with pytest.raises(ModelIntegrityError, match="model.safetensors"):
        convert_checkpoint(folder, tmp_path / "bad", source_sha256={"model.safetensors": "0" * 64})


def test_existing_output_is_reused_or_refused(tmp_path: Path) -> None:
    folder = make_numpy_checkpoint(tmp_path / "ckpt")
    first = convert_checkpoint(folder, tmp_path / "out")
    stamp = first.onnx_path.stat().st_mtime_ns
    again = convert_checkpoint(folder, tmp_path / "out")
    assert again.identity == first.identity
    assert again.onnx_path.stat().st_mtime_ns == stamp  # not rewritten
    with pytest.raises(InvalidParamError, match="already holds another model"):
        convert_checkpoint(folder, tmp_path / "out", precision="fp16")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(InvalidParamError, match="not a sparkbert model directory"):
        convert_checkpoint(folder, tmp_path / "other")


def test_output_converted_by_an_older_sparkbert_is_converted_again(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = make_numpy_checkpoint(tmp_path / "ckpt")
    first = convert_checkpoint(folder, tmp_path / "out")
    assert first.manifest["graph_version"] == GRAPH_VERSIONS["fp32"] and outdated(first) is None
    as_older_sparkbert_wrote_it(first.path)
    old = ModelDirectory.load(first.path)
    assert outdated(old) == f"graph version 1; this sparkbert writes version {GRAPH_VERSIONS['fp32']}"
    with caplog.at_level(logging.INFO, logger="sparkbert.model.convert"):
        again = convert_checkpoint(folder, tmp_path / "out")
    assert "is not what this sparkbert converts (graph version 1" in caplog.text
    assert again.path == tmp_path / "out" and outdated(again) is None
    assert again.manifest["graph_version"] == GRAPH_VERSIONS["fp32"]
    assert again.manifest["files"] == first.manifest["files"]  # the same graph, weights and tokenizer
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt", "out"]  # nothing left beside it
    with pytest.raises(InvalidParamError, match="already holds another model"):
        convert_checkpoint(folder, tmp_path / "out", precision="fp16")  # still refused


def test_conversion_needs_neither_torch_nor_transformers(tmp_path: Path) -> None:
    folder = make_numpy_checkpoint(tmp_path / "ckpt", num_hidden_layers=1)
    script = textwrap.dedent(
        f"""
        import sys
        class Block:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in {{"torch", "transformers"}}:
                    raise ImportError("blocked: " + name)
        sys.meta_path.insert(0, Block())
        from sparkbert.model.convert import convert_checkpoint
        d = convert_checkpoint({str(folder)!r}, {str(tmp_path / "out")!r})
        assert "torch" not in sys.modules and "transformers" not in sys.modules
        print(d.precision)
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "fp32"


@pytest.mark.slow
def test_conversion_holds_at_most_twice_the_weights(tmp_path: Path) -> None:
    folder = make_numpy_checkpoint(
        tmp_path / "ckpt", hidden_size=256, num_attention_heads=4, intermediate_size=1024
    )
    weights = (folder / "model.safetensors").stat().st_size  # ~130 MB, most of it the word embeddings
    script = textwrap.dedent(
        f"""
        import resource, sys
        import numpy, onnx, safetensors, tokenizers
        from sparkbert.model.convert import convert_checkpoint
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        convert_checkpoint({str(folder)!r}, {str(tmp_path / "out")!r})
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print((after - before) * 1024)
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) <= 2 * weights
