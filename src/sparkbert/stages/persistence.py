"""Self-contained persistence for stages that run a model directory.

``PipelineModel.save(path)`` writes the stage's params *and* its model directory
(``<stage>/model/``, hard-linked from the cache where the filesystem allows,
copied otherwise), so a saved pipeline loads in a fresh process with an empty
cache and no network. Loading verifies every file against the manifest's sha256
and never follows paths that leave the saved folder.

Examples
--------
>>> from sparkbert import BertEmbeddings
>>> type(BertEmbeddings().write()).__name__, type(BertEmbeddings.read()).__name__
('ModelDirWriter', 'ModelDirReader')
"""

from __future__ import annotations

import json
import os
import re
import shutil
from typing import Any

import pyspark
from pyspark.ml.util import DefaultParamsReader, DefaultParamsWriter, MLReader, MLWriter

from sparkbert._paths import link_leaves, local_path
from sparkbert.errors import SparkBertError, UnsafeModelError
from sparkbert.model.directory import MANIFEST_NAME, ModelDirectory

MODEL_SUBDIR = "model"


def _local(path: str) -> str:
    local = local_path(path)
    if local is None:
        raise SparkBertError(
            f"Saving or loading a model stage needs a local or mounted path; got {path!r}. "
            "Save to a local folder, then copy it to the distributed filesystem."
        )
    return local


def refuse_links_out(folder: str) -> None:
    """Raise if anything inside ``folder`` is a symlink that resolves outside it.

    A saved stage holds its files: a ``model`` folder or a file linked to elsewhere would
    make loading read (and a cluster job ship) what the saved folder does not contain.

    Raises
    ------
    UnsafeModelError
        Naming the link and where it points.

    Examples
    --------
    >>> import tempfile
    >>> folder, elsewhere = tempfile.mkdtemp(), tempfile.mkdtemp()
    >>> os.symlink(elsewhere, os.path.join(folder, "model"))
    >>> refuse_links_out(folder)
    Traceback (most recent call last):
    ...
    sparkbert.errors.UnsafeModelError: .../model is a symlink to ..., outside the saved stage ...
    """
    for current, dirs, files in os.walk(folder):  # symlinked folders are listed, not entered
        for name in [*dirs, *files]:
            path = os.path.join(current, name)
            target = link_leaves(path, folder)
            if target is not None:
                raise UnsafeModelError(
                    f"{path} is a symlink to {target}, outside the saved stage {folder}; "
                    "a saved stage must hold its own files (copy them in instead of linking)"
                )


def link_or_copy(src: str, dst: str) -> None:
    """Hard-link ``src`` to ``dst`` (same filesystem) or copy it.

    Examples
    --------
    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> with open(os.path.join(folder, "a.bin"), "wb") as f:
    ...     _ = f.write(b"weights")
    >>> link_or_copy(os.path.join(folder, "a.bin"), os.path.join(folder, "b.bin"))
    >>> open(os.path.join(folder, "b.bin"), "rb").read()
    b'weights'
    """
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


class ModelDirWriter(DefaultParamsWriter):  # type: ignore[misc]
    """Writes params as DefaultParamsWriter does, plus the model directory.

    Examples
    --------
    >>> from sparkbert import BertEmbeddings
    >>> isinstance(BertEmbeddings().write(), ModelDirWriter)
    True
    """

    def saveImpl(self, path: str) -> None:
        """Write the params, then link or copy the model directory into ``<path>/model``.

        Examples
        --------
        >>> import tempfile
        >>> from pyspark.sql import SparkSession
        >>> from sparkbert import BertEmbeddings
        >>> spark = SparkSession.builder.master("local[1]").getOrCreate()
        >>> path = os.path.join(tempfile.mkdtemp(), "stage")
        >>> BertEmbeddings().setModelPath("/nonexistent").write().save(path)
        Traceback (most recent call last):
        ...
        sparkbert.errors.ModelNotFoundError: No model directory at /nonexistent
        """
        super().saveImpl(path)
        source = ModelDirectory.load(self.instance.getModelPath(), verify=False)  # type: ignore[attr-defined]
        target = os.path.join(_local(path), MODEL_SUBDIR)
        os.makedirs(target, exist_ok=True)
        for name in [*source.manifest["files"], MANIFEST_NAME]:
            link_or_copy(os.path.join(source.path, name), os.path.join(target, name))


class ModelDirReader(DefaultParamsReader):  # type: ignore[misc,type-arg]
    """Reads params as DefaultParamsReader does and points ``modelPath`` at the saved copy.

    The ``modelPath`` stored in the params is never used: the model is always the saved
    folder's ``model/``, checked file by file against its manifest, and a stage holding a
    symlink to outside itself is refused before anything is read.

    Examples
    --------
    >>> from sparkbert import BertEmbeddings
    >>> isinstance(BertEmbeddings.read(), ModelDirReader)
    True
    """

    def load(self, path: str) -> Any:
        """Load the params, then check ``<path>/model`` against its manifest and point at it.

        Examples
        --------
        >>> import tempfile
        >>> from pyspark.ml.util import DefaultParamsWriter
        >>> from pyspark.sql import SparkSession
        >>> from sparkbert import BertEmbeddings
        >>> spark = SparkSession.builder.master("local[1]").getOrCreate()
        >>> path = os.path.join(tempfile.mkdtemp(), "stage")
        >>> DefaultParamsWriter(BertEmbeddings()).save(path)  # params only, no model directory
        >>> BertEmbeddings.load(path)
        Traceback (most recent call last):
        ...
        sparkbert.errors.ModelNotFoundError: No model directory at .../stage/model
        """
        refuse_links_out(_local(path))
        session = getattr(self, "sparkSession", None) or self.sc
        if pyspark.__version__.startswith("3."):  # 3.5's loadMetadata reads with sc.textFile
            session = self.sc
        metadata = DefaultParamsReader.loadMetadata(path, session)
        instance: Any = self.cls()
        instance._resetUid(metadata["uid"])
        # the saved modelPath names a folder on the writer's machine: never read it
        DefaultParamsReader.getAndSetParams(instance, metadata, skipParams=["modelPath"])
        directory = ModelDirectory.load(os.path.join(_local(path), MODEL_SUBDIR), verify=True)
        instance._set(modelPath=str(directory.path))
        return instance


