"""A saved pipeline is data: loading it never reads or writes outside it and never runs its code.

One pipeline (DocumentAssembler → SentenceDetector → Tokenizer → BertEmbeddings) is saved once;
each test tampers with a copy the way a malicious or careless sender could, next to an
"outside" folder holding a valid model copy and a secret file to lure a loader. inotify
(:mod:`tests.helpers.fswatch`) records every open, read and write in the outside folder and
next to the saved folder, by any process (driver, JVM, Python workers, ONNX Runtime), so the
tests see not only that loading refuses but that it touched nothing on the way.

Also: the zip a cluster job ships to executors holds only the manifest's files, and no
sparkbert module imports an unpickler or calls ``eval``/``exec``.

Not covered, because pyspark reads it before any sparkbert code runs: the pipeline's own
``metadata`` and the ``stageUids`` it lists. A uid such as ``x/../../../elsewhere`` makes
pyspark's ``PipelineModel.load`` load that stage from outside the saved folder (tried by
hand with pyspark 4.3), and each stage's ``class`` is imported by its name.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
from pyspark.ml import Pipeline, PipelineModel
from pyspark.sql import SparkSession
from tests.helpers.fswatch import FolderWatch

from sparkbert import BertEmbeddings, DocumentAssembler, SentenceDetector, Tokenizer
from sparkbert.errors import UnsafeModelError
from sparkbert.model.directory import MANIFEST_NAME, ModelDirectory, file_entry
from sparkbert.stages.distribute import _zip_folder

pytestmark = [pytest.mark.spark, pytest.mark.slow]

TEXTS = ["Hello world. Zweiter Satz!", "東京は晴れ。", "[CLS] typed by a user is text."]


def _vectors(model: PipelineModel, spark: SparkSession) -> dict[int, np.ndarray]:
    df = spark.createDataFrame(list(enumerate(TEXTS)), "id int, text string")
    return {r.id: np.array([e.embeddings for e in r.embeddings]) for r in model.transform(df).collect()}


@pytest.fixture(scope="module")
def saved(
    spark: SparkSession, tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Any]:
    """A saved pipeline (its model copied from a folder deleted since) and its expected vectors."""
    root = tmp_path_factory.mktemp("saved")
    shutil.copytree(tiny_model_dir, root / "model-copy")
    stages: list[Any] = [
        DocumentAssembler(),
        SentenceDetector(),
        Tokenizer(),
        BertEmbeddings(modelPath=str(root / "model-copy")),
    ]
    model = Pipeline(stages=stages).fit(spark.createDataFrame([("x",)], "text string"))
    model.save(str(root / "pipeline"))
    expected = _vectors(model, spark)
    shutil.rmtree(root / "model-copy")
    return root / "pipeline", expected


class Scene:
    """A fresh copy of the saved pipeline in ``work/saved`` and a lure in ``work/outside``."""

    def __init__(self, saved: Path, model_dir: Path, work: Path) -> None:
        self.work, self.saved, self.outside = work, work / "saved", work / "outside"
        shutil.copytree(saved, self.saved, symlinks=True)
        shutil.copytree(model_dir, self.outside / "model")
        (self.outside / "x").write_text("a secret the loader must not read\n")
        self.stage = next((self.saved / "stages").glob("*BertEmbeddings*"))
        self.model = self.stage / "model"

    def watch(self) -> FolderWatch:
        return FolderWatch(self.work, self.outside, self.outside / "model")

    def touched_outside(self, watch: FolderWatch) -> list[Any]:
        """Events outside the saved folder (in ``work`` only the saved folder itself may appear)."""
        return [e for e in watch.events() if not (e[0] == self.work and e[1] == "saved")]

    def edit_manifest(self, change: Any) -> None:
        manifest = json.loads((self.model / MANIFEST_NAME).read_text())
        change(manifest)
        (self.model / MANIFEST_NAME).write_text(json.dumps(manifest))


@pytest.fixture
def scene(saved: tuple[Path, Any], tiny_model_dir: Path, tmp_path: Path) -> Scene:
    return Scene(saved[0], tiny_model_dir, tmp_path)


def _name_outside(scene: Scene, how: str) -> str:
    target = scene.outside / "x"
    return {"../x": "../x", "relative": os.path.relpath(target, scene.model), "absolute": str(target)}[how]


@pytest.mark.parametrize("how", ["../x", "relative", "absolute"])
def test_manifest_naming_a_path_outside_is_refused(scene: Scene, how: str) -> None:
    name = _name_outside(scene, how)
    entry = file_entry(scene.outside / "x")
    scene.edit_manifest(lambda m: m["files"].__setitem__(name, entry))
    with scene.watch() as watch, pytest.raises(UnsafeModelError, match="not a plain file name"):
        PipelineModel.load(str(scene.saved))
    assert scene.touched_outside(watch) == []


def test_graph_reading_weights_from_outside_is_refused(scene: Scene) -> None:
    """A model.onnx whose external data points outside, with a manifest that matches it."""
    graph = onnx.load(str(scene.model / "model.onnx"), load_external_data=False)
    location = os.path.relpath(scene.outside / "model" / "model.onnx.data", scene.model)
    for tensor in graph.graph.initializer:
        for entry in tensor.external_data:
            if entry.key == "location":
                entry.value = location
    onnx.save(graph, str(scene.model / "model.onnx"))
    scene.edit_manifest(
        lambda m: m["files"].__setitem__("model.onnx", file_entry(scene.model / "model.onnx"))
    )
    with scene.watch() as watch, pytest.raises(UnsafeModelError, match="not a plain file name"):
        PipelineModel.load(str(scene.saved))
    assert scene.touched_outside(watch) == []


@pytest.mark.parametrize("linked", ["model", "model/config.json", "model/model.onnx.data"])
def test_symlink_to_outside_is_refused(scene: Scene, linked: str) -> None:
    """The model folder, or one of its files, replaced by a link to a valid copy outside."""
    path = scene.stage / linked
    shutil.rmtree(path) if path.is_dir() else path.unlink()
    path.symlink_to(scene.outside / linked)
    with scene.watch() as watch, pytest.raises(UnsafeModelError, match="outside the"):
        PipelineModel.load(str(scene.saved))
    assert scene.touched_outside(watch) == []


@pytest.mark.parametrize("how", ["relative", "absolute"])
def test_model_path_in_stage_metadata_is_ignored(
    scene: Scene, saved: tuple[Path, Any], spark: SparkSession, how: str
) -> None:
    """modelPath in the saved params names the outside copy: the saved model is used regardless."""
    metadata = next((scene.stage / "metadata").glob("part-*"))
    params = json.loads(metadata.read_text())
    target = scene.outside / "model"
    params["paramMap"]["modelPath"] = str(target) if how == "absolute" else os.path.relpath(target)
    metadata.write_text(json.dumps(params) + "\n")
    (metadata.parent / f".{metadata.name}.crc").unlink()  # Hadoop's checksum of the file changed
    with scene.watch() as watch:
        model = PipelineModel.load(str(scene.saved))
        embeddings = model.stages[-1]
        assert isinstance(embeddings, BertEmbeddings)
        assert Path(embeddings.getModelPath()).resolve() == scene.model.resolve()
        vectors = _vectors(model, spark)
    assert scene.touched_outside(watch) == []
    expected = saved[1]
    assert vectors.keys() == expected.keys()
    assert all(np.array_equal(vectors[k], expected[k]) for k in expected)


class _Payload:
    """Unpickling this writes the marker file: proof that a pickle ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (Path.write_text, (self.marker, "a pickle ran"))


