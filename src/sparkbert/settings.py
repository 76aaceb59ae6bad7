"""Environment-driven settings and defaults, in one place.

| variable | meaning | default |
| --- | --- | --- |
| ``SPARKBERT_HOME`` | cache of converted model directories | ``~/.cache/sparkbert`` |
| ``SPARKBERT_OFFLINE`` | never touch the network (also ``HF_HUB_OFFLINE``) | off |
| ``HF_ENDPOINT`` | the Hugging Face Hub, or a mirror of it | ``https://huggingface.co`` |
| ``HF_HUB_CACHE`` | huggingface_hub's cache (else ``HF_HOME``/hub) | ``~/.cache/huggingface/hub`` |

Values are read when asked for, not at import, so a test or a notebook can change
the environment at any time.

Examples
--------
>>> import os
>>> os.environ["SPARKBERT_HOME"] = "/tmp/sb-home"
>>> str(sparkbert_home())
'/tmp/sb-home'
>>> del os.environ["SPARKBERT_HOME"]
"""

from __future__ import annotations

import os
from pathlib import Path

#: Name of the default multilingual model in the built-in registry.
DEFAULT_MODEL = "bert_base_multilingual_cased"
#: Default language code of the default model ("xx": multilingual, as Spark NLP).
DEFAULT_LANG = "xx"
#: Default longest sentence, in word pieces including [CLS] and [SEP], embedded in one pass.
DEFAULT_MAX_SENTENCE_LENGTH = 128
#: Default number of sentences per ONNX Runtime call.
DEFAULT_BATCH_SIZE = 8
#: Default budget of padded word pieces per ONNX Runtime call.
DEFAULT_TOKEN_BUDGET = 8192
#: Largest share of padding positions a batch takes on before it closes (``batching.make_batches``):
#: a chunk's few long sentences have sparse lengths, and batches of 8 padded to their longest
#: row cost the long-paragraph benchmark several percent of the model's time (docs/performance.md).
MAX_BATCH_PADDING = 0.05

_TRUE = {"1", "true", "yes", "on"}


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in _TRUE


def sparkbert_home() -> Path:
    """Return the cache root for converted model directories.

    Examples
    --------
    >>> sparkbert_home().name in {"sparkbert", os.environ.get("SPARKBERT_HOME", "")[-9:]} or True
    True
    """
    env = os.environ.get("SPARKBERT_HOME")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "sparkbert"


def offline() -> bool:
    """Return True when no network access is allowed (``SPARKBERT_OFFLINE`` or ``HF_HUB_OFFLINE``).

    Examples
    --------
    >>> isinstance(offline(), bool)
    True
    """
    return _flag("SPARKBERT_OFFLINE") or _flag("HF_HUB_OFFLINE")


def hub_endpoint() -> str:
    """Return the Hugging Face Hub endpoint (``HF_ENDPOINT``), read now rather than at import.

    ``huggingface_hub`` reads ``HF_ENDPOINT`` once, when it is imported; sparkbert passes this
    value explicitly on every call, so a mirror set later is honoured.

    Examples
    --------
    >>> os.environ["HF_ENDPOINT"] = "http://127.0.0.1:8080/"
    >>> hub_endpoint()
    'http://127.0.0.1:8080'
    >>> del os.environ["HF_ENDPOINT"]
    >>> hub_endpoint()
    'https://huggingface.co'
    """
    return (os.environ.get("HF_ENDPOINT") or "https://huggingface.co").strip().rstrip("/")


def hf_hub_cache() -> Path:
    """Return the ``huggingface_hub`` download cache (``HF_HUB_CACHE``, else ``HF_HOME``/hub), read now.

    sparkbert only reads it, to copy a file another library already downloaded.

    Examples
    --------
    >>> os.environ["HF_HUB_CACHE"] = "/tmp/hf-cache"
    >>> str(hf_hub_cache())
    '/tmp/hf-cache'
    >>> del os.environ["HF_HUB_CACHE"]
    """
    env = os.environ.get("HF_HUB_CACHE")
    if env:
        return Path(env).expanduser()
    home = os.environ.get("HF_HOME")
    if home:
        return Path(home).expanduser() / "hub"
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "huggingface" / "hub"
