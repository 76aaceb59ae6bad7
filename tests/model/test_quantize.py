"""int8 quantization: fidelity to fp32 on the real MiniLM weights and a small model, exact rewrites, the directory."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from tests.helpers.checkpoints import (
    encode_batches,
    make_distilbert_checkpoint,
    make_numpy_checkpoint,
    ort_session,
    ud_sentences,
)

from sparkbert.errors import InvalidParamError
from sparkbert.model.convert import convert_checkpoint
from sparkbert.model.directory import ModelDirectory
from sparkbert.model.int8_graph import (
    calibration_batches,
    channel_ranges,
    layer_gemms,
    smooth,
    split_outlier_channels,
    tanh_gelu,
    unfuse_skip_layer_norm,
)
from sparkbert.model.quantize import Int8Recipe, quantize_int8, quantize_int8_recipe


@pytest.fixture(scope="module")
def minilm_int8(minilm_fp32: ModelDirectory, tmp_path_factory: pytest.TempPathFactory) -> ModelDirectory:
    return quantize_int8(minilm_fp32, tmp_path_factory.mktemp("int8") / "minilm")


def token_cosines(ours: np.ndarray, theirs: np.ndarray, mask: np.ndarray) -> np.ndarray:
    a, b = ours[mask.astype(bool)], theirs[mask.astype(bool)]
    return np.asarray((a * b).sum(-1) / np.linalg.norm(a, axis=-1) / np.linalg.norm(b, axis=-1))


def ud_cosines(fp32: ModelDirectory, int8_onnx: Path, per_language: int = 25) -> np.ndarray:
    """Cosine of every position (specials included) against fp32 on UD sentences of all 12 languages."""
    ref, ours = ort_session(fp32.onnx_path), ort_session(int8_onnx)
    batches = encode_batches(fp32.tokenizer_path, ud_sentences(per_language), batch_size=32)
    return np.concatenate(
        [token_cosines(ours.run(None, b)[0], ref.run(None, b)[0], b["attention_mask"]) for b in batches]
    )


def make_small_fp32(root: Path, hidden_act: str = "gelu") -> ModelDirectory:
    """A random 2-layer, hidden-64 model with mBERT's tokenizer and outlier channels like real BERTs'.

    LayerNorm gammas of 6 on one channel feed the attention and FFN-up GEMMs an outlier input
    channel; an FFN-up row scaled 3x makes one GELU output channel an outlier for FFN down.
    """
    from safetensors.numpy import load_file, save_file

    folder = make_numpy_checkpoint(
        root / "ckpt",
        num_hidden_layers=2,
        hidden_size=64,
        num_attention_heads=4,
        intermediate_size=256,
        seed=3,
        hidden_act=hidden_act,
    )
    weights = load_file(str(folder / "model.safetensors"))
    for i in range(2):
        p = f"encoder.layer.{i}."
        weights[p + "attention.output.LayerNorm.weight"][5] = 6.0
        weights[p + "output.LayerNorm.weight"][9] = 6.0
        weights[p + "intermediate.dense.weight"][7] *= 3.0
    save_file(weights, str(folder / "model.safetensors"), metadata={"format": "pt"})
    return convert_checkpoint(folder, root / "fp32")


@pytest.fixture(scope="module")
def small_fp32(tmp_path_factory: pytest.TempPathFactory) -> ModelDirectory:
    """``make_small_fp32`` with BERT's exact GELU."""
    return make_small_fp32(tmp_path_factory.mktemp("small-int8"))


def test_int8_meets_the_fidelity_criteria_on_a_small_model(
    small_fp32: ModelDirectory, tmp_path: Path
) -> None:
    cosines = ud_cosines(small_fp32, quantize_int8(small_fp32, tmp_path / "int8").onnx_path)
    assert cosines.size > 10_000
    assert cosines.mean() >= 0.99
    assert cosines.min() >= 0.95


