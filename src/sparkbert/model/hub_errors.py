"""What a Hub failure means for the user: one ``ModelNotFoundError`` that says how to fix it.

The offline message is the one an air-gapped cluster sees: it names the switch that turned
the network off (``HF_HUB_OFFLINE``, ``SPARKBERT_OFFLINE`` or ``local_files_only``), the name
and revision that were looked for, the cache that was searched, and the ``sparkbert download``
command that fills that cache on a machine with network.

Examples
--------
>>> message = str(offline_error("google-bert/bert-base-cased", None, reason="HF_HUB_OFFLINE=1"))
>>> message[:66]
'Model google-bert/bert-base-cased (revision main) is not in the sp'
>>> "sparkbert download google-bert/bert-base-cased" in message
True
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path

from sparkbert.errors import ModelNotFoundError
from sparkbert.settings import sparkbert_home


def offline_reason(local_files_only: bool = False) -> str:
    """Say which switch turned the network off (``local_files_only``, ``HF_HUB_OFFLINE``, ``SPARKBERT_OFFLINE``).

    Examples
    --------
    >>> offline_reason(local_files_only=True)  # with neither variable set
    'local_files_only=True; HF_HUB_OFFLINE=1 keeps every process off the network the same way'
    """
    on = [
        f"{name}={os.environ[name]}"
        for name in ("HF_HUB_OFFLINE", "SPARKBERT_OFFLINE")
        if os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}
    ]
    if local_files_only:
        on.insert(0, "local_files_only=True")
    said = ", ".join(on) if on else "offline mode is on"
    if not any(item.startswith("HF_HUB_OFFLINE") for item in on):
        said += "; HF_HUB_OFFLINE=1 keeps every process off the network the same way"
    return said


def offline_error(
    repo_id: str,
    revision: str | None,
    *,
    reason: str | None = None,
    name: str | None = None,
    precision: str = "fp32",
    cache_dir: Path | None = None,
) -> ModelNotFoundError:
    """Build the error for a model that is not cached and cannot be downloaded.

    Parameters
    ----------
    repo_id, revision : str
        The Hub repo and the revision looked for (None: ``main``).
    reason : str, optional
        Why there is no network (default: ``offline_reason``).
    name : str, optional
        What the user asked for, when it differs from ``repo_id`` (a registry name).
    precision : str
        The precision looked for.
    cache_dir : Path, optional
        The cache searched (default: ``SPARKBERT_HOME``).

    Examples
    --------
    >>> e = offline_error("google-bert/bert-base-multilingual-cased", "3f076fdb1ab68d5b2880cb87a0886f315b8146f8",
    ...                   name="bert_base_multilingual_cased", precision="int8", reason="HF_HUB_OFFLINE=1")
    >>> "`sparkbert download bert_base_multilingual_cased --precision int8`" in str(e)
    True
    """
    home = cache_dir if cache_dir is not None else sparkbert_home()
    wanted = revision or "main"
    looked = (
        f"{name!r} ({repo_id} at revision {wanted}, {precision})"
        if name
        else f"{repo_id} (revision {wanted})"
    )
    command = ["sparkbert", "download", name or repo_id]
    if revision and not name and revision != "main":
        command += ["--revision", revision]
    if precision != "fp32":
        command += ["--precision", precision]
    if cache_dir is not None and cache_dir != sparkbert_home():
        command += ["--cache-dir", str(cache_dir)]
    return ModelNotFoundError(
        f"Model {looked} is not in the sparkbert cache at {home} and cannot be downloaded "
        f"({reason or offline_reason()}). On a machine with network run `{shlex.join(command)}`, then copy "
        f"{home} to this machine (or point SPARKBERT_HOME at the copy); or pass a local model directory or "
        "checkpoint folder instead of the name (see docs/airgapped.md)."
    )


def hub_errors() -> tuple[type[BaseException], ...]:
    """The exceptions that mean "the Hub did not give us this model" (not a local disk problem).

    ``huggingface_hub`` 1.x and later speak HTTP through ``httpx2``/``httpx``, older releases
    through ``requests``: the transport errors of whichever is installed are included.
    """
    import importlib

    from huggingface_hub import errors

    names = ("HfHubHTTPError", "OfflineModeIsEnabled", "LocalEntryNotFoundError", "FileMetadataError")
    found: list[type[BaseException]] = [getattr(errors, n) for n in names if hasattr(errors, n)]
    for module, name in (("httpx2", "HTTPError"), ("httpx", "HTTPError"), ("requests", "RequestException")):
        try:
            found.append(getattr(importlib.import_module(module), name))
        except (ImportError, AttributeError):
            continue
    return tuple(found)


def translate(err: BaseException, repo_id: str, revision: str | None, endpoint: str) -> ModelNotFoundError:
    """Turn a ``huggingface_hub`` or HTTP error into a ``ModelNotFoundError`` that says what to do."""
    from huggingface_hub.errors import (
        GatedRepoError,
        OfflineModeIsEnabled,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    if isinstance(err, OfflineModeIsEnabled):
        return offline_error(repo_id, revision, reason=f"huggingface_hub: {err}; {offline_reason()}")
    if isinstance(err, GatedRepoError):
        return ModelNotFoundError(
            f"Model repo {repo_id!r} is gated: accept its terms on {endpoint}/{repo_id} and set HF_TOKEN."
        )
    if isinstance(err, RepositoryNotFoundError):
        return ModelNotFoundError(
            f"No model repo {repo_id!r} on {endpoint} (or it is private: set HF_TOKEN). "
            "Check the name, or pass a registry name or a local checkpoint folder."
        )
    if isinstance(err, RevisionNotFoundError):
        return ModelNotFoundError(f"Model repo {repo_id!r} has no revision {revision!r} on {endpoint}.")
    return ModelNotFoundError(
        f"Could not get model {repo_id}@{revision or 'main'} from {endpoint}: {type(err).__name__}: {err}. "
        "Check the network (or HF_ENDPOINT), or pass a local checkpoint folder."
    )


__all__ = ["hub_errors", "offline_error", "offline_reason", "translate"]
