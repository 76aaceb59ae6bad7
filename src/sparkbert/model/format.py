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
from typing import TYPE_CHECKING, Any, Literal

from sparkbert._paths import check_file_name, inside, temp_sibling
from sparkbert.errors import ModelIntegrityError, UnsafeModelError

if TYPE_CHECKING:
    from sparkbert.model.directory import ModelDirectory

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


#: The version of the graph ``onnx_graph.build_bert_graph`` writes for each precision, recorded
#: as the manifest's ``graph_version`` (manifests written before it have none: version 1). Bump
#: one whenever what is written for that precision changes, so that caches convert again what an
#: older sparkbert wrote. fp32 2 (2026-12-01): ``Sum`` + ``LayerNormalization`` where 1 had
#: ``SkipLayerNormalization``. Kept here, with ``outdated``, so that loading a model never
#: imports the graph builder (and the ``onnx`` package).
GRAPH_VERSIONS = {"fp32": 2, "fp16": 1}


def graph_precision(precision: str) -> Literal["fp32", "fp16"]:
    """The graph a precision is built from: fp16 has its own, int8 is quantized from fp32."""
    return "fp16" if precision == "fp16" else "fp32"


def graph_version(manifest: Mapping[str, Any]) -> Any:
    """The manifest's ``graph_version``; 1 for a manifest written before there were any.

    Examples
    --------
    >>> graph_version({"precision": "fp32"}), graph_version({"graph_version": 2})
    (1, 2)
    """
    return manifest.get("graph_version", 1)


def outdated(directory: ModelDirectory) -> str | None:
    """Say how ``directory`` differs from what this sparkbert makes of the same source, or None.

    Each precision's graph has a version (``GRAPH_VERSIONS``; manifests written before it have
    none, which is version 1), and an int8 directory records its recipe (``quantization``),
    which must be today's default. Such a directory still computes what it did; the cache and
    ``convert_checkpoint`` make it again, a directory passed by path is used as is.

    Examples
    --------
    An fp32 directory from before the graph versions, as a manifest says:

    >>> from types import SimpleNamespace
    >>> outdated(SimpleNamespace(precision="fp32", manifest={"precision": "fp32"}))
    'graph version 1; this sparkbert writes version 2'
    """
    graph = graph_precision(directory.precision)
    recorded = graph_version(directory.manifest)
    if recorded != GRAPH_VERSIONS[graph]:
        return f"graph version {recorded}; this sparkbert writes version {GRAPH_VERSIONS[graph]}"
    if directory.precision == "int8":
        from sparkbert.model.quantize import Int8Recipe, recipe_settings

        made = {k: v for k, v in directory.manifest.get("quantization", {}).items() if k != "from_identity"}
        today = recipe_settings(Int8Recipe())
        changed = sorted(k for k in {*made, *today} if made.get(k) != today.get(k))
        if changed:
            return f"int8 recipe differs from today's default in {', '.join(changed)}"
    return None


#: Where an ONNX model's tensors can sit: for each protobuf message of onnx.proto that can hold
#: one, its fields that are messages on the way to a ``TensorProto`` (number -> message). The
#: tests check every entry against ``onnx``'s own descriptors.
ONNX_TENSOR_PATHS: dict[str, dict[int, str]] = {
    "ModelProto": {7: "GraphProto", 20: "TrainingInfoProto", 25: "FunctionProto"},
    "TrainingInfoProto": {1: "GraphProto", 2: "GraphProto"},
    "FunctionProto": {7: "NodeProto", 11: "AttributeProto"},
    "GraphProto": {1: "NodeProto", 5: "TensorProto", 15: "SparseTensorProto"},
    "NodeProto": {5: "AttributeProto"},
    "AttributeProto": {
        5: "TensorProto",
        6: "GraphProto",
        10: "TensorProto",
        11: "GraphProto",
        22: "SparseTensorProto",
        23: "SparseTensorProto",
    },
    "SparseTensorProto": {1: "TensorProto", 2: "TensorProto"},
}
#: ``TensorProto.name``, ``TensorProto.external_data`` and ``StringStringEntryProto.key``/``value``.
_TENSOR_NAME, _EXTERNAL_DATA, _KEY, _VALUE = 8, 13, 1, 2