def test_stray_pickles_and_code_are_never_opened(
    scene: Scene, saved: tuple[Path, Any], spark: SparkSession
) -> None:
    """Pickles and Python files in the saved folders are neither opened nor run, on load or transform."""
    marker = scene.work / "marker"
    code = f"import pathlib; pathlib.Path({str(marker)!r}).write_text('code ran')\n"
    planted = []
    for folder in (scene.saved, scene.stage, scene.model):
        for name in ("pytorch_model.bin", "model.pkl", "tokenizer.pickle"):
            (folder / name).write_bytes(pickle.dumps(_Payload(marker)))
            planted.append((folder, name))
        for name in ("__init__.py", "sitecustomize.py", "model.py"):
            (folder / name).write_text(code)
            planted.append((folder, name))
    with FolderWatch(scene.saved, scene.stage, scene.model) as watch:
        vectors = _vectors(PipelineModel.load(str(scene.saved)), spark)
    opened = [(folder.name, name) for folder, name, _ in watch.events() if (folder, name) in planted]
    assert opened == []
    assert not marker.exists()
    expected = saved[1]
    assert all(np.array_equal(vectors[k], expected[k]) for k in expected)


def test_shipped_model_holds_only_its_listed_files(
    scene: Scene, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """On a cluster the model folder is zipped for the executors: strays and links stay behind."""
    (scene.model / "model.pkl").write_bytes(b"not shipped")
    (scene.model / "notes").symlink_to(scene.outside / "x")
    archive = tmp_path_factory.mktemp("ship") / "shipped.zip"
    with scene.watch() as watch:
        _zip_folder(ModelDirectory.load(scene.model, verify=False), str(archive))
    assert scene.touched_outside(watch) == []
    listed = json.loads((scene.model / MANIFEST_NAME).read_text())["files"]
    assert sorted(zipfile.ZipFile(archive).namelist()) == sorted([*listed, MANIFEST_NAME])


def test_no_module_can_unpickle_or_eval() -> None:
    """No pickle anywhere: sparkbert imports no unpickler and calls no eval, exec or allow_pickle."""
    import ast

    import sparkbert

    unpicklers = {
        "pickle",
        "_pickle",
        "cPickle",
        "cloudpickle",
        "dill",
        "joblib",
        "marshal",
        "shelve",
        "torch",
    }
    found = []
    for path in sorted(Path(sparkbert.__file__).parent.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                names = []
            found += [f"{path.name}: import {n}" for n in names if n.split(".")[0] in unpicklers]
            if isinstance(node, ast.Call):
                if isinstance(node.func, ast.Name) and node.func.id in {"eval", "exec"}:
                    found.append(f"{path.name}:{node.lineno}: {node.func.id}()")
                if any(k.arg == "allow_pickle" for k in node.keywords):
                    found.append(f"{path.name}:{node.lineno}: allow_pickle")
    assert found == []
