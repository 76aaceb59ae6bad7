"""The model directory: what the runtime loads, checked before it is trusted.

A model directory holds exactly these files, each listed with its sha256 and size in
``manifest.json`` (the manifest itself excepted):

====================  ===========================================================
file                  what
====================  ===========================================================
``model.onnx``        the graph; every weight is ONNX external data in the file below
``model.onnx.data``   all weights in one file, large tensors 64 KiB aligned (mmap-able)
``tokenizer.json``    a ``tokenizers`` tokenizer (copied byte-identical, or built)
``config.json``       the Hugging Face config it was converted from
``manifest.json``     format tag and version, shapes, precision, casing, checksums
====================  ===========================================================

Directories are written atomically (:func:`write_model_directory`): into a hidden sibling
folder, fsynced, then renamed into place; a process that loses the race uses the winner's.

Examples
--------
>>> import tempfile
>>> root = Path(tempfile.mkdtemp())
>>> is_model_directory(root), is_checkpoint(root)
(False, False)
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import shutil
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sparkbert._version import __version__
from sparkbert.errors import ModelIntegrityError, ModelNotFoundError, UnsafeModelError

logger = logging.getLogger(__name__)

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
_INT_FIELDS = (
    "hidden_size",
    "num_hidden_layers",
    "num_attention_heads",
    "max_position_embeddings",
    "vocab_size",
    "type_vocab_size",
)
_CHUNK = 1 << 20


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Return the hex sha256 of a file, read in 1 MiB chunks.

    Examples
    --------
    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "x"
    >>> _ = p.write_bytes(b"abc")
    >>> sha256_file(p)[:16]
    'ba7816bf8f01cfea'
    """
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def file_entry(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Return the manifest entry ``{"sha256": ..., "size": ...}`` of a file.

    Examples
    --------
    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "x"
    >>> _ = p.write_bytes(b"abc")
    >>> file_entry(p)["size"]
    3
    """
    return {"sha256": sha256_file(path), "size": os.path.getsize(path)}


def is_model_directory(path: str | os.PathLike[str]) -> bool:
    """Return True when ``path`` holds a ``manifest.json`` with the sparkbert format tag.

    Only the tag is read; :meth:`ModelDirectory.load` does the checking.

    Examples
    --------
    >>> is_model_directory("/nonexistent")
    False
    """
    try:
        manifest = json.loads((Path(path) / MANIFEST_NAME).read_bytes())
    except (OSError, ValueError):
        return False
    return isinstance(manifest, dict) and manifest.get("format") == FORMAT_TAG


def is_checkpoint(path: str | os.PathLike[str]) -> bool:
    """Return True when ``path`` is a Hugging Face checkpoint with safetensors weights.

    That is ``config.json`` plus ``model.safetensors`` or a sharded
    ``model.safetensors.index.json``.

    Examples
    --------
    >>> is_checkpoint("/nonexistent")
    False
    """
    root = Path(path)
    return (root / "config.json").is_file() and (
        (root / "model.safetensors").is_file() or (root / "model.safetensors.index.json").is_file()
    )


def check_file_name(name: object, *, where: str) -> str:
    """Return ``name`` if it is a plain file name inside a folder, else raise.

    Raises
    ------
    UnsafeModelError
        If ``name`` is empty, absolute, ``.``/``..``, or contains a path separator.

    Examples
    --------
    >>> check_file_name("model.onnx", where="manifest.json")
    'model.onnx'
    >>> check_file_name("../x", where="manifest.json")
    Traceback (most recent call last):
    ...
    sparkbert.errors.UnsafeModelError: manifest.json names '../x', which is not a plain file name ...
    """
    separators = {"/", "\\", os.sep, os.altsep or "/"}
    if (
        not isinstance(name, str)
        or name in {"", ".", ".."}
        or ".." in name
        or any(s in name for s in separators)
        or "\x00" in name
        or os.path.isabs(name)
    ):
        raise UnsafeModelError(
            f"{where} names {name!r}, which is not a plain file name inside the folder "
            "(absolute paths, '..' and path separators are refused)"
        )
    return name


def _inside(root: Path, name: str, *, where: str) -> Path:
    """Return ``root / name``, refusing a symlink that resolves outside ``root``."""
    path = root / check_file_name(name, where=where)
    if path.is_symlink():
        target = Path(os.path.realpath(path))
        if not target.is_relative_to(Path(os.path.realpath(root))):
            raise UnsafeModelError(f"{path} is a symlink to {target}, outside the model directory")
    return path


@dataclass(frozen=True)
class ModelDirectory:
    """A checked model directory: its path and manifest.

    Parameters
    ----------
    path : Path
        The folder (as given, not resolved).
    manifest : Mapping[str, Any]
        The parsed ``manifest.json``.
    identity : str
        sha256 of the manifest bytes: a stable key for caches (same files, same key).

    Examples
    --------
    >>> import tempfile
    >>> try:
    ...     ModelDirectory.load(tempfile.mkdtemp())
    ... except FileNotFoundError as e:
    ...     "manifest.json" in str(e)
    True
    """

    path: Path
    manifest: Mapping[str, Any]
    identity: str

    @classmethod
    def load(cls, path: str | os.PathLike[str], *, verify: bool = True) -> ModelDirectory:
        """Read and check a model directory.

        Parameters
        ----------
        path : str or os.PathLike
            The folder.
        verify : bool, default True
            Also check every file's sha256 (sizes are always checked).

        Raises
        ------
        ModelNotFoundError
            No such folder, or no ``manifest.json`` in it.
        ModelIntegrityError
            The manifest is malformed, or a listed file is missing, of the wrong size or
            (``verify``) fails its sha256; the message names the file.
        UnsafeModelError
            A file name leaves the folder (absolute, ``..``, separators, outside symlink),
            also for the external-data locations inside ``model.onnx``.

        Examples
        --------
        >>> ModelDirectory.load("/nonexistent")
        Traceback (most recent call last):
        ...
        sparkbert.errors.ModelNotFoundError: No model directory at /nonexistent
        """
        root = Path(path)
        if not root.is_dir():
            raise ModelNotFoundError(f"No model directory at {root}")
        manifest_path = _inside(root, MANIFEST_NAME, where=str(root))
        try:
            raw = manifest_path.read_bytes()
        except FileNotFoundError:
            raise ModelNotFoundError(
                f"{root} is not a sparkbert model directory: no {MANIFEST_NAME}"
            ) from None
        try:
            manifest = json.loads(raw)
        except ValueError as e:
            raise ModelIntegrityError(f"{manifest_path} is not valid JSON: {e}") from None
        _check_manifest(manifest, manifest_path)
        for name, entry in manifest["files"].items():
            _check_file(root, name, entry, verify=verify, where=str(manifest_path))
        _check_external_data(root / ONNX_NAME, manifest["files"])
        return cls(path=root, manifest=manifest, identity=hashlib.sha256(raw).hexdigest())

    @property
    def onnx_path(self) -> Path:
        """Path of ``model.onnx`` (its weights are in ``model.onnx.data`` beside it).

        Examples
        --------
        >>> ModelDirectory(Path("mbert"), {}, identity="").onnx_path.as_posix()
        'mbert/model.onnx'
        """
        return self.path / ONNX_NAME

    @property
    def tokenizer_path(self) -> Path:
        """Path of ``tokenizer.json``.

        Examples
        --------
        >>> ModelDirectory(Path("mbert"), {}, identity="").tokenizer_path.as_posix()
        'mbert/tokenizer.json'
        """
        return self.path / TOKENIZER_NAME

    @property
    def config_path(self) -> Path:
        """Path of the Hugging Face ``config.json``.

        Examples
        --------
        >>> ModelDirectory(Path("mbert"), {}, identity="").config_path.as_posix()
        'mbert/config.json'
        """
        return self.path / CONFIG_NAME

    @property
    def hidden_size(self) -> int:
        """Width of the output vectors (``hidden_size`` in the manifest).

        Examples
        --------
        >>> ModelDirectory(Path("mbert"), {"hidden_size": 768}, identity="").hidden_size
        768
        """
        return int(self.manifest["hidden_size"])

    @property
    def max_positions(self) -> int:
        """Longest input, in word pieces including ``[CLS]`` and ``[SEP]``.

        Examples
        --------
        >>> ModelDirectory(Path("mbert"), {"max_position_embeddings": 512}, identity="").max_positions
        512
        """
        return int(self.manifest["max_position_embeddings"])

    @property
    def num_hidden_layers(self) -> int:
        """Number of transformer layers.

        Examples
        --------
        >>> ModelDirectory(Path("mbert"), {"num_hidden_layers": 12}, identity="").num_hidden_layers
        12
        """
        return int(self.manifest["num_hidden_layers"])

    @property
    def cased(self) -> bool:
        """False when the tokenizer lower-cases its input.

        Examples
        --------
        >>> ModelDirectory(Path("bert-uncased"), {"cased": False}, identity="").cased
        False
        """
        return bool(self.manifest["cased"])

    @property
    def precision(self) -> str:
        """Weight precision: ``"fp32"``, ``"int8"`` or ``"fp16"``.

        Examples
        --------
        >>> ModelDirectory(Path("mbert-int8"), {"precision": "int8"}, identity="").precision
        'int8'
        """
        return str(self.manifest["precision"])


def _check_manifest(manifest: object, where: Path) -> None:
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_TAG:
        raise ModelIntegrityError(f"{where} is not a sparkbert manifest (no 'format': {FORMAT_TAG!r})")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise ModelIntegrityError(
            f"{where} has format_version {manifest.get('format_version')!r}; this sparkbert reads "
            f"version {FORMAT_VERSION} (upgrade sparkbert or convert the model again)"
        )
    for field in _INT_FIELDS:
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
    files = manifest.get("files")
    if not isinstance(files, dict):
        raise ModelIntegrityError(f"{where}: 'files' must map file names to sha256 and size")
    for name in REQUIRED_FILES:
        if name not in files:
            raise ModelIntegrityError(f"{where} does not list {name!r}, which every model directory needs")


def _check_file(root: Path, name: str, entry: object, *, verify: bool, where: str) -> None:
    path = _inside(root, name, where=where)
    if (
        not isinstance(entry, dict)
        or not isinstance(entry.get("size"), int)
        or not isinstance(entry.get("sha256"), str)
    ):
        raise ModelIntegrityError(f"{where}: the entry for {name!r} needs 'sha256' and 'size'")
    if not path.is_file():
        raise ModelIntegrityError(f"{path} is listed in {MANIFEST_NAME} but missing")
    size = path.stat().st_size
    if size != entry["size"]:
        raise ModelIntegrityError(f"{path} has {size} bytes, {MANIFEST_NAME} says {entry['size']}")
    if verify and sha256_file(path) != entry["sha256"]:
        raise ModelIntegrityError(f"{path} fails its sha256 check (corrupted or modified)")


def _check_external_data(onnx_path: Path, files: Mapping[str, Any]) -> None:
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


def _fsync_path(path: Path, *, directory: bool = False) -> None:
    if directory and os.name == "nt":
        return  # directories cannot be fsynced on Windows
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_model_directory(
    target: str | os.PathLike[str],
    populate: Callable[[Path], Mapping[str, Any]],
) -> ModelDirectory:
    """Write a model directory atomically and return it, loaded.

    ``populate(staging)`` writes the model files into an empty hidden sibling folder of
    ``target`` and returns the manifest fields (``source``, ``revision``, ``precision``,
    shapes, ``cased``, ``source_files``, ...). The format tag, ``files`` checksums and
    ``sparkbert_version`` are added here; files are fsynced and the folder is renamed to
    ``target``. If another process created ``target`` meanwhile, ours is discarded and
    theirs is loaded.

    Examples
    --------
    >>> import tempfile
    >>> def populate(staging):
    ...     raise RuntimeError("conversion failed")
    >>> out = Path(tempfile.mkdtemp()) / "m"
    >>> try:
    ...     write_model_directory(out, populate)
    ... except RuntimeError:
    ...     sorted(out.parent.iterdir())  # nothing left behind
    []
    """

    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.parent / f".{target.name}.partial-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    staging.mkdir()
    try:
        fields = dict(populate(staging))
        names = sorted(p.name for p in staging.iterdir() if p.name != MANIFEST_NAME)
        manifest = {
            "format": FORMAT_TAG,
            "format_version": FORMAT_VERSION,
            **fields,
            "files": {name: file_entry(staging / name) for name in names},
            "sparkbert_version": __version__,
        }
        _check_manifest(manifest, staging / MANIFEST_NAME)
        (staging / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        for name in [*names, MANIFEST_NAME]:
            _fsync_path(staging / name)
        _fsync_path(staging, directory=True)
        try:
            os.rename(staging, target)
        except OSError as e:
            if e.errno not in {errno.EEXIST, errno.ENOTEMPTY, errno.EISDIR} or not is_model_directory(target):
                raise
            logger.info("%s was written by another process meanwhile; using it", target)
            return ModelDirectory.load(target, verify=False)
        _fsync_path(target.parent, directory=True)
        logger.info("Wrote model directory %s", target)
        return ModelDirectory.load(target, verify=False)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


__all__ = [
    "MANIFEST_NAME",
    "ModelDirectory",
    "check_file_name",
    "file_entry",
    "is_checkpoint",
    "is_model_directory",
    "sha256_file",
    "write_model_directory",
]
