"""The model directory format, in one place: file names, ONNX names, manifest schema, safe paths.

Everything else asks ``ModelDirectory`` (the only reader of a
model directory) or imports these names; no other module spells a file name of the format.

A model directory holds exactly these files, each listed with its sha256 and size in
``manifest.json`` (the manifest itself excepted):

| file | what |
| --- | --- |
| ``model.onnx`` | the graph; every weight is ONNX external data in the file below |
| ``model.onnx.data`` | all weights in one file, large tensors 64 KiB aligned (mmap-able) |
| ``tokenizer.json`` | a ``tokenizers`` tokenizer (copied byte-identical, or built) |
| ``config.json`` | the Hugging Face config it was converted from |
| ``manifest.json`` | format tag and version, shapes, precision, casing, checksums |

The graph's inputs are ``INPUT_NAMES`` (int64 ``[batch, sequence]``; ``token_type_ids``
optional) and its output ``OUTPUT_NAME`` (float32 ``[batch, sequence, hidden]``).

Safe file names and temporary siblings are in ``sparkbert._paths``.

Examples
--------
>>> check_manifest({"format": FORMAT_TAG}, "manifest.json")
Traceback (most recent call last):
...
sparkbert.errors.ModelIntegrityError: manifest.json has format_version None; this sparkbert reads version 1 (upgrade sparkbert or convert the model again)
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from sparkbert._paths import check_file_name, inside, temp_sibling
from sparkbert.errors import ModelIntegrityError, UnsafeModelError

__all__ = ["check_file_name", "inside", "temp_sibling"]  # re-exported: the format's safe names

MANIFEST_NAME = "manifest.json"
FORMAT_TAG = "sparkbert-model"
FORMAT_VERSION = 1
ONNX_NAME = "model.onnx"
ONNX_DATA_NAME = "model.onnx.data"
TOKENIZER_NAME = "tokenizer.json"
CONFIG_NAME = "config.json"
PRECISIONS = ("fp32", "int8", "fp16")
#: Files every model directory must list in its manifest.
REQUIRED_FILES = (ONNX_NAME, ONNX_DATA_NAME, TOKENIZER_NAME, CONFIG_NAME)
#: Manifest fields that are positive integers.
INT_FIELDS = (
    "hidden_size",
    "num_hidden_layers",
    "num_attention_heads",
    "max_position_embeddings",
    "vocab_size",
    "type_vocab_size",
)
#: Graph inputs, in order; the last is optional.
INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")
#: The graph output every model directory has.
OUTPUT_NAME = "last_hidden_state"
#: Name of hidden state ``i`` inside the graph (0: the embedding output, ``i``: after layer ``i``);
#: not a graph output, the runtime exports the ones asked for. In an fp32 graph the last is OUTPUT_NAME.
HIDDEN_STATE_NAME = "hidden_states.{}"


def check_manifest(manifest: object, where: Path | str) -> None:
    """Raise ModelIntegrityError naming the field when ``manifest`` does not follow the schema."""
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_TAG:
        raise ModelIntegrityError(f"{where} is not a sparkbert manifest (no 'format': {FORMAT_TAG!r})")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise ModelIntegrityError(
            f"{where} has format_version {manifest.get('format_version')!r}; this sparkbert reads "
            f"version {FORMAT_VERSION} (upgrade sparkbert or convert the model again)"
        )
    for field in INT_FIELDS:
        value = manifest.get(field)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ModelIntegrityError(f"{where}: {field!r} must be a positive integer, got {value!r}")
    if not isinstance(manifest.get("cased"), bool):
        raise ModelIntegrityError(f"{where}: 'cased' must be true or false")
    if not isinstance(manifest.get("source"), str) or not isinstance(
        manifest.get("revision"), (str, type(None))
    ):
        raise ModelIntegrityError(f"{where}: 'source' must be a string and 'revision' a string or null")
    if not isinstance(manifest.get("source_files"), dict):
        raise ModelIntegrityError(f"{where}: 'source_files' must map file names to sha256 and size")
    if manifest.get("precision") not in PRECISIONS:
        raise ModelIntegrityError(f"{where}: 'precision' must be one of {PRECISIONS}")
    files: Any = manifest.get("files")
    if not isinstance(files, dict):
        raise ModelIntegrityError(f"{where}: 'files' must map file names to sha256 and size")
    for name in REQUIRED_FILES:
        if name not in files:
            raise ModelIntegrityError(f"{where} does not list {name!r}, which every model directory needs")


def check_external_data(onnx_path: Path, files: Mapping[str, Any]) -> None:
    """Refuse external-data locations in the graph that are not files listed in the manifest."""
    import onnx

    model = onnx.load(str(onnx_path), load_external_data=False)
    for tensor in _all_tensors(model.graph):
        if tensor.data_location != onnx.TensorProto.EXTERNAL:
            continue
        location = next((e.value for e in tensor.external_data if e.key == "location"), "")
        check_file_name(location, where=f"{onnx_path} (tensor {tensor.name!r})")
        if location not in files:
            raise UnsafeModelError(
                f"{onnx_path}: tensor {tensor.name!r} reads {location!r}, not a listed file"
            )


def _all_tensors(graph: Any) -> Iterator[Any]:
    yield from graph.initializer
    for node in graph.node:
        for attr in node.attribute:
            if attr.HasField("t"):
                yield attr.t
            yield from attr.tensors
            if attr.HasField("g"):
                yield from _all_tensors(attr.g)
            for sub in attr.graphs:
                yield from _all_tensors(sub)
