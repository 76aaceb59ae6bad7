"""Small random-weight BERT checkpoints with their reference model, and helpers to run a conversion.

:func:`make_random_checkpoint` builds a seeded ``transformers.BertModel`` whose weights are
far from their initial values (so a wrong transpose, a swapped LayerNorm or a missed bias
shows), writes it in one of the two key layouts found in real checkpoints, and returns the
in-memory model as the reference to compare a conversion against:

=========  ======================================================================
layout     keys
=========  ======================================================================
``"hf"``   ``save_pretrained``: ``embeddings.LayerNorm.weight``, ``pooler.*``
``"bert"`` Google / mBERT: ``bert.embeddings.LayerNorm.gamma``, plus a
           ``cls.predictions.bias`` head and a ``bert.embeddings.position_ids`` buffer
           (both must be ignored by the converter)
=========  ======================================================================

:func:`make_distilbert_checkpoint` does the same for DistilBERT. Needs torch and
transformers (the ``test`` extra).

Examples
--------
>>> import tempfile
>>> folder, model = make_random_checkpoint(Path(tempfile.mkdtemp()) / "ckpt", num_hidden_layers=1)
>>> sorted(p.name for p in folder.iterdir())[:3]
['config.json', 'model.safetensors', 'special_tokens_map.json']
>>> model.config.vocab_size
119547
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

if TYPE_CHECKING:
    import torch
    import transformers

#: The mBERT tokenizer files in the repository's test data.
MBERT_TOKENIZER_DIR = Path(__file__).resolve().parents[1] / "data" / "mbert"
UD_DIR = Path(__file__).resolve().parents[1] / "data" / "ud_pud"
TOKENIZER_FILES = ("tokenizer.json", "vocab.txt", "tokenizer_config.json", "special_tokens_map.json")


def _vocab_size(tokenizer_dir: Path) -> int:
    with open(tokenizer_dir / "vocab.txt", encoding="utf-8") as f:
        return sum(1 for _ in f)


def perturb(model: torch.nn.Module, seed: int, *, keep: str | None = None) -> torch.Generator:
    """Set every parameter (but those whose name holds ``keep``) far from its initial value.

    Noise of 0.2 around 0 (around 1 for LayerNorm gammas), so a wrong transpose, a swapped
    LayerNorm or a missed bias shows; returns the generator for further draws.
    """
    import torch

    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if keep is not None and keep in name:
                continue
            noise = torch.randn(param.shape, generator=generator) * 0.2
            param.copy_(1.0 + noise if name.lower().endswith("norm.weight") else noise)
    return generator


def copy_tokenizer(tokenizer_dir: Path, out_dir: Path, names: tuple[str, ...] = TOKENIZER_FILES) -> None:
    """Copy those of ``names`` that ``tokenizer_dir`` has into ``out_dir``."""
    for name in names:
        if (tokenizer_dir / name).is_file():
            shutil.copyfile(tokenizer_dir / name, out_dir / name)


def make_random_checkpoint(
    out_dir: Path,
    *,
    layout: Literal["hf", "bert"] = "hf",
    seed: int = 0,
    num_hidden_layers: int = 2,
    hidden_size: int = 32,
    num_attention_heads: int = 4,
    intermediate_size: int = 64,
    max_position_embeddings: int = 512,
    type_vocab_size: int = 2,
    hidden_act: str = "gelu",
    tokenizer_dir: Path = MBERT_TOKENIZER_DIR,
) -> tuple[Path, transformers.BertModel]:
    """Write a random-weight BERT checkpoint to ``out_dir``; return it and the reference model.

    Parameters
    ----------
    out_dir : Path
        Created if missing.
    layout : {"hf", "bert"}
        Key layout of ``model.safetensors`` (see the module docstring).
    seed : int
        Seeds torch; the same arguments give the same weights.
    num_hidden_layers, hidden_size, num_attention_heads, intermediate_size, max_position_embeddings, type_vocab_size : int
        The ``BertConfig`` shape; ``vocab_size`` is the tokenizer's (119,547 for mBERT).
    hidden_act : str
        The FFN activation, by its Hugging Face name.
    tokenizer_dir : Path
        Where ``tokenizer.json``, ``vocab.txt``, ``tokenizer_config.json`` and
        ``special_tokens_map.json`` are copied from (those present).

    Returns
    -------
    (Path, transformers.BertModel)
        The folder and the model in eval mode.
    """
    import torch
    from safetensors.torch import save_file
    from transformers import BertConfig, BertModel

    if layout not in ("hf", "bert"):
        raise ValueError(f"layout must be 'hf' or 'bert', got {layout!r}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    config = BertConfig(
        vocab_size=_vocab_size(tokenizer_dir),
        hidden_size=hidden_size,
        num_hidden_layers=num_hidden_layers,
        num_attention_heads=num_attention_heads,
        intermediate_size=intermediate_size,
        max_position_embeddings=max_position_embeddings,
        type_vocab_size=type_vocab_size,
        hidden_act=hidden_act,
        layer_norm_eps=1e-12,
    )
    torch.manual_seed(seed)
    model = BertModel(config).eval()
    generator = perturb(model, seed)
    if layout == "hf":
        model.save_pretrained(out_dir)
    else:
        tensors = {}
        for name, tensor in model.state_dict().items():
            if name.startswith("pooler.") or name.endswith("position_ids"):
                continue
            key = "bert." + name.replace("LayerNorm.weight", "LayerNorm.gamma").replace(
                "LayerNorm.bias", "LayerNorm.beta"
            )
            tensors[key] = tensor.detach().clone().contiguous()
        tensors["bert.embeddings.position_ids"] = torch.arange(max_position_embeddings).unsqueeze(0)
        tensors["cls.predictions.bias"] = torch.randn(config.vocab_size, generator=generator)
        save_file(tensors, str(out_dir / "model.safetensors"), metadata={"format": "pt"})
        config_dict = config.to_dict()
        config_dict["architectures"] = ["BertForPreTraining"]
        (out_dir / "config.json").write_text(json.dumps(config_dict, indent=2, sort_keys=True) + "\n")
    copy_tokenizer(tokenizer_dir, out_dir)
    return out_dir, model


def make_distilbert_checkpoint(
    out_dir: Path,
    *,
    head: Literal["model", "masked_lm"] = "model",
    seed: int = 0,
    n_layers: int = 2,
    dim: int = 32,
    n_heads: int = 4,
    hidden_dim: int = 64,
    max_position_embeddings: int = 512,
    sinusoidal_pos_embds: bool = False,
    activation: str = "gelu",
    tokenizer_dir: Path = MBERT_TOKENIZER_DIR,
) -> tuple[Path, transformers.DistilBertModel]:
    """Write a random-weight DistilBERT checkpoint (``save_pretrained``); return it and its encoder.

    ``head="model"`` saves a ``DistilBertModel`` (keys ``transformer.layer.N...``),
    ``"masked_lm"`` a ``DistilBertForMaskedLM`` as distilbert-base-multilingual-cased is
    published (``distilbert.`` prefix, ``vocab_*`` head to ignore). With
    ``sinusoidal_pos_embds`` the position table keeps its fixed sinusoids (not randomised).
    The mBERT tokenizer files are copied as for :func:`make_random_checkpoint`.

    Examples
    --------
    >>> import tempfile
    >>> folder, model = make_distilbert_checkpoint(Path(tempfile.mkdtemp()) / "ckpt", n_layers=1)
    >>> json.loads((folder / "config.json").read_text())["model_type"], type(model).__name__
    ('distilbert', 'DistilBertModel')
    """
    import torch
    from transformers import DistilBertConfig, DistilBertForMaskedLM, DistilBertModel

    config = DistilBertConfig(
        vocab_size=_vocab_size(tokenizer_dir),
        dim=dim,
        n_layers=n_layers,
        n_heads=n_heads,
        hidden_dim=hidden_dim,
        max_position_embeddings=max_position_embeddings,
        sinusoidal_pos_embds=sinusoidal_pos_embds,
        activation=activation,
    )
    torch.manual_seed(seed)
    model = (DistilBertModel if head == "model" else DistilBertForMaskedLM)(config).eval()
    perturb(model, seed, keep="position_embeddings" if sinusoidal_pos_embds else None)
    out_dir = Path(out_dir)
    model.save_pretrained(out_dir)
    copy_tokenizer(tokenizer_dir, out_dir)
    return out_dir, model if head == "model" else model.distilbert


def make_numpy_checkpoint(
    out_dir: Path,
    *,
    layout: Literal["hf", "bert"] = "hf",
    seed: int = 0,
    num_hidden_layers: int = 2,
    hidden_size: int = 32,
    num_attention_heads: int = 4,
    intermediate_size: int = 64,
    max_position_embeddings: int = 512,
    type_vocab_size: int = 2,
    hidden_act: str = "gelu",
    tokenizer_dir: Path = MBERT_TOKENIZER_DIR,
    tokenizer_files: tuple[str, ...] = TOKENIZER_FILES,
) -> Path:
    """Write a random-weight BERT checkpoint with numpy only (no torch, no reference model).

    Same shapes, layouts and tokenizer files as :func:`make_random_checkpoint`, for tests
    that check structure rather than numbers.

    Examples
    --------
    >>> import tempfile
    >>> folder = make_numpy_checkpoint(Path(tempfile.mkdtemp()) / "ckpt", layout="bert", num_hidden_layers=1)
    >>> json.loads((folder / "config.json").read_text())["num_hidden_layers"]
    1
    """
    from safetensors.numpy import save_file

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    h, inter = hidden_size, intermediate_size
    vocab = _vocab_size(tokenizer_dir)
    shapes: dict[str, tuple[int, ...]] = {
        "embeddings.word_embeddings.weight": (vocab, h),
        "embeddings.position_embeddings.weight": (max_position_embeddings, h),
        "embeddings.token_type_embeddings.weight": (type_vocab_size, h),
        "embeddings.LayerNorm.weight": (h,),
        "embeddings.LayerNorm.bias": (h,),
    }
    for i in range(num_hidden_layers):
        p = f"encoder.layer.{i}."
        for name in (
            "attention.self.query",
            "attention.self.key",
            "attention.self.value",
            "attention.output.dense",
        ):
            shapes[f"{p}{name}.weight"], shapes[f"{p}{name}.bias"] = (h, h), (h,)
        shapes[f"{p}intermediate.dense.weight"], shapes[f"{p}intermediate.dense.bias"] = (inter, h), (inter,)
        shapes[f"{p}output.dense.weight"], shapes[f"{p}output.dense.bias"] = (h, inter), (h,)
        for name in ("attention.output.LayerNorm", "output.LayerNorm"):
            shapes[f"{p}{name}.weight"], shapes[f"{p}{name}.bias"] = (h,), (h,)
    tensors = {}
    for name, shape in shapes.items():
        noise = rng.standard_normal(shape).astype(np.float32) * 0.2
        value = 1.0 + noise if "LayerNorm.weight" in name else noise
        if layout == "bert":
            name = "bert." + name.replace("LayerNorm.weight", "LayerNorm.gamma").replace(
                "LayerNorm.bias", "LayerNorm.beta"
            )
        tensors[name] = value
    if layout == "bert":
        tensors["bert.embeddings.position_ids"] = np.arange(max_position_embeddings, dtype=np.int64)[None]
        tensors["cls.predictions.bias"] = rng.standard_normal(vocab).astype(np.float32)
    else:
        tensors["pooler.dense.weight"] = rng.standard_normal((h, h)).astype(np.float32)
    save_file(tensors, str(out_dir / "model.safetensors"), metadata={"format": "pt"})
    config = {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "vocab_size": vocab,
        "hidden_size": h,
        "num_hidden_layers": num_hidden_layers,
        "num_attention_heads": num_attention_heads,
        "intermediate_size": inter,
        "max_position_embeddings": max_position_embeddings,
        "type_vocab_size": type_vocab_size,
        "hidden_act": hidden_act,
        "layer_norm_eps": 1e-12,
        "pad_token_id": 0,
    }
    (out_dir / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    copy_tokenizer(tokenizer_dir, out_dir, tokenizer_files)
    return out_dir


def as_older_sparkbert_wrote_it(directory: Path, quantization: dict[str, Any] | None = None) -> None:
    """Rewrite a model directory's manifest as an older sparkbert wrote it.

    No ``graph_version`` (written before there were any), or, with ``quantization``, those
    entries of another int8 recipe. Only ``manifest.json`` changes; it lists no checksum of itself.
    """
    path = Path(directory) / "manifest.json"
    manifest = json.loads(path.read_text())
    if quantization is None:
        del manifest["graph_version"]
    else:
        manifest["quantization"] = {**manifest["quantization"], **quantization}
    path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")


def ort_session(path: Path, *, threads: int = 2, optimized: Path | None = None) -> Any:
    """An ONNX Runtime CPU session with quiet logs."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.log_severity_level = 3
    if optimized is not None:
        options.optimized_model_filepath = str(optimized)
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def ud_sentences(per_language: int) -> list[str]:
    """The first ``per_language`` UD sentences of each language in the test data."""
    texts = []
    for path in sorted(UD_DIR.glob("*.first400.jsonl")):
        with open(path, encoding="utf-8") as f:
            texts += [json.loads(line)["text"] for _, line in zip(range(per_language), f)]
    return texts


def encode_batches(
    tokenizer_path: Path, texts: list[str], batch_size: int = 32
) -> list[dict[str, np.ndarray]]:
    """Length-sorted, right-padded batches of model inputs."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(tokenizer_path))
    tokenizer.no_padding()
    tokenizer.no_truncation()
    encodings = sorted(tokenizer.encode_batch(texts), key=lambda e: len(e.ids))
    batches = []
    for start in range(0, len(encodings), batch_size):
        chunk = encodings[start : start + batch_size]
        length = min(max(len(e.ids) for e in chunk), 512)
        ids = np.zeros((len(chunk), length), np.int64)
        mask = np.zeros_like(ids)
        for row, e in enumerate(chunk):
            n = min(len(e.ids), length)
            ids[row, :n] = e.ids[:n]
            mask[row, :n] = 1
        batches.append({"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)})
    return batches