class ModelDirWritable:
    """Mixin: ``write()`` returns a ``ModelDirWriter``."""

    def write(self) -> MLWriter:
        """Return the writer that saves params and the model directory."""
        return ModelDirWriter(self)  # type: ignore[arg-type]


class ModelDirReadable:
    """Mixin: ``read()`` returns a ``ModelDirReader``."""

    @classmethod
    def read(cls) -> MLReader:  # type: ignore[type-arg]
        """Return the reader that loads params and the saved model directory.

        Examples
        --------
        >>> from sparkbert import BertEmbeddings
        >>> type(BertEmbeddings.read()).__name__
        'ModelDirReader'
        """
        return ModelDirReader(cls)  # type: ignore[arg-type]


#: A stage uid as pyspark writes it (``Tokenizer_6b062cbefb14``): a plain name, never a path.
_UID = re.compile(r"^[A-Za-z0-9_]+$")
#: Where the classes of a loadable pipeline may come from.
TRUSTED_MODULES = ("pyspark.ml.", "sparkbert.")


def _metadata(folder: str) -> dict[str, Any]:
    meta = os.path.join(folder, "metadata")
    parts = sorted(p for p in os.listdir(meta) if p.startswith("part-")) if os.path.isdir(meta) else []
    for part in parts:
        with open(os.path.join(meta, part), encoding="utf-8") as f:
            line = f.readline().strip()
        if line:
            return dict(json.loads(line))
    raise SparkBertError(f"{folder} is not a saved pyspark.ml stage: no metadata/part-* file")


def check_saved_pipeline(path: str) -> None:
    """Check a saved ``PipelineModel`` folder before pyspark reads it; raise if it is unsafe.

    pyspark's ``PipelineModel.load`` joins every stage uid found in the metadata into a
    path (``stages/<i>_<uid>``) and imports every class the metadata names. A crafted
    folder could therefore make it read a stage from outside the folder (a uid holding
    ``../``) or import a module of the attacker's choosing. This checks, for the pipeline
    and every stage, nested pipelines included, that each uid is a plain name, each stage
    folder exists inside ``path`` and each class comes from ``pyspark.ml`` or ``sparkbert``.

    Raises
    ------
    UnsafeModelError
        Naming the uid, class or link and why it is refused.

    Examples
    --------
    >>> import json, tempfile
    >>> folder = tempfile.mkdtemp()
    >>> os.makedirs(os.path.join(folder, "metadata"))
    >>> meta = {"class": "pyspark.ml.pipeline.PipelineModel", "uid": "PipelineModel_1",
    ...         "paramMap": {"stageUids": ["x/../../../elsewhere"]}}
    >>> with open(os.path.join(folder, "metadata", "part-00000"), "w") as f:
    ...     _ = f.write(json.dumps(meta))
    >>> check_saved_pipeline(folder)
    Traceback (most recent call last):
    ...
    sparkbert.errors.UnsafeModelError: Saved pipeline ... stage uid 'x/../../../elsewhere' is not a plain name; refusing to load it.
    """
    root = os.path.realpath(_local(path))
    refuse_links_out(root)
    _check_stage(root, root)


def _check_stage(folder: str, root: str) -> None:
    meta = _metadata(folder)
    cls = str(meta.get("class", ""))
    if not cls.startswith(TRUSTED_MODULES):
        raise UnsafeModelError(
            f"Saved pipeline {root}: stage class {cls!r} is not from {' or '.join(TRUSTED_MODULES)}; "
            "refusing to import it."
        )
    uids = (meta.get("paramMap") or {}).get("stageUids")
    if uids is None:
        return
    for index, uid in enumerate(uids):
        if not isinstance(uid, str) or not _UID.match(uid):
            raise UnsafeModelError(
                f"Saved pipeline {root}: stage uid {uid!r} is not a plain name; refusing to load it."
            )
        stage = os.path.join(folder, "stages", f"{index}_{uid}")
        if not os.path.isdir(stage) or not os.path.realpath(stage).startswith(root + os.sep):
            raise UnsafeModelError(f"Saved pipeline {root}: stage folder {stage} is missing or outside it.")
        _check_stage(stage, root)


def load_pipeline(path: str) -> Any:
    """Load a saved ``PipelineModel`` after ``check_saved_pipeline``; use it for folders you did not write.

    Same result as ``PipelineModel.load(path)``; a folder that would make pyspark read
    outside it or import a foreign class raises ``UnsafeModelError``
    instead. Needs a local (or mounted) path.

    Examples
    --------
    >>> load_pipeline("/nonexistent")
    Traceback (most recent call last):
    ...
    sparkbert.errors.SparkBertError: /nonexistent is not a saved pyspark.ml stage: no metadata/part-* file
    """
    from pyspark.ml import PipelineModel

    check_saved_pipeline(path)
    return PipelineModel.load(path)
