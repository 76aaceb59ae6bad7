"""Download a BERT checkpoint from the Hugging Face Hub: only what is needed, verified.

What is fetched, with ``huggingface_hub`` (its progress bars, its mirror and token handling):

- ``config.json``;
- the weights as safetensors: ``model.safetensors``, or ``model.safetensors.index.json`` and
  the shards it names;
- the tokenizer files the repo has among ``tokenizer.json``, ``vocab.txt``,
  ``tokenizer_config.json`` and ``special_tokens_map.json``.

Never pickles or other frameworks' weights (``*.bin``, ``*.pt``, ``*.h5``, ``*.msgpack``,
``*.ckpt``), never remote code (a config with ``auto_map`` is refused before any weight is
downloaded). A repo with only such weights raises ``UnsafeModelError``
before anything is downloaded.

Every downloaded file is checked against the Hub's own record of it: the LFS sha256 for
weights (and any LFS file), the git blob id for small files. A mismatch raises
``ModelIntegrityError``. The sha256s the Hub published for the weights
are what ``download_checkpoint`` returns, to be recorded in the model's manifest.

``HF_ENDPOINT`` and the offline flags are read at call time (see ``sparkbert.settings``),
not when ``huggingface_hub`` was imported.

Examples
--------
>>> snapshot = HubSnapshot("org/tiny", "0" * 40, {
...     "config.json": HubFile("config.json", 2, "9e26dfeeb6e641a33dae4961196235bdb965b21b", None),
...     "model.safetensors": HubFile("model.safetensors", 8, "ab" * 20, "cd" * 32),
...     "pytorch_model.bin": HubFile("pytorch_model.bin", 8, "ef" * 20, "01" * 32),
...     "vocab.txt": HubFile("vocab.txt", 5, "12" * 20, None),
... })
>>> plan_files(snapshot)
['config.json', 'vocab.txt', 'model.safetensors']
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import logging
import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sparkbert._version import __version__
from sparkbert.errors import ModelIntegrityError, ModelNotFoundError, UnsafeModelError
from sparkbert.model.hub_errors import hub_errors, offline_error, translate
from sparkbert.model.st_modules import sentence_files
from sparkbert.model.tokenizer_files import TOKENIZER_FILES
from sparkbert.settings import hf_hub_cache, hub_endpoint, offline

logger = logging.getLogger(__name__)

#: Config files fetched first (and checked for remote code before any weight is fetched).
CONFIG_FILES = ("config.json",)
#: Tokenizer files fetched when the repo has them; at least one of the first two is required.
#: The single-file safetensors weights, and the index of sharded ones.
WEIGHTS_FILE = "model.safetensors"
WEIGHTS_INDEX = "model.safetensors.index.json"
#: Weights that are pickles or other frameworks' formats: never downloaded, never loaded.
REFUSED_PATTERNS = ("*.bin", "*.pt", "*.pth", "*.pkl", "*.pickle", "*.h5", "*.msgpack", "*.ckpt*", "*.joblib")

_COMMIT = re.compile(r"[0-9a-f]{40}")
_SHARD = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*\.safetensors")


@dataclass(frozen=True)
class HubFile:
    """One file of a Hub repo at a commit, as the Hub describes it.

    Parameters
    ----------
    path : str
        Path inside the repo.
    size : int or None
        Size in bytes of the real content.
    blob_id : str or None
        Git blob id (of the LFS pointer, for an LFS file).
    sha256 : str or None
        The LFS sha256 of the content; None for a file stored in git itself.

    Examples
    --------
    >>> HubFile("vocab.txt", 3, "a" * 40, None).sha256 is None
    True
    """

    path: str
    size: int | None
    blob_id: str | None
    sha256: str | None


@dataclass(frozen=True)
class HubSnapshot:
    """A Hub repo at one commit, with its files' metadata and the endpoint it came from.

    Examples
    --------
    >>> HubSnapshot("org/name", "f" * 40, {}).endpoint
    'https://huggingface.co'
    """

    repo_id: str
    commit: str
    files: Mapping[str, HubFile]
    endpoint: str = "https://huggingface.co"


def is_commit(revision: str) -> bool:
    """Return True if ``revision`` is a full 40-hex commit hash (immutable).

    Examples
    --------
    >>> is_commit("3f076fdb1ab68d5b2880cb87a0886f315b8146f8"), is_commit("main")
    (True, False)
    """
    return _COMMIT.fullmatch(revision) is not None


def fetch_snapshot(repo_id: str, revision: str | None = None, *, endpoint: str | None = None) -> HubSnapshot:
    """Ask the Hub which commit ``revision`` is and what files it holds, with their checksums.

    One request: ``GET /api/models/{repo_id}/revision/{revision}?blobs=True``.

    Raises
    ------
    ModelNotFoundError
        Offline, no such repo or revision, or the Hub cannot be reached.

    Examples
    --------
    >>> import os
    >>> os.environ["SPARKBERT_OFFLINE"] = "1"
    >>> try:
    ...     fetch_snapshot("org/name")
    ... except FileNotFoundError as e:
    ...     print(str(e)[:60])
    Model org/name (revision main) is not in the sparkbert cache
    >>> del os.environ["SPARKBERT_OFFLINE"]
    """
    if offline():
        raise offline_error(repo_id, revision)
    from huggingface_hub import HfApi

    url = endpoint or hub_endpoint()
    api = HfApi(endpoint=url, library_name="sparkbert", library_version=__version__)
    try:
        info = api.model_info(repo_id, revision=revision, files_metadata=True)
    except hub_errors() as err:
        raise translate(err, repo_id, revision, url) from err
    if info.sha is None or not is_commit(info.sha):
        raise ModelNotFoundError(f"The Hub at {url} gave no commit for {repo_id}@{revision}.")
    files = {
        s.rfilename: HubFile(s.rfilename, s.size, s.blob_id, s.lfs.sha256 if s.lfs is not None else None)
        for s in info.siblings or []
    }
    logger.info("Resolved %s@%s to commit %s (%d files)", repo_id, revision or "main", info.sha, len(files))
    return HubSnapshot(repo_id, info.sha, files, url)


def _is_refused(name: str) -> bool:
    base = posixpath.basename(name).lower()
    return any(fnmatch.fnmatchcase(base, pattern) for pattern in REFUSED_PATTERNS)


def plan_files(snapshot: HubSnapshot) -> list[str]:
    """Return the files to download (configs, tokenizer, then weights), refusing unsafe repos.

    With sharded weights the list ends with the index; the shards it names are added once
    it is read (``download_checkpoint`` does this).

    Raises
    ------
    UnsafeModelError
        The repo has no safetensors weights but pickled or other frameworks' ones.
    ModelNotFoundError
        No ``config.json``, no weights, or no tokenizer vocabulary.

    Examples
    --------
    >>> only_bin = HubSnapshot("org/old", "1" * 40, {
    ...     n: HubFile(n, 1, None, None) for n in ("config.json", "vocab.txt", "pytorch_model.bin")})
    >>> try:
    ...     plan_files(only_bin)
    ... except ValueError as e:
    ...     "only pickled" in str(e) and "pytorch_model.bin" in str(e)
    True
    """
    names = set(snapshot.files)
    where = f"{snapshot.repo_id}@{snapshot.commit}"
    if WEIGHTS_FILE in names:
        weights = [WEIGHTS_FILE]
    elif WEIGHTS_INDEX in names:
        weights = [WEIGHTS_INDEX]
    else:
        refused = sorted(n for n in names if _is_refused(n))
        if refused:
            raise UnsafeModelError(
                f"Model {where} has no safetensors weights, only pickled or other frameworks' ones "
                f"({', '.join(refused)}). "
                "sparkbert never downloads or loads pickles, which can run arbitrary code. Use a revision with "
                "model.safetensors, or convert the weights to safetensors yourself and pass that local folder."
            )
        raise ModelNotFoundError(f"Model {where} has no weights ({WEIGHTS_FILE} or {WEIGHTS_INDEX}).")
    missing = [n for n in CONFIG_FILES if n not in names]
    if missing:
        raise ModelNotFoundError(
            f"Model {where} has no {', '.join(missing)}: it is not a transformers checkpoint."
        )
    if not {"tokenizer.json", "vocab.txt"} & names:
        raise ModelNotFoundError(f"Model {where} has no tokenizer (tokenizer.json or vocab.txt).")
    tokenizer = [n for n in TOKENIZER_FILES if n in names]
    return [*CONFIG_FILES, *tokenizer, *sentence_files(names), *weights]  # + a sentence model's modules


def _shards(index_path: Path, snapshot: HubSnapshot) -> list[str]:
    where = f"{snapshot.repo_id}@{snapshot.commit}"
    try:
        index: Any = json.loads(index_path.read_text(encoding="utf-8"))
        weight_map = index["weight_map"]
        shards = sorted(set(weight_map.values()))
    except (ValueError, KeyError, TypeError, AttributeError) as err:
        raise ModelIntegrityError(
            f"{WEIGHTS_INDEX} of {where} is not a valid safetensors index: {err}"
        ) from err
    for shard in shards:
        if not isinstance(shard, str) or _SHARD.fullmatch(shard) is None:
            raise UnsafeModelError(
                f"{WEIGHTS_INDEX} of {where} names a shard outside the repo root: {shard!r}"
            )
        if shard not in snapshot.files:
            raise ModelIntegrityError(
                f"{WEIGHTS_INDEX} of {where} names {shard!r}, which the repo does not have"
            )
    if not shards:
        raise ModelIntegrityError(f"{WEIGHTS_INDEX} of {where} names no shard")
    return list(shards)


def _refuse_remote_code(path: Path, where: str) -> None:
    try:
        data: Any = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as err:
        raise ModelIntegrityError(f"{path.name} of {where} is not valid JSON: {err}") from err
    if isinstance(data, dict) and ("auto_map" in data or data.get("trust_remote_code")):
        raise UnsafeModelError(
            f"{path.name} of {where} asks for remote code ('auto_map'); sparkbert never runs code from a model repo."
        )


def _digests(path: Path) -> tuple[str, str]:
    """Return (sha256 of the content, git blob sha1 of the content) in one pass."""
    sha256 = hashlib.sha256()
    git = hashlib.sha1(b"blob %d\0" % path.stat().st_size, usedforsecurity=False)
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            sha256.update(chunk)
            git.update(chunk)
    return sha256.hexdigest(), git.hexdigest()


def verify_file(path: Path, expected: HubFile, where: str) -> str:
    """Check a downloaded file against the Hub's record; return its sha256.

    Raises
    ------
    ModelIntegrityError
        Wrong size, LFS sha256 or git blob id.

    Examples
    --------
    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "config.json"
    >>> _ = p.write_bytes(b"{}")
    >>> verify_file(p, HubFile("config.json", 2, "9e26dfeeb6e641a33dae4961196235bdb965b21b", None), "x")[:8]
    '44136fa3'
    """
    size = path.stat().st_size
    sha256, git_sha1 = _digests(path)
    problems = []
    if expected.size is not None and size != expected.size:
        problems.append(f"size {size} instead of {expected.size}")
    if expected.sha256 is not None and sha256 != expected.sha256:
        problems.append(f"sha256 {sha256} instead of {expected.sha256}")
    elif expected.sha256 is None and expected.blob_id is not None and git_sha1 != expected.blob_id:
        problems.append(f"git blob id {git_sha1} instead of {expected.blob_id}")
    if problems:
        raise ModelIntegrityError(
            f"{expected.path} downloaded from {where} does not match what the Hub publishes for it: "
            f"{'; '.join(problems)}. The download was corrupted or tampered with; nothing was cached."
        )
    return sha256


def download_checkpoint(snapshot: HubSnapshot, out_dir: str | Path) -> dict[str, str]:
    """Download the checkpoint files of ``snapshot`` into ``out_dir`` and verify them.

    Parameters
    ----------
    snapshot : HubSnapshot
        From ``fetch_snapshot``; files are fetched at its commit.
    out_dir : str or Path
        An empty folder that becomes a transformers checkpoint folder.

    Returns
    -------
    dict of str to str
        File name → sha256 as published by the Hub (LFS files, i.e. the weights), each
        checked against the downloaded bytes.

    Raises
    ------
    UnsafeModelError
        Pickled weights only, remote code, or a shard path leaving the repo.
    ModelIntegrityError
        A file does not match the Hub's size, sha256 or git blob id.
    ModelNotFoundError
        Offline, or the Hub cannot be reached.

    Examples
    --------
    >>> download_checkpoint.__name__  # needs a Hub: see tests/model/test_hub.py
    'download_checkpoint'
    """
    if offline():
        raise offline_error(snapshot.repo_id, snapshot.commit)
    from huggingface_hub import hf_hub_download

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    where = f"{snapshot.repo_id}@{snapshot.commit}"
    published: dict[str, str] = {}

    def fetch(name: str) -> Path:
        try:
            local = hf_hub_download(
                snapshot.repo_id,
                name,
                revision=snapshot.commit,
                local_dir=out,
                cache_dir=hf_hub_cache(),
                endpoint=snapshot.endpoint,
                library_name="sparkbert",
                library_version=__version__,
            )
        except hub_errors() as err:
            raise translate(err, snapshot.repo_id, snapshot.commit, snapshot.endpoint) from err
        except OSError as err:
            if "Consistency check failed" not in str(err):
                raise
            raise ModelIntegrityError(f"{name} from {where} was truncated in transit: {err}") from err
        path = Path(str(local))
        sha256 = verify_file(path, snapshot.files[name], where)
        if snapshot.files[name].sha256 is not None:
            published[name] = sha256
        logger.debug("Verified %s (%s)", name, sha256)
        return path

    plan = plan_files(snapshot)
    for name in plan:
        path = fetch(name)
        if name in CONFIG_FILES or name == "tokenizer_config.json":
            _refuse_remote_code(path, where)
        if name == WEIGHTS_INDEX:
            for shard in _shards(path, snapshot):
                fetch(shard)
    logger.info("Downloaded %s: %s", where, ", ".join(sorted(p.name for p in out.iterdir() if p.is_file())))
    return published


__all__ = [
    "CONFIG_FILES",
    "REFUSED_PATTERNS",
    "TOKENIZER_FILES",
    "WEIGHTS_FILE",
    "WEIGHTS_INDEX",
    "HubFile",
    "HubSnapshot",
    "download_checkpoint",
    "fetch_snapshot",
    "is_commit",
    "offline_error",
    "plan_files",
    "verify_file",
]