@pytest.mark.parametrize(
    ("hidden_act", "op"),
    [("gelu_new", "FastGelu"), ("quick_gelu", "QuickGelu"), ("relu", "Relu"), ("silu", "Sigmoid")],
)
def test_int8_of_other_activations_moves_their_outliers_and_keeps_fidelity(
    tmp_path: Path, hidden_act: str, op: str
) -> None:
    fp32 = make_small_fp32(tmp_path, hidden_act)
    # the side path alone is exact in float arithmetic
    model = onnx.load(str(fp32.onnx_path))
    downs = [layer["ffn_down"].input[0] for layer in layer_gemms(model).values()]
    batches = calibration_batches(119547, {"cls": 101, "sep": 102, "pad": 0}, sequences=8)
    split_outlier_channels(model, channel_ranges(model, batches, downs), 2)
    onnx.save(model, str(tmp_path / "split.onnx"))
    ref, ours = ort_session(fp32.onnx_path), ort_session(tmp_path / "split.onnx")
    for b in encode_batches(fp32.tokenizer_path, ud_sentences(1), batch_size=8):
        np.testing.assert_allclose(ours.run(None, b)[0], ref.run(None, b)[0], atol=1e-4)
    int8 = quantize_int8(fp32, tmp_path / "int8")
    graph = onnx.load(str(int8.onnx_path), load_external_data=False).graph
    side = {n.op_type for n in graph.node if n.name.startswith("encoder.layer.0.ffn_outliers.")}
    assert op in side and "MatMul" in side  # the float32 side path computes the same activation
    assert int8.manifest["quantization"]["fp32_outlier_channels"] == 2
    cosines = ud_cosines(fp32, int8.onnx_path, per_language=10)
    assert cosines.mean() >= 0.99
    assert cosines.min() >= 0.95


@pytest.mark.reference
def test_int8_of_distilbert_keeps_fidelity(tmp_path: Path) -> None:
    """The recipe finds DistilBERT's GEMMs under the converter's names like BERT's."""
    folder, _ = make_distilbert_checkpoint(
        tmp_path / "ckpt", head="masked_lm", seed=3, n_layers=2, dim=64, hidden_dim=256
    )
    fp32 = convert_checkpoint(folder, tmp_path / "fp32")
    int8 = convert_checkpoint(folder, tmp_path / "int8", precision="int8")
    assert (int8.precision, int8.manifest["model_type"], int8.manifest["type_vocab_size"]) == (
        "int8",
        "distilbert",
        1,
    )
    ops = [n.op_type for n in onnx.load(str(int8.onnx_path), load_external_data=False).graph.node]
    assert ops.count("QAttention") == 2
    assert ops.count("DynamicQuantizeMatMul") + ops.count("MatMulInteger") == 3 * 2  # every dense GEMM
    cosines = ud_cosines(fp32, int8.onnx_path, per_language=10)
    assert cosines.mean() >= 0.99
    assert cosines.min() >= 0.95


def as_skip_layer_norm(model: onnx.ModelProto) -> int:
    """Fuse each ``Sum(x, skip, bias)`` + ``LayerNormalization`` into ``SkipLayerNormalization``,
    as the converter wrote fp32 graphs before; return how many."""
    producers = {o: n for n in model.graph.node for o in n.output}
    fused, nodes = 0, []
    for node in model.graph.node:
        total = producers.get(node.input[0]) if node.op_type == "LayerNormalization" else None
        if total is None or total.op_type != "Sum" or len(total.input) != 3:
            nodes.append(node)
            continue
        nodes.remove(total)
        x, skip, bias = total.input
        eps = next(a.f for a in node.attribute if a.name == "epsilon")
        nodes.append(
            onnx.helper.make_node(
                "SkipLayerNormalization",
                [x, skip, node.input[1], node.input[2], bias],
                list(node.output),
                name=node.name,
                domain="com.microsoft",
                epsilon=eps,
            )
        )
        fused += 1
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    return fused