def external_data_locations(onnx_path: Path) -> list[tuple[str, str]]:
    """Return ``(tensor name, location)`` for every external-data location anywhere in the graph file.

    Reads the protobuf wire format directly (tensor data skipped over), so that loading a model
    needs ONNX Runtime but not the ``onnx`` package (over a second to import, measured).
    Every ``location`` entry of every tensor counts, whatever its ``data_location``, in graphs,
    subgraphs, functions, training graphs and sparse tensors: more than a runtime reads, never less.

    Raises
    ------
    ModelIntegrityError
        The file is not a well-formed protobuf message.

    Examples
    --------
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "model.onnx"
    >>> # a graph with one initializer "x" whose data is in file "d", as onnx serializes it
    >>> _ = path.write_bytes(bytes.fromhex("3a162a144201786a0d0a086c6f636174696f6e1201647001"))
    >>> external_data_locations(path)
    [('x', 'd')]
    """
    return _scan(memoryview(onnx_path.read_bytes()), onnx_path)


def _fields(data: memoryview, start: int, end: int, where: Path) -> Iterator[tuple[int, int, int]]:
    """Yield ``(field number, start, end)`` of each length-delimited field of one message; skip the rest."""
    pos = start
    while pos < end:
        key, pos = _varint(data, pos, end, where)
        number, wire = key >> 3, key & 7
        if wire == 0:
            _, pos = _varint(data, pos, end, where)
            continue
        if wire == 2:
            size, pos = _varint(data, pos, end, where)
            begin, pos = pos, pos + size
        elif wire in (1, 5):
            begin, pos = pos, pos + (8 if wire == 1 else 4)
        else:  # groups (3, 4) are not in onnx.proto; 6 and 7 do not exist
            raise ModelIntegrityError(f"{where} is not a valid ONNX file (wire type {wire} at byte {pos})")
        if pos > end:
            raise ModelIntegrityError(f"{where} is not a valid ONNX file (truncated at byte {begin})")
        if wire == 2:
            yield number, begin, pos


def _varint(data: memoryview, pos: int, end: int, where: Path) -> tuple[int, int]:
    """Decode the base-128 varint at ``pos``; return it and the position after it."""
    value = shift = 0
    while pos < end and shift < 64:
        byte = data[pos]
        value |= (byte & 0x7F) << shift
        pos += 1
        if byte < 0x80:
            return value, pos
        shift += 7
    raise ModelIntegrityError(f"{where} is not a valid ONNX file (bad varint before byte {pos})")


def _scan(data: memoryview, where: Path) -> list[tuple[str, str]]:
    """Walk ``ONNX_TENSOR_PATHS`` from the ``ModelProto``, depth first in file order, without recursion (any nesting)."""
    found: list[tuple[str, str]] = []
    stack = [("ModelProto", 0, len(data))]
    while stack:
        message, start, end = stack.pop()
        if message == "TensorProto":
            name, locations = "", []
            for number, begin, stop in _fields(data, start, end, where):
                if number == _TENSOR_NAME:
                    name = _text(data[begin:stop], where)
                elif number == _EXTERNAL_DATA:
                    entry = {n: bytes(data[b:e]) for n, b, e in _fields(data, begin, stop, where)}
                    if _text(entry.get(_KEY, b""), where) == "location":
                        locations.append(_text(entry.get(_VALUE, b""), where))
            found += [(name, location) for location in locations]
            continue
        children = ONNX_TENSOR_PATHS[message]
        inside = [(children[n], b, e) for n, b, e in _fields(data, start, end, where) if n in children]
        stack += reversed(inside)  # in file order
    return found


def _text(raw: memoryview | bytes, where: Path) -> str:
    """``raw`` decoded as UTF-8 (protobuf strings are)."""
    try:
        return bytes(raw).decode("utf-8")
    except UnicodeDecodeError:
        raise ModelIntegrityError(f"{where} is not a valid ONNX file (a name is not UTF-8)") from None


def check_external_data(onnx_path: Path, files: Mapping[str, Any]) -> None:
    """Refuse external-data locations in the graph that are not files listed in the manifest."""
    for tensor, location in external_data_locations(onnx_path):
        check_file_name(location, where=f"{onnx_path} (tensor {tensor!r})")
        if location not in files:
            raise UnsafeModelError(f"{onnx_path}: tensor {tensor!r} reads {location!r}, not a listed file")
