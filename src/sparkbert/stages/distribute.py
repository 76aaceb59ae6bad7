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

from sparkbert.model.directory import ModelDirectory
from sparkbert.model.format import MANIFEST_NAME

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


def _conf(spark: Any, key: str, default: str) -> str:
    try:
        return str(spark.conf.get(key, default) or default)
    except Exception:  # Spark Connect may hide cluster settings
        return default


def local_cores(master: str) -> int | None:
    """Cores of a ``local[...]`` master (``*``: this machine's); None for a cluster master.

    Examples
    --------
    >>> local_cores("local[4]"), local_cores("local[2,3]"), local_cores("local"), local_cores("spark://h:7077")
    (4, 2, 1, None)
    """
    if not master.startswith("local"):
        return None
    inside = master[master.find("[") + 1 : master.find("]")] if "[" in master else "1"
    first = inside.split(",")[0].strip()
    return (os.cpu_count() or 1) if first == "*" else max(1, int(first))


def configured_task_slots(spark: Any) -> int:
    """Tasks one executor runs at once, from the master and conf; 0 when the conf does not say.

    0 leaves the decision to the executor, which divides its own cores by ``spark.task.cpus``
    (see ``sparkbert.runtime.session.task_slots``): the driver's cores say nothing about
    an executor's.

    Examples
    --------
    >>> configured_task_slots(None)
    0
    """
    if spark is None:
        return 0
    cores = local_cores(_conf(spark, "spark.master", "local[*]"))
    task_cpus = max(1, int(_conf(spark, "spark.task.cpus", "1")))
    if cores is None:
        executor_cores = _conf(spark, "spark.executor.cores", "")
        if not executor_cores:
            return 0
        cores = int(executor_cores)
    return max(1, cores // task_cpus)


def ship_model(spark: Any, model: ModelDirectory | None) -> str | None:
    """Ship ``model_path`` to the executors if the cluster needs it; return its SparkFiles name.

    Returns None in local mode, on Spark Connect, or when ``spark.sparkbert.shipModel``
    is ``false``: executors then read ``model_path`` itself.

    Examples
    --------
    >>> ship_model(None, None) is None  # in-process: nothing to ship
    True
    """
    if spark is None or model is None:
        return None
    if local_cores(_conf(spark, "spark.master", "local[*]")) is not None:
        return None
    if _conf(spark, "spark.sparkbert.shipModel", "true").lower() == "false":
        return None
    try:
        sc = spark.sparkContext
    except Exception:  # Spark Connect: no SparkContext; the model must be on a shared path
        return None
    name = shipped_name(model.identity)
    key = (sc.applicationId, name)
    with _LOCK:
        if key in _SHIPPED:
            return name
        staging = tempfile.mkdtemp(prefix=".sparkbert.staging-")
        atexit.register(shutil.rmtree, staging, True)
        archive = os.path.join(staging, name)
        logger.info("shipping model directory %s to executors as %s", model.path, name)
        _zip_folder(model, archive)
        sc.addArchive(archive)
        _SHIPPED[key] = name
    return name


def _zip_folder(model: ModelDirectory, archive: str) -> None:
    """Write the model directory ``folder`` into an uncompressed zip, at its root.

    Only the files its manifest lists (names checked, symlinks kept inside) and the manifest
    go in: anything else in the folder (a stray pickle, a link to elsewhere) is not shipped.
    """
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as z:
        for entry in sorted([*model.manifest["files"], MANIFEST_NAME]):
            z.write(model.path / entry, entry)
