"""Convert a Hugging Face BERT checkpoint (safetensors) into a sparkbert model directory.

Only numpy, safetensors, onnx and tokenizers run here: no torch, no transformers. Weights
stream from the memory-mapped checkpoint into ``model.onnx.data`` one tensor at a time, so
converting mBERT (711 MB in fp32) holds about one embedding table in memory.

| precision | result |
| --- | --- |
| ``fp32`` | fused ONNX Runtime graph (see ``sparkbert.model.onnx_graph``) |
| ``int8`` | the fp32 graph, then dynamic int8 quantization (``quantize``) |
| ``fp16`` | the same graph in float16 (for GPUs); inputs and output keep their types |

Examples
--------
>>> convert_checkpoint("/nonexistent", "/tmp/out")
Traceback (most recent call last):
...
sparkbert.errors.ModelNotFoundError: No checkpoint folder at /nonexistent
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sparkbert._paths import temp_sibling
from sparkbert.errors import InvalidParamError, ModelIntegrityError, ModelNotFoundError
from sparkbert.model.checkpoint import CheckpointWeights, read_config
from sparkbert.model.directory import (
    CONFIG_NAME,
    ONNX_DATA_NAME,
    ONNX_NAME,
    PRECISIONS,
    TOKENIZER_NAME,
    ModelDirectory,
    another_model_error,
    check_file_name,
    existing_output,
    file_entry,
    replace_directory,
    write_model_directory,
)
from sparkbert.model.format import GRAPH_VERSIONS, graph_precision, outdated
from sparkbert.model.onnx_graph import ExternalDataWriter, build_bert_graph
from sparkbert.model.st_modules import (
    MANIFEST_FIELD,
    SENTENCE_HEAD_NAME,
    head_tensors,
    read_sentence_modules,
    sentence_files,
    sentence_info,
)
from sparkbert.model.tokenizer_files import lowercase_first, prepare_tokenizer

logger = logging.getLogger(__name__)


def convert_checkpoint(
    checkpoint: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    precision: str = "fp32",
    source: str | None = None,
    revision: str | None = None,
    source_sha256: Mapping[str, str] | None = None,
) -> ModelDirectory:
    """Convert a BERT checkpoint folder into a model directory at ``out``, atomically.

    Parameters
    ----------
    checkpoint : str or os.PathLike
        A Hugging Face folder: ``config.json``; ``model.safetensors`` or shards with
        ``model.safetensors.index.json``; ``tokenizer.json`` or ``vocab.txt`` (+
        ``tokenizer_config.json``).
    out : str or os.PathLike
        The model directory to create. If it already holds the same conversion (same
        precision and source files) it is returned as is; if an older sparkbert made it
        (``outdated``), it is converted again and replaced.
    precision : {"fp32", "int8", "fp16"}
        Weight precision.
    source, revision : str, optional
        Recorded in the manifest (repo id and commit); ``source`` defaults to the folder.
    source_sha256 : Mapping[str, str], optional
        Expected sha256 of checkpoint files (e.g. from the Hub's LFS metadata); every file
        named must exist and match.

    Returns
    -------
    ModelDirectory

    Raises
    ------
    ModelNotFoundError
        No such folder or no ``config.json``.
    UnsafeModelError
        Pickle-only weights, or file names that leave the folder.
    ModelIntegrityError
        A missing or misshapen weight (named), a sha256 mismatch, a broken tokenizer.
    InvalidParamError
        An unknown ``precision``, an unsupported config (activation, model type), or an
        ``out`` that holds something else.

    Examples
    --------
    >>> convert_checkpoint(".", "/tmp/out", precision="int4")
    Traceback (most recent call last):
    ...
    sparkbert.errors.InvalidParamError: Invalid value for param 'precision': 'int4'. Valid values: 'fp32', 'int8', 'fp16'.
    """
    if precision not in PRECISIONS:
        raise InvalidParamError.for_param("precision", precision, PRECISIONS)
    folder = Path(checkpoint)
    if not folder.is_dir():
        raise ModelNotFoundError(f"No checkpoint folder at {folder}")
    _, spec = read_config(folder)
    modules = read_sentence_modules(folder)  # refuses a pickled Dense before any work
    out = Path(out)
    existing = _existing(out, precision, folder, source_sha256)
    if existing is not None:
        reason = outdated(existing)
        if reason is None:
            return existing
        logger.info("%s is not what this sparkbert converts (%s); converting it again", out, reason)
        return replace_directory(
            out,
            lambda path: convert_checkpoint(
                folder,
                path,
                precision=precision,
                source=source,
                revision=revision,
                source_sha256=source_sha256,
            ),
        )
    if precision == "int8":
        from sparkbert.model.quantize import quantize_int8

        scratch = temp_sibling(out, "tmp")
        scratch.mkdir(parents=True)
        try:
            fp32 = convert_checkpoint(
                folder, scratch / "fp32", source=source, revision=revision, source_sha256=source_sha256
            )
            return quantize_int8(fp32, out)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    def populate(staging: Path) -> Mapping[str, Any]:
        with CheckpointWeights(folder) as weights:
            with ExternalDataWriter(staging / ONNX_DATA_NAME) as writer:
                graph = build_bert_graph(spec, weights.get, writer, precision=graph_precision(precision))
            (staging / ONNX_NAME).write_bytes(graph.SerializeToString())
            weight_names = weights.files
            pooler_names = ("pooler.dense.weight", "pooler.dense.bias")
            shapes = ((spec.hidden_size, spec.hidden_size), (spec.hidden_size,))
            has_pooler = all(weights.has(n) for n in pooler_names)
            pooler = {n: weights.get(n, s) for n, s in zip(pooler_names, shapes)} if has_pooler else {}
        tensors = head_tensors(modules, pooler)
        if tensors:
            from safetensors.numpy import save_file

            save_file(tensors, str(staging / SENTENCE_HEAD_NAME))
        cased, tokenizer_names = prepare_tokenizer(
            folder, staging / TOKENIZER_NAME, vocab_size=spec.vocab_size
        )
        if modules is not None and modules.lower_case:  # sentence-transformers' do_lower_case
            lowercase_first(staging / TOKENIZER_NAME)
            cased = False
        shutil.copyfile(folder / CONFIG_NAME, staging / CONFIG_NAME)
        listed = (p.relative_to(folder).as_posix() for p in folder.glob("*/*") if p.is_file())
        st_names = sentence_files([*(p.name for p in folder.iterdir()), *listed])
        names = sorted({CONFIG_NAME, *weight_names, *tokenizer_names, *st_names})
        return {
            "source": source if source is not None else str(folder.resolve()),
            "revision": revision,
            "precision": precision,
            "graph_version": GRAPH_VERSIONS[graph_precision(precision)],
            "hidden_size": spec.hidden_size,
            "num_hidden_layers": spec.num_hidden_layers,
            "num_attention_heads": spec.num_attention_heads,
            "intermediate_size": spec.intermediate_size,
            "model_type": spec.model_type,
            # positions the graph serves (RoBERTa's table has pad_token_id + 1 more rows)
            "max_position_embeddings": spec.max_positions,
            "vocab_size": spec.vocab_size,
            "type_vocab_size": spec.type_vocab_size,
            "layer_norm_eps": spec.layer_norm_eps,
            "cased": cased,
            MANIFEST_FIELD: sentence_info(has_pooler, modules),
            "source_files": _source_files(folder, names, source_sha256),
        }

    logger.info("Converting %s (%s, %d layers) to %s", folder, precision, spec.num_hidden_layers, out)
    return write_model_directory(out, populate)


def _parent(out: Path) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    return out.parent


def _source_files(
    folder: Path, names: list[str], expected: Mapping[str, str] | None
) -> dict[str, dict[str, Any]]:
    """Hash the checkpoint files used, checking those named in ``expected``."""
    expected = dict(expected or {})
    entries = {}
    for name in sorted({*names, *expected}):
        # plain names, or one module folder deep (sentence-transformers' 2_Dense/model.safetensors)
        path = folder.joinpath(*(check_file_name(part, where="source_sha256") for part in name.split("/", 1)))
        if not path.is_file():
            raise ModelIntegrityError(f"{path} is expected (source_sha256) but missing")
        entries[name] = file_entry(path)
        if name in expected and entries[name]["sha256"] != expected[name].lower():
            raise ModelIntegrityError(
                f"{path} has sha256 {entries[name]['sha256']}, expected {expected[name]} (corrupted download?)"
            )
    return entries


def _existing(
    out: Path, precision: str, folder: Path, expected: Mapping[str, str] | None
) -> ModelDirectory | None:
    """Return ``out`` when it already holds this conversion; refuse anything else there."""
    directory = existing_output(out)
    if directory is None:
        return None
    recorded = directory.manifest.get("source_files", {})
    same = directory.precision == precision and all(
        (folder / name).is_file() and file_entry(folder / name) == entry for name, entry in recorded.items()
    )
    if not same or any(recorded.get(n, {}).get("sha256") != s.lower() for n, s in (expected or {}).items()):
        raise another_model_error(out, directory)
    logger.info("%s already holds this conversion; reusing it", out)
    return directory


__all__ = ["convert_checkpoint"]
