"""Getting a model directory to executors without pickling or broadcasting weights.

In local mode executors read the driver's directory directly. On a cluster the
directory is shipped once per application with ``SparkContext.addFile`` under a
name derived from the model's identity, and each executor process loads it from
``SparkFiles``. A directory on a filesystem every executor mounts needs no
shipping: set ``spark.sparkbert.shipModel`` to ``false``.

Examples
--------
>>> shipped_name("0123456789abcdef0123")
'sparkbert-model-0123456789abcdef'
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
from typing import Any

logger = logging.getLogger(__name__)

_SHIPPED: dict[tuple[str, str], str] = {}
_LOCK = threading.Lock()


def shipped_name(identity: str) -> str:
    """Return the ``SparkFiles`` name a model directory is shipped under.

    Examples
    --------
    >>> shipped_name("ab" * 20)[:16]
    'sparkbert-model-'
    """
    return f"sparkbert-model-{identity[:16]}"


def ship_model(spark: Any, model_path: str) -> str | None:
    """Ship ``model_path`` to the executors if the cluster needs it; return its SparkFiles name.

    Returns None in local mode, on Spark Connect, or when ``spark.sparkbert.shipModel``
    is ``false``: executors then read ``model_path`` itself.

    Examples
    --------
    >>> ship_model(None, "/models/m") is None
    True
    """
    if spark is None:
        return None
    try:
        master = spark.conf.get("spark.master", "local[*]") or "local[*]"
        ship = (spark.conf.get("spark.sparkbert.shipModel", "true") or "true").lower() != "false"
        sc = spark.sparkContext
    except Exception:  # Spark Connect: no SparkContext; the model must be on a shared path
        return None
    if master.startswith("local") or not ship:
        return None
    from sparkbert.runtime.embedder import model_identity

    name = shipped_name(model_identity(model_path))
    key = (sc.applicationId, name)
    with _LOCK:
        if key in _SHIPPED:
            return name
        staging = tempfile.mkdtemp(prefix="sparkbert-ship-")
        link = os.path.join(staging, name)
        os.symlink(os.path.realpath(model_path), link)
        logger.info("shipping model directory %s to executors as %s", model_path, name)
        sc.addFile(link, recursive=True)
        _SHIPPED[key] = name
    return name
