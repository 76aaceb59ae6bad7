"""``sparkbert.load_pipeline``: pyspark's loader, after checks that its metadata cannot lead outside."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from pyspark.ml import Pipeline
from pyspark.sql import SparkSession

from sparkbert import DocumentAssembler, SentenceDetector, Tokenizer, UnsafeModelError, load_pipeline

pytestmark = pytest.mark.spark


def _metadata_file(folder: Path) -> Path:
    return next(p for p in sorted((folder / "metadata").iterdir()) if p.name.startswith("part-"))


def _edit(folder: Path, change: dict[str, object]) -> None:
    file = _metadata_file(folder)
    meta = json.loads(file.read_text().splitlines()[0])
    for key, value in change.items():
        if key == "stageUids":
            meta["paramMap"]["stageUids"] = value
        else:
            meta[key] = value
    file.write_text(json.dumps(meta) + "\n")


@pytest.fixture(scope="module")
def saved(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> Path:
    df = spark.createDataFrame([(0, "One sentence. Two sentences.")], "id long, text string")
    model = Pipeline(stages=[DocumentAssembler(), SentenceDetector(), Tokenizer()]).fit(df)
    path = tmp_path_factory.mktemp("load") / "pipeline"
    model.save(str(path))
    return path


def test_loads_a_clean_pipeline(spark: SparkSession, saved: Path) -> None:
    df = spark.createDataFrame([(0, "One sentence. Two sentences.")], "id long, text string")
    tokens = load_pipeline(str(saved)).transform(df).select("token.result").first()[0]
    assert tokens == ["One", "sentence", ".", "Two", "sentences", "."]


def test_a_stage_uid_leading_outside_is_refused(saved: Path, tmp_path: Path) -> None:
    crafted = tmp_path / "crafted"
    shutil.copytree(saved, crafted)
    outside = tmp_path / "elsewhere_stage"
    stage = next((crafted / "stages").iterdir())
    shutil.copytree(stage, outside)
    meta = json.loads(_metadata_file(crafted).read_text().splitlines()[0])
    uids = meta["paramMap"]["stageUids"]
    _edit(crafted, {"stageUids": ["x/../../../elsewhere_stage", *uids[1:]]})
    with pytest.raises(
        UnsafeModelError, match=r"stage uid 'x/\.\./\.\./\.\./elsewhere_stage' is not a plain name"
    ):
        load_pipeline(str(crafted))


def test_a_foreign_class_is_never_imported(saved: Path, tmp_path: Path) -> None:
    crafted = tmp_path / "crafted"
    shutil.copytree(saved, crafted)
    stage = sorted((crafted / "stages").iterdir())[0]
    _edit(stage, {"class": "os.system"})
    with pytest.raises(
        UnsafeModelError, match="stage class 'os.system' is not from pyspark.ml. or sparkbert."
    ):
        load_pipeline(str(crafted))
