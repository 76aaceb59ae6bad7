"""Path safety and temporary names, in one place.

- ``check_file_name`` / ``inside``: a name read from a file (a manifest, a saved
  stage) is a plain name inside its folder, and no symlink leads out of it.
- ``temp_sibling``: temporary files and folders beside a target are named
  ``.<target>.<kind>-<pid>-<random>``, so a crashed writer's leftovers are recognisable
  (``is_temp_name``) and never mistaken for a model.
- ``local_path``: ``file:`` URIs and plain paths as local paths; other schemes refused.

Examples
--------
>>> local_path("file:///data/in.txt"), local_path("/data/in.txt")
('/data/in.txt', '/data/in.txt')
>>> is_remote("s3a://bucket/key"), is_remote("file:/x")
(True, False)
"""

from __future__ import annotations

import os
import re
import uuid
from pathlib import Path

from sparkbert.errors import UnsafeModelError

#: Markers of temporary siblings (see ``temp_sibling``).
TEMP_MARKERS = ("partial-", "download-", "trash-", "staging-", "tmp-")
_SCHEME = re.compile(r"^[A-Za-z][\w+.-]*://")


def check_file_name(name: object, *, where: str) -> str:
    """Return ``name`` if it is a plain file name inside a folder, else raise UnsafeModelError.

    Empty, absolute, ``.``/``..``, ``..`` anywhere, NUL or a path separator are refused.

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


def link_leaves(path: str | os.PathLike[str], root: str | os.PathLike[str]) -> str | None:
    """Return where ``path`` points if it is a symlink resolving outside ``root``, else None."""
    if not os.path.islink(path):
        return None
    target = os.path.realpath(path)
    inside = os.path.commonpath([target, os.path.realpath(root)]) == os.path.realpath(root)
    return None if inside else target


def inside(root: Path, name: str, *, where: str) -> Path:
    """Return ``root / name`` for a plain file name, refusing a symlink that leaves ``root``."""
    path = root / check_file_name(name, where=where)
    target = link_leaves(path, root)
    if target is not None:
        raise UnsafeModelError(f"{path} is a symlink to {target}, outside the model directory")
    return path


def temp_sibling(target: str | os.PathLike[str], kind: str) -> Path:
    """Return a fresh hidden path beside ``target`` for ``kind`` (``partial``, ``download``, ...).

    Examples
    --------
    >>> temp_sibling("/cache/mbert/fp32", "partial").name.startswith(".fp32.partial-")
    True
    """
    target = Path(target)
    return target.parent / f".{target.name}.{kind}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


def is_temp_name(name: str) -> bool:
    """True for a name ``temp_sibling`` makes (a writer's leftover, never a model)."""
    return name.startswith(".") and any(marker in name for marker in TEMP_MARKERS)


def is_remote(path: str) -> bool:
    """True for a URI with a scheme other than ``file:`` (``s3a://``, ``hdfs://``, ...)."""
    return _SCHEME.match(path) is not None and not path.startswith("file:")


def local_path(path: str) -> str | None:
    """The local path of ``path`` (``file:`` stripped), or None for a remote URI."""
    if is_remote(path):
        return None
    return re.sub(r"^file:(//)?", "", path)
