"""Turn what a user names into a checked, cached model directory.

``resolve_model`` is what ``BertEmbeddings.pretrained(name, lang)`` calls. It accepts:

| ``name_or_path`` | what happens |
| --- | --- |
| a local model directory | loaded as is (quantized into the cache for another precision) |
| a local checkpoint folder | converted into the cache, keyed by the sha256 of the files it is made from (sentence-transformers modules included) |
| a registry name (``lang``) | its Hub repo at the pinned commit (see ``.registry``) |
| ``org/name`` or ``org/name@rev`` | that Hub repo; ``rev`` (or ``revision=``) defaults to ``main`` |

A Hub model is downloaded (``.hub``), verified, converted once and cached (layout in
``.cache``); later calls load the cached copy, offline too. A cached copy that an older
sparkbert converted (``format.outdated``: an older graph or int8 recipe) is made again when
the network may be used (int8 from the cached fp32 where that one is current), and used as it
is offline, with a warning. Offline (``local_files_only``,
``SPARKBERT_OFFLINE`` or ``HF_HUB_OFFLINE``) nothing touches the network: a model that is not
cached fails at once with a ``ModelNotFoundError`` saying how to
provide it.

Examples
--------
>>> parse_repo_id("google-bert/bert-base-cased@cd5ef92a9fb2f889e972770a36d4ed042daf221e")
('google-bert/bert-base-cased', 'cd5ef92a9fb2f889e972770a36d4ed042daf221e')
>>> try:
...     resolve_model("bert_base_cased", precision="int4")
... except ValueError as e:
...     print(e)
Invalid value for param 'precision': 'int4'. Valid values: 'fp32', 'int8', 'fp16'.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from sparkbert.errors import InvalidParamError, ModelNotFoundError
from sparkbert.model import cache, registry
from sparkbert.model.directory import (
    PRECISIONS,
    ModelDirectory,
    is_checkpoint,
    is_model_directory,
    replace_directory,
    sha256_file,
)
from sparkbert.model.format import outdated as _outdated
from sparkbert.model.tokenizer_files import TOKENIZER_FILES
from sparkbert.settings import DEFAULT_LANG, offline, sparkbert_home

if TYPE_CHECKING:
    from sparkbert.model.hub import HubSnapshot

logger = logging.getLogger(__name__)

_REPO_PART = r"[A-Za-z0-9](?:[\w.-]{0,94}[A-Za-z0-9_])?"
_REPO_ID = re.compile(rf"(?:{_REPO_PART}/)?{_REPO_PART}")


def parse_repo_id(spec: str) -> tuple[str, str | None]:
    """Split ``org/name@revision`` into the repo id and the revision (None when absent).

    Raises
    ------
    InvalidParamError
        Not a valid Hub repo id (letters, digits, ``-_.``; no ``--`` or ``..``).

    Examples
    --------
    >>> parse_repo_id("org/name")
    ('org/name', None)
    >>> parse_repo_id("org/name@refs/pr/1")
    ('org/name', 'refs/pr/1')
    """
    repo_id, sep, revision = spec.strip().partition("@")
    if _REPO_ID.fullmatch(repo_id) is None or "--" in repo_id or ".." in repo_id:
        raise InvalidParamError.for_param(
            "name", spec, "a registry name, a local folder, or a Hub repo id 'org/name[@revision]'"
        )
    if sep and (not revision or any(c.isspace() for c in revision)):
        raise InvalidParamError.for_param("revision", revision, "a branch, tag or commit after '@'")
    return repo_id, (revision if sep else None)


def _looks_like_path(value: str) -> bool:
    return (
        value.startswith(("/", "./", "../", "~", "."))
        or "\\" in value
        or value.count("/") > 1
        or (os.altsep is not None and os.altsep in value)
        or Path(value).is_absolute()
    )


def resolve_model(
    name_or_path: str | os.PathLike[str],
    lang: str = DEFAULT_LANG,
    *,
    revision: str | None = None,
    precision: str | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    local_files_only: bool | None = None,
) -> ModelDirectory:
    """Return the model directory for a registry name, a Hub repo or a local folder.

    Parameters
    ----------
    name_or_path : str or os.PathLike
        A local model directory or checkpoint folder, a registry name (see
        ``sparkbert.model.registry.names``), or a Hub repo id ``org/name[@revision]``.
    lang : str, default "xx"
        Language code for a registry name; ignored otherwise.
    revision : str, optional
        Branch, tag or commit of a Hub repo (instead of ``@revision``); for a registry name,
        replaces the pinned commit.
    precision : {"fp32", "int8", "fp16"}, optional
        Weight precision of the returned model. Default: a model directory's own (it is
        used as it is), else ``"fp32"``.
    cache_dir : str or os.PathLike, optional
        Cache root; defaults to ``SPARKBERT_HOME`` (``~/.cache/sparkbert``).
    local_files_only : bool, optional
        True: never use the network. None (default): as the environment says
        (``SPARKBERT_OFFLINE`` / ``HF_HUB_OFFLINE``). Either flag turns the network off.

    Returns
    -------
    ModelDirectory
        Checked against its manifest (sizes and sha256 of every file).

    Raises
    ------
    InvalidParamError
        Unknown precision, or a malformed repo id or revision.
    ModelNotFoundError
        Unknown name (the message lists the registry), no such repo, revision or folder, or
        offline and not cached (the message says how to provide the model).
    ModelIntegrityError
        A download does not match the Hub's sha256, or a cached or local model is damaged.
    UnsafeModelError
        Pickled weights only, or remote code.

    Examples
    --------
    >>> try:
    ...     resolve_model("no_such_model", "xx")
    ... except FileNotFoundError as e:
    ...     print(str(e)[:50])
    Unknown pretrained model 'no_such_model' (lang 'xx
    """
    if precision is not None and precision not in PRECISIONS:
        raise InvalidParamError.for_param("precision", precision, PRECISIONS)
    home = Path(cache_dir).expanduser() if cache_dir is not None else sparkbert_home()
    no_network = bool(local_files_only) or offline()
    text = os.fspath(name_or_path).strip()
    path = Path(text).expanduser()
    if not text:
        raise InvalidParamError.for_param(
            "name", name_or_path, "a registry name, a Hub repo id or a local folder"
        )
    if path.exists():
        return _resolve_local(path, precision, home)
    precision = precision or "fp32"
    if isinstance(name_or_path, os.PathLike) or _looks_like_path(text):
        raise ModelNotFoundError(
            f"No such folder: {path}. Pass a model directory, a checkpoint folder (config.json, "
            f"model.safetensors, vocab.txt), a Hub repo id 'org/name' or a registry name ({', '.join(registry.names())})."
        )
    offline_because = _offline_because(bool(local_files_only)) if no_network else None
    if registry.is_registered(text) or "/" not in text:
        entry = registry.lookup(text, lang)
        return _resolve_hub(
            entry.repo_id, revision or entry.revision, precision, home, offline_because, name=text
        )
    repo_id, at_revision = parse_repo_id(text)
    if at_revision is not None and revision is not None and at_revision != revision:
        raise InvalidParamError(
            f"Two revisions given for {repo_id}: {at_revision!r} (after '@') and {revision!r} (revision=)"
        )
    return _resolve_hub(repo_id, at_revision or revision, precision, home, offline_because)


@functools.lru_cache(maxsize=8)
def _resolved_path(name_or_path: str, lang: str) -> str:
    return str(resolve_model(name_or_path, lang).path)


def resolve_once(name_or_path: str, lang: str = DEFAULT_LANG) -> str:
    """Return the model directory ``resolve_model`` gives, resolved once per process.

    What the in-process helpers (``sparkbert.embed``, ``sparkbert.encode``) call: the first
    call downloads, converts and verifies; later ones reuse the answer unless the directory
    has been removed since. A model directory of any precision is used as it is.

    Examples
    --------
    >>> resolve_once(model_dir) == str(model_dir)
    True
    """
    path = _resolved_path(name_or_path, lang)
    if not is_model_directory(path):  # removed since: resolve again
        _resolved_path.cache_clear()
        path = _resolved_path(name_or_path, lang)
    return path


def _offline_because(local_files_only: bool) -> str:
    from sparkbert.model.hub_errors import offline_reason

    return offline_reason(local_files_only)


def _resolve_hub(
    repo_id: str,
    revision: str | None,
    precision: str,
    home: Path,
    offline_because: str | None,
    *,
    name: str | None = None,
) -> ModelDirectory:
    """A Hub model from the cache, else downloaded; ``offline_because`` (no network) says why not."""
    from sparkbert.model import hub  # imports huggingface_hub: only when a Hub model is asked for

    repo = cache.repo_dir(home, repo_id)
    wanted = revision or "main"
    known = wanted if hub.is_commit(wanted) else cache.read_ref(repo, wanted)
    target = cache.target_dir(home, repo_id, known, precision) if known else None
    cached = cache.load_cached(target) if target is not None else None
    why_outdated = _outdated(cached) if cached is not None else None
    if offline_because is not None:
        if cached is not None:
            if why_outdated is not None:
                logger.warning(
                    "Using the cached %s as it is (%s): it is converted again when sparkbert may "
                    "use the network",
                    cached.path,
                    why_outdated,
                )
            return cached
        if target is not None and target.exists():
            ModelDirectory.load(target)  # a damaged copy: say why
        raise hub.offline_error(
            repo_id, wanted, reason=offline_because, name=name, precision=precision, cache_dir=home
        )
    if cached is not None and known == wanted and why_outdated is None:
        return cached  # a commit never changes: no need to ask the Hub
    try:
        snapshot = hub.fetch_snapshot(repo_id, wanted)
    except ModelNotFoundError as err:
        if cached is None:
            raise
        logger.warning("Using the cached %s@%s (commit %s): %s", repo_id, wanted, known, err)
        return cached
    hub.plan_files(snapshot)  # refuse pickles / missing files before taking any lock
    target = cache.target_dir(home, repo_id, snapshot.commit, precision)
    result = _build(target, lambda out: _from_hub(snapshot, out, precision, target.parent / "fp32"))
    if wanted != snapshot.commit:
        cache.write_ref(repo, wanted, snapshot.commit)
    return result


def _current(
    target: Path, outdated: Callable[[ModelDirectory], str | None] = _outdated
) -> ModelDirectory | None:
    """The cached ``target`` if it is intact and not ``outdated``, else None (saying why)."""
    cached = cache.load_cached(target)
    reason = outdated(cached) if cached is not None else None
    if reason is not None:
        logger.info("The cached %s was converted by an older sparkbert (%s)", target, reason)
        return None
    return cached


def _build(
    target: Path,
    make: Callable[[Path], ModelDirectory],
    outdated: Callable[[ModelDirectory], str | None] = _outdated,
) -> ModelDirectory:
    """Return the cached ``target``, or build it once under its lock with ``make(target)``.

    A damaged folder is deleted first; an outdated one stays until its replacement is built
    beside it (``replace_directory``), and stays for good if the build fails (it still works,
    offline too).
    """
    cached = _current(target, outdated)
    if cached is not None:
        return cached
    with cache.build_lock(target):
        cached = cache.load_cached(target)  # another process may have built it meanwhile
        if cached is not None and outdated(cached) is None:
            return cached
        cache.clean_stale(target)
        if cached is None:
            cache.discard(target)  # a damaged folder (load_cached said why in the log)
            return make(target)
        return replace_directory(target, make)


def _from_hub(snapshot: HubSnapshot, out: Path, precision: str, fp32_dir: Path) -> ModelDirectory:
    """Make ``out``: quantized from the cached ``fp32_dir`` when that serves, else downloaded and converted."""
    from sparkbert.model import hub
    from sparkbert.model.convert import convert_checkpoint

    derived = _derive_from_fp32(fp32_dir, out, precision)
    if derived is not None:
        return derived
    staging = cache.temp_sibling(out, "download")
    try:
        published = hub.download_checkpoint(snapshot, staging)
        return convert_checkpoint(
            staging,
            out,
            precision=precision,
            source=snapshot.repo_id,
            revision=snapshot.commit,
            source_sha256=published,
        )
    finally:
        cache.discard(staging)


def _derive_from_fp32(fp32_dir: Path, target: Path, precision: str) -> ModelDirectory | None:
    """Quantize an already cached fp32 copy to int8 instead of downloading again."""
    if precision != "int8" or target == fp32_dir:
        return None
    fp32 = _current(fp32_dir)
    if fp32 is None:
        return None
    from sparkbert.model.quantize import quantize_int8

    logger.info("Quantizing the cached %s to %s", fp32_dir, target)
    return quantize_int8(fp32, target)


def _checkpoint_digests(folder: Path) -> dict[str, str]:
    from sparkbert.model.checkpoint import weight_files
    from sparkbert.model.st_modules import sentence_files

    listed = [
        p.relative_to(folder).as_posix() for p in (*folder.iterdir(), *folder.glob("*/*")) if p.is_file()
    ]
    names = [
        "config.json",
        *weight_files(folder),
        *(n for n in TOKENIZER_FILES if (folder / n).is_file()),
        *sentence_files(listed),  # modules.json and its modules: they change the sentence vector
    ]
    return {name: sha256_file(folder.joinpath(*name.split("/"))) for name in sorted(set(names))}


def _resolve_local(path: Path, precision: str | None, home: Path) -> ModelDirectory:
    if not path.is_dir():
        raise ModelNotFoundError(f"{path} is a file; pass a model directory or a checkpoint folder")
    if is_model_directory(path):
        directory = ModelDirectory.load(path, verify=True)
        if precision is None or directory.precision == precision:
            reason = _outdated(directory)
            if reason is not None:  # the user's folder: theirs to convert again
                logger.info(
                    "Using %s as it is, though this sparkbert converts differently (%s)", path, reason
                )
            return directory
        if directory.precision != "fp32" or precision != "int8":
            raise InvalidParamError(
                f"{path} is an {directory.precision} model directory; it can only be used as is "
                f"(precision={directory.precision!r} or None), or, from fp32, quantized to 'int8'. "
                f"Convert its checkpoint with precision={precision!r} instead."
            )
        target = cache.local_dir(home, path) / directory.identity / precision
        from sparkbert.model.quantize import Int8Recipe, int8_settings, quantize_int8

        def recipe_outdated(int8: ModelDirectory) -> str | None:
            # judged against its source, which is the user's and used as it is
            made = int8.manifest.get("quantization")
            return None if made == int8_settings(directory, Int8Recipe()) else "another int8 recipe"

        return _build(target, lambda out: quantize_int8(directory, out), recipe_outdated)
    precision = precision or "fp32"
    if not is_checkpoint(path):
        from sparkbert.model.checkpoint import weight_files

        weight_files(path)  # raises UnsafeModelError for pickle-only folders, else an integrity error
        raise ModelNotFoundError(f"{path} is neither a sparkbert model directory nor a checkpoint folder")
    from sparkbert.model.convert import convert_checkpoint

    digests = _checkpoint_digests(path)
    key = hashlib.sha256(json.dumps(digests, sort_keys=True).encode()).hexdigest()
    target = cache.local_dir(home, path) / key / precision
    origin = str(path.resolve())
    return _build(
        target,
        lambda out: convert_checkpoint(path, out, precision=precision, source=origin, source_sha256=digests),
    )


__all__ = ["parse_repo_id", "resolve_model", "resolve_once"]
