"""The model directory: what the runtime loads, checked before it is trusted.

``ModelDirectory`` is the only reader of a model directory (its files, ONNX names and
manifest schema are defined in ``sparkbert.model.format``); a stage resolves one per
``transform`` and hands its workers what they need. Directories are written atomically
(``write_model_directory``): into a hidden sibling folder, fsynced, then renamed into
place; a process that loses the race uses the winner's.

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
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sparkbert._version import __version__
from sparkbert.errors import InvalidParamError, ModelIntegrityError, ModelNotFoundError
from sparkbert.model.format import (
    CONFIG_NAME,
    FORMAT_TAG,
    FORMAT_VERSION,
    MANIFEST_NAME,
    ONNX_DATA_NAME,
    ONNX_NAME,
    PRECISIONS,
    TOKENIZER_NAME,
    check_external_data,
    check_file_name,
    check_manifest,
    inside,
    temp_sibling,
)

logger = logging.getLogger(__name__)

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

    Only the tag is read; ``ModelDirectory.load`` does the checking.

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


def existing_output(out: Path) -> ModelDirectory | None:
    """The model directory already at ``out``, None when there is none (or an empty folder).

    For writers (``convert_checkpoint``, ``quantize_int8``), which then decide whether it is
    theirs to reuse; anything else at ``out`` is refused.

    Raises
    ------
    InvalidParamError
        ``out`` holds something that is not a model directory.

    Examples
    --------
    >>> existing_output(Path("/nonexistent/out")) is None
    True
    """
    if not out.exists() or (out.is_dir() and not any(out.iterdir())):
        return None  # an empty folder is replaced by the atomic rename
    if not is_model_directory(out):
        raise InvalidParamError(
            f"Output {out} exists and is not a sparkbert model directory; choose another path"
        )
    return ModelDirectory.load(out)


def another_model_error(out: Path, found: ModelDirectory, what: str = "another model") -> InvalidParamError:
    """The error of a writer whose ``out`` holds a model (``what``) it would not write."""
    return InvalidParamError(
        f"Output {out} already holds {what} ({found.precision}, from "
        f"{found.manifest.get('source')!r}); remove it or choose another path"
    )


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
    return (root / CONFIG_NAME).is_file() and (
        (root / "model.safetensors").is_file() or (root / "model.safetensors.index.json").is_file()
    )


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
        manifest_path = inside(root, MANIFEST_NAME, where=str(root))
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
        check_manifest(manifest, manifest_path)
        for name, entry in manifest["files"].items():
            _check_file(root, name, entry, verify=verify, where=str(manifest_path))
        check_external_data(root / ONNX_NAME, manifest["files"])
        return cls(path=root, manifest=manifest, identity=hashlib.sha256(raw).hexdigest())

    @property
    def onnx_path(self) -> Path:
        """Path of ``model.onnx`` (its weights are in ``model.onnx.data`` beside it)."""
        return self.path / ONNX_NAME

    @property
    def tokenizer_path(self) -> Path:
        """Path of ``tokenizer.json``."""
        return self.path / TOKENIZER_NAME

    @property
    def config_path(self) -> Path:
        """Path of the Hugging Face ``config.json``."""
        return self.path / CONFIG_NAME

    @property
    def hidden_size(self) -> int:
        """Width of the output vectors (``hidden_size`` in the manifest)."""
        return int(self.manifest["hidden_size"])

    @property
    def max_positions(self) -> int:
        """Longest input, in word pieces including ``[CLS]`` and ``[SEP]``."""
        return int(self.manifest["max_position_embeddings"])

    @property
    def num_hidden_layers(self) -> int:
        """Number of transformer layers."""
        return int(self.manifest["num_hidden_layers"])

    @property
    def cased(self) -> bool:
        """False when the tokenizer lower-cases its input."""
        return bool(self.manifest["cased"])

    @property
    def source(self) -> str:
        """Where the model came from: a registry name, Hub repo id or folder name."""
        return str(self.manifest["source"])

    @property
    def precision(self) -> str:
        """Weight precision: ``"fp32"``, ``"int8"`` or ``"fp16"``."""
        return str(self.manifest["precision"])


_OPENED: dict[tuple[str, int, int], ModelDirectory] = {}


def open_model_directory(path: str | os.PathLike[str]) -> ModelDirectory:
    """Return the checked model directory at ``path``, read once per manifest (sizes checked, not sha256).

    A stage asks this on every param check and ``transform``; the folder is read again only
    when its manifest changes (a stat, not a parse, per call).

    Examples
    --------
    >>> open_model_directory("/nonexistent")
    Traceback (most recent call last):
    ...
    sparkbert.errors.ModelNotFoundError: No model directory at /nonexistent
    """
    try:
        stat = os.stat(Path(path) / MANIFEST_NAME)
    except OSError:
        return ModelDirectory.load(path, verify=False)  # raises the precise error
    key = (os.path.realpath(path), stat.st_mtime_ns, stat.st_size)
    found = _OPENED.get(key)
    if found is None or found.path != Path(path):
        found = ModelDirectory.load(path, verify=False)
        if len(_OPENED) > 64:
            _OPENED.clear()
        _OPENED[key] = found
    return found


def _check_file(root: Path, name: str, entry: object, *, verify: bool, where: str) -> None:
    path = inside(root, name, where=where)
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
    staging = temp_sibling(target, "partial")
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
        check_manifest(manifest, staging / MANIFEST_NAME)
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


def replace_directory(target: Path, make: Callable[[Path], object]) -> ModelDirectory:
    """Build a replacement of the model directory ``target`` with ``make(path)``, then swap it in.

    The old folder stays in place until the new one is complete and is put back if the
    swap fails half way; a failing ``make`` leaves it untouched. Returns the new directory.

    Examples
    --------
    >>> import tempfile
    >>> old = Path(tempfile.mkdtemp()) / "m"
    >>> old.mkdir()
    >>> _ = (old / "manifest.json").write_text("the old one")
    >>> def fail(path):
    ...     raise RuntimeError("conversion failed")
    >>> try:
    ...     replace_directory(old, fail)
    ... except RuntimeError:
    ...     (old / "manifest.json").read_text(), sorted(p.name for p in old.parent.iterdir())
    ('the old one', ['m'])
    """
    scratch = temp_sibling(target, "tmp")
    scratch.mkdir(parents=True)
    try:
        make(scratch / "new")
        os.rename(target, scratch / "old")
        os.rename(scratch / "new", target)
    finally:
        if not target.exists() and (scratch / "old").exists():
            os.rename(scratch / "old", target)  # the swap failed half way: put the old one back
        shutil.rmtree(scratch, ignore_errors=True)
    return ModelDirectory.load(target, verify=False)


__all__ = [  # the format's names are re-exported for older imports; new code imports sparkbert.model.format
    "CONFIG_NAME",
    "FORMAT_TAG",
    "FORMAT_VERSION",
    "MANIFEST_NAME",
    "ONNX_DATA_NAME",
    "ONNX_NAME",
    "PRECISIONS",
    "TOKENIZER_NAME",
    "ModelDirectory",
    "another_model_error",
    "check_file_name",
    "existing_output",
    "file_entry",
    "is_checkpoint",
    "is_model_directory",
    "open_model_directory",
    "replace_directory",
    "sha256_file",
    "write_model_directory",
]