@pytest.mark.parametrize("residual", ["Sum", "SkipLayerNormalization"])
def test_rewrites_before_quantization_keep_the_fp32_numbers(
    small_fp32: ModelDirectory, tmp_path: Path, residual: str
) -> None:
    """Smoothing, the outlier side path and Sum + LayerNorm are exact in float arithmetic, on the
    converter's fp32 graph and on one with SkipLayerNormalization (as converted by earlier versions)."""
    model = onnx.load(str(small_fp32.onnx_path))
    assert "SkipLayerNormalization" not in {n.op_type for n in model.graph.node}
    if residual == "SkipLayerNormalization":
        assert as_skip_layer_norm(model) == 4
    layers = layer_gemms(model)
    assert sorted(layers[0]) == ["attention", "attention_output", "ffn_down", "ffn_up"]
    tensors = [layer[r].input[0] for layer in layers.values() for r in ("attention", "ffn_up", "ffn_down")]
    from tokenizers import Tokenizer

    vocab = Tokenizer.from_file(str(small_fp32.tokenizer_path)).get_vocab_size()
    batches = calibration_batches(vocab, {"cls": 101, "sep": 102, "pad": 0}, sequences=16)
    ranges = channel_ranges(model, batches, tensors)
    gelu_out = layers[0]["ffn_down"].input[0]
    assert ranges[gelu_out].shape == (256,) and (ranges[gelu_out] > 0).all()  # one range per channel
    smooth(model, ranges, ["attention", "ffn_up"], alpha=0.5)
    side = split_outlier_channels(model, ranges, 2)
    unfuse_skip_layer_norm(model)
    assert side == [f"encoder.layer.{i}.ffn_outliers.{p}" for i in range(2) for p in ("up", "down")]
    assert "SkipLayerNormalization" not in {n.op_type for n in model.graph.node}
    onnx.save(model, str(tmp_path / "rewritten.onnx"))
    ref, ours = ort_session(small_fp32.onnx_path), ort_session(tmp_path / "rewritten.onnx")
    for b in encode_batches(small_fp32.tokenizer_path, ud_sentences(2), batch_size=8):
        np.testing.assert_allclose(ours.run(None, b)[0], ref.run(None, b)[0], atol=1e-4)


def test_tanh_gelu_is_close_to_the_exact_gelu_and_not_equal(
    small_fp32: ModelDirectory, tmp_path: Path
) -> None:
    """The one rewrite that approximates: close to fp32 (cosine ≥ 0.9999 per position), not equal."""
    model = onnx.load(str(small_fp32.onnx_path))
    assert tanh_gelu(model) == 2
    ops = [n.op_type for n in model.graph.node]
    assert "BiasGelu" not in ops and ops.count("FastGelu") == 2
    onnx.save(model, str(tmp_path / "tanh.onnx"))
    ref, ours = ort_session(small_fp32.onnx_path), ort_session(tmp_path / "tanh.onnx")
    diffs, cosines = [], []
    for b in encode_batches(small_fp32.tokenizer_path, ud_sentences(2), batch_size=8):
        a, r = ours.run(None, b)[0], ref.run(None, b)[0]
        diffs.append(np.abs(a - r).max())
        cosines.append(token_cosines(a, r, b["attention_mask"]))
    assert max(diffs) > 1e-5
    assert np.concatenate(cosines).min() >= 0.9999


def test_each_rewrite_can_be_left_out(small_fp32: ModelDirectory, tmp_path: Path) -> None:
    plain = Int8Recipe(smooth=(), outlier_channels=0, unfuse_layer_norm=False, tanh_gelu=False)
    directory = quantize_int8_recipe(small_fp32, tmp_path / "plain", plain)
    ops = [n.op_type for n in onnx.load(str(directory.onnx_path), load_external_data=False).graph.node]
    # the converter's fp32 residual (Sum + LayerNorm) as it was; no side path
    assert ops.count("Sum") == ops.count("LayerNormalization") == 4 and "SkipLayerNormalization" not in ops
    assert "MatMul" not in ops and "Add" not in ops
    assert ops.count("BiasGelu") == 2 and "FastGelu" not in ops
    settings = directory.manifest["quantization"]
    assert (
        settings["smooth"],
        settings["fp32_outlier_channels"],
        settings["unfuse_layer_norm"],
        settings["gelu"],
    ) == ([], 0, False, "erf")


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
    assert cosines.min() >= 0.95


