"""Getting a model directory to executors without pickling or broadcasting weights.

In local mode executors read the driver's directory directly. On a cluster the
directory is packed into an uncompressed zip named after the model's identity and
shipped once per application with ``SparkContext.addArchive`` (Spark refuses
``addFile`` of a local directory outside local mode); each executor unpacks it
once and loads it from ``SparkFiles``. The zip stays on the driver until it exits,
so an executor that joins later (one replacing a lost executor) can fetch it too.
A directory on a filesystem every executor mounts needs no shipping: set
``spark.sparkbert.shipModel`` to ``false``.

Examples
--------
>>> shipped_name("0123456789abcdef0123")
'sparkbert-model-0123456789abcdef.zip'
"""

from __future__ import annotations

import atexit
import logging
import os
import shutil
import tempfile
import threading
import zipfile
from typing import Any

logger = logging.getLogger(__name__)

_SHIPPED: dict[tuple[str, str], str] = {}
_LOCK = threading.Lock()


def shipped_name(identity: str) -> str:
    """Return the ``SparkFiles`` name a model directory is shipped (and unpacked) under.

    Examples
    --------
    >>> shipped_name("ab" * 20)[:16]
    'sparkbert-model-'
    """
    return f"sparkbert-model-{identity[:16]}.zip"


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
        atexit.register(shutil.rmtree, staging, True)
        archive = os.path.join(staging, name)
        logger.info("shipping model directory %s to executors as %s", model_path, name)
        _zip_folder(model_path, archive)
        sc.addArchive(archive)
        _SHIPPED[key] = name
    return name


def _zip_folder(folder: str, archive: str) -> None:
    """Write the model directory ``folder`` into an uncompressed zip, at its root.

    Only the files its manifest lists (names checked, symlinks kept inside) and the manifest
    go in: anything else in the folder (a stray pickle, a link to elsewhere) is not shipped.
    """
    from sparkbert.model.directory import MANIFEST_NAME, ModelDirectory

    directory = ModelDirectory.load(folder, verify=False)
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as z:
        for entry in sorted([*directory.manifest["files"], MANIFEST_NAME]):
            z.write(os.path.join(folder, entry), entry)
