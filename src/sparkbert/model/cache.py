"""The cache of converted model directories, under ``SPARKBERT_HOME`` (or a ``cache_dir``).

Layout::

    <home>/models/
        <org>--<name>/                      a Hub repo (``google-bert--bert-base-cased``)
            refs/<revision>                 a branch or tag name → the commit it was resolved to
            <commit>/
                fp32/  int8/  fp16/         one model directory per precision
                fp32.lock                   held while fp32/ is being built
        local--<folder name>/               a local checkpoint or model directory
            <sha256 of its files>/<precision>/

Each ``<precision>/`` folder is written by the converter into a hidden sibling
(``.fp32.partial-*``; downloads go to ``.fp32.download-*``) and renamed into place, so a
folder at that path is always complete. Whoever builds it holds ``<precision>.lock``
(``filelock``), so concurrent processes build it once; a later holder deletes the hidden
leftovers of a killed process.

Examples
--------
>>> from pathlib import Path
>>> target_dir(Path("/c"), "google-bert/bert-base-cased", "cd5ef92a9fb2f889e972770a36d4ed042daf221e", "fp32")
PosixPath('/c/models/google-bert--bert-base-cased/cd5ef92a9fb2f889e972770a36d4ed042daf221e/fp32')
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

from filelock import FileLock, Timeout

from sparkbert._paths import TEMP_MARKERS, temp_sibling
from sparkbert.errors import ModelError
from sparkbert.model.directory import ModelDirectory

logger = logging.getLogger(__name__)

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
#: Hidden sibling folders that only exist while a build is running (or after it was killed).


def safe_name(value: str, *, limit: int = 96) -> str:
    """Return a file-system-safe form of ``value`` (letters, digits, ``._-``), never empty or dotted.

    Examples
    --------
    >>> safe_name("my model (v2)"), safe_name(".."), safe_name("refs/pr/1")
    ('my_model_v2', 'model', 'refs_pr_1')
    """
    cleaned = _UNSAFE.sub("_", value).strip("._-")[:limit]
    return cleaned or "model"


def repo_dir(home: Path, repo_id: str) -> Path:
    """Return the cache folder of a Hub repo (``org/name`` → ``org--name``).

    Hub repo ids cannot contain ``--``, so the mapping is one to one.

    Examples
    --------
    >>> repo_dir(Path("/c"), "google-bert/bert-base-cased").name
    'google-bert--bert-base-cased'
    """
    return home / "models" / "--".join(safe_name(part) for part in repo_id.split("/"))


def local_dir(home: Path, folder: Path) -> Path:
    """Return the cache folder of models made from a local folder (``local--<folder name>``).

    Examples
    --------
    >>> local_dir(Path("/c"), Path("/data/My BERT")).name
    'local--My_BERT'
    """
    return home / "models" / f"local--{safe_name(folder.name)}"


def target_dir(home: Path, repo_id: str, revision: str, precision: str) -> Path:
    """Return where the model directory of a Hub repo at a commit and precision lives.

    Examples
    --------
    >>> target_dir(Path("/c"), "org/m", "a" * 40, "int8").parts[-2:]
    ('aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', 'int8')
    """
    return repo_dir(home, repo_id) / safe_name(revision) / precision


def _ref_path(repo: Path, revision: str) -> Path:
    return repo / "refs" / quote(revision, safe="")


def read_ref(repo: Path, revision: str) -> str | None:
    """Return the commit a branch or tag was last resolved to, or None.

    Examples
    --------
    >>> read_ref(Path("/nonexistent"), "main") is None
    True
    """
    try:
        commit = _ref_path(repo, revision).read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return commit if re.fullmatch(r"[0-9a-f]{40}", commit) else None


def write_ref(repo: Path, revision: str, commit: str) -> None:
    """Record (atomically) that ``revision`` resolved to ``commit``.

    Examples
    --------
    >>> import tempfile
    >>> repo = Path(tempfile.mkdtemp())
    >>> write_ref(repo, "refs/pr/1", "b" * 40)
    >>> read_ref(repo, "refs/pr/1") == "b" * 40
    True
    """
    path = _ref_path(repo, revision)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_sibling(path, "tmp")
    tmp.write_text(commit, encoding="ascii")
    os.replace(tmp, path)


def load_cached(target: Path) -> ModelDirectory | None:
    """Return the model directory at ``target`` if it is there and passes its checks, else None.

    A folder that fails its checks is reported in the log and left for ``discard`` (under
    the lock).

    Examples
    --------
    >>> load_cached(Path("/nonexistent")) is None
    True
    """
    if not target.is_dir():
        return None
    try:
        return ModelDirectory.load(target, verify=True)
    except ModelError as err:
        logger.warning("Ignoring the cached model at %s: %s", target, err)
        return None


def discard(path: Path) -> None:
    """Remove a folder: renamed aside first (atomic), then deleted.

    Examples
    --------
    >>> discard(Path("/nonexistent/x"))
    """
    if not path.exists():
        return
    trash = temp_sibling(path, "trash")
    try:
        os.rename(path, trash)
    except OSError:
        trash = path
    shutil.rmtree(trash, ignore_errors=True)


def clean_stale(target: Path) -> list[Path]:
    """Delete the hidden leftovers of builds of ``target`` (call with its lock held).

    Returns what was removed.

    Examples
    --------
    >>> import tempfile
    >>> t = Path(tempfile.mkdtemp()) / "fp32"
    >>> (t.parent / ".fp32.partial-1-abcd").mkdir()
    >>> [p.name for p in clean_stale(t)]
    ['.fp32.partial-1-abcd']
    """
    if not target.parent.is_dir():
        return []
    prefix = f".{target.name}."
    removed = []
    for path in sorted(target.parent.iterdir()):
        # every temporary sibling of a build is named by temp_sibling (partial, download, tmp, ...)
        if not (path.name.startswith(prefix) and path.name[len(prefix) :].startswith(TEMP_MARKERS)):
            continue
        logger.info("Removing %s, left over by an interrupted build", path)
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        removed.append(path)
    return removed


@contextlib.contextmanager
def build_lock(target: Path) -> Iterator[None]:
    """Hold ``<target>.lock`` (a file lock shared by every process) while building ``target``.

    Examples
    --------
    >>> import tempfile
    >>> t = Path(tempfile.mkdtemp()) / "fp32"
    >>> with build_lock(t):
    ...     (t.parent / "fp32.lock").exists()
    True
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(target.parent / f"{target.name}.lock"))
    try:
        lock.acquire(timeout=1)
    except Timeout:
        logger.info("Waiting for another process to finish building %s", target)
        lock.acquire()
    try:
        yield
    finally:
        lock.release()


__all__ = [
    "TEMP_MARKERS",
    "build_lock",
    "clean_stale",
    "discard",
    "load_cached",
    "local_dir",
    "read_ref",
    "repo_dir",
    "safe_name",
    "target_dir",
    "temp_sibling",
    "write_ref",
]