def test_int8_vectors_are_the_sentences_own_at_batch_size_one(minilm_int8: ModelDirectory) -> None:
    """What docs/models.md says: activations are quantized per call, so only batch 1 is batch-free."""
    from sparkbert.annotation import DOCUMENT, Annotation
    from sparkbert.runtime.embedder import Embedder, EmbedderConfig
    from sparkbert.text.tokens import tokenize

    texts = ud_sentences(5)  # 60 sentences, 12 languages
    sentences = [[Annotation(DOCUMENT, 0, len(t) - 1, t, {"sentence": "0"})] for t in texts]
    tokens = [tokenize(s) for s in sentences]

    def vectors(batch_size: int, order: list[int]) -> list[np.ndarray]:
        config = EmbedderConfig.for_model(str(minilm_int8.path), batch_size=batch_size)
        rows = Embedder(config).embed([sentences[i] for i in order], [tokens[i] for i in order])
        by_text = dict(zip(order, rows))
        return [np.array([a.embeddings for a in by_text[i]], dtype=np.float32) for i in range(len(texts))]

    forward, backward = list(range(len(texts))), list(range(len(texts)))[::-1]
    alone = vectors(1, forward)
    for a, b in zip(alone, vectors(1, backward)):
        np.testing.assert_allclose(a, b, atol=1e-5)  # any company, any order: the same vectors
    batched = vectors(8, forward)
    a, b = np.concatenate(alone), np.concatenate(batched)
    cosines = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    assert float(np.abs(a - b).max()) > 1e-3  # batched, they move with their neighbours
    assert cosines.mean() >= 0.99 and cosines.min() >= 0.95


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
    assert ops.count("DynamicQuantizeMatMul") + ops.count("MatMulInteger") == 3 * layers  # every dense GEMM
    fp32_matmuls = [n.name for n in nodes if n.op_type == "MatMul"]  # only the outlier side paths
    assert fp32_matmuls == [
        f"encoder.layer.{i}.ffn_outliers.{p}" for i in range(layers) for p in ("up", "down")
    ]
    assert ops.count("LayerNormalization") == 2 * layers and "SkipLayerNormalization" not in ops
    assert ops.count("FastGelu") == 2 * layers and "BiasGelu" not in ops  # FFN and its side path
    settings = loaded.manifest["quantization"]
    assert settings["smooth"] == ["attention", "ffn_up"] and settings["fp32_outlier_channels"] == 2
    assert settings["gelu"] == "tanh"
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


def test_quantizing_leaves_the_users_logging_alone(small_fp32: ModelDirectory, tmp_path: Path) -> None:
    """No advice about ONNX Runtime's pre-processing (the graph is already fused), no root handler."""
    import subprocess
    import sys

    script = (
        "import logging, sys\n"
        "from sparkbert.model.directory import ModelDirectory\n"
        "from sparkbert.model.quantize import quantize_int8\n"
        "quantize_int8(ModelDirectory.load(sys.argv[1]), sys.argv[2])\n"
        "print(len(logging.getLogger().handlers))\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", script, str(small_fp32.path), str(tmp_path / "int8")],
        capture_output=True,
        text=True,
        check=True,
    )
    assert run.stdout.strip() == "0", run.stdout  # logging.info did not call basicConfig
    assert "pre-processing" not in run.stderr and "WARNING" not in run.stderr, run.stderr
    model = onnx.load(str(tmp_path / "int8" / "model.onnx"), load_external_data=False)
    props = {p.key: p.value for p in model.metadata_props}
    assert props["precision"] == "int8" and "onnx.quant.pre_process" not in props


def test_existing_output_is_reused_or_refused(small_fp32: ModelDirectory, tmp_path: Path) -> None:
    int8 = quantize_int8(small_fp32, tmp_path / "int8")
    stamp = int8.onnx_path.stat().st_mtime_ns
    again = quantize_int8(small_fp32, tmp_path / "int8")
    assert again.identity == int8.identity and again.onnx_path.stat().st_mtime_ns == stamp
    with pytest.raises(InvalidParamError, match="already holds another int8 recipe"):
        quantize_int8(small_fp32, tmp_path / "int8", reduce_range=False)
    other = convert_checkpoint(make_numpy_checkpoint(tmp_path / "other-ckpt", seed=9), tmp_path / "other")
    with pytest.raises(InvalidParamError, match=r"already holds another model \(int8"):
        quantize_int8(other, tmp_path / "int8")  # not silently the int8 copy of another model
    with pytest.raises(InvalidParamError, match=r"already holds another model \(fp32"):
        quantize_int8(small_fp32, other.path)
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "mine.txt").write_text("mine")
    with pytest.raises(InvalidParamError, match="not a sparkbert model directory"):
        quantize_int8(small_fp32, tmp_path / "notes")
    assert ModelDirectory.load(other.path).identity == other.identity  # nothing overwritten


def test_refuses_a_non_fp32_source(minilm_int8: ModelDirectory, tmp_path: Path) -> None:
    with pytest.raises(InvalidParamError, match="fp32"):
        quantize_int8(minilm_int8, tmp_path / "again")
