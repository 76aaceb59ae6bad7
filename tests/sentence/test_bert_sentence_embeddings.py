"""BertSentenceEmbeddings in a real local[2] Spark pipeline: rows kept, Spark = LightPipeline = encode, save/load."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pyspark.ml import Pipeline, PipelineModel
from pyspark.sql import SparkSession
from tests.conftest import minilm_checkpoint

from sparkbert import (
    BertSentenceEmbeddings,
    DocumentAssembler,
    InvalidParamError,
    LightPipeline,
    SentenceDetector,
    encode,
)
from sparkbert.model.convert import convert_checkpoint

pytestmark = pytest.mark.spark

TEXTS = [
    "Hello world. Hallo Welt! Bonjour le monde.",
    "東京は晴れ。明日は雨！",
    None,
    "",
    "   ",
    "One sentence only",
]


@pytest.fixture(scope="module")
def minilm_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return Path(convert_checkpoint(minilm_checkpoint(), tmp_path_factory.mktemp("minilm") / "fp32").path)


def _pipeline(model_dir: Path) -> PipelineModel:
    stages = [
        DocumentAssembler(),
        SentenceDetector().setInputCols("document").setOutputCol("sentence"),
        BertSentenceEmbeddings(modelPath=str(model_dir)).setInputCols("sentence"),
        BertSentenceEmbeddings(modelPath=str(model_dir), poolingStrategy="cls")
        .setInputCols("document")
        .setOutputCol("document_vector"),
    ]
    return Pipeline(stages=stages).fit(None)  # type: ignore[arg-type]


def test_one_vector_per_annotation_rows_kept(spark: SparkSession, minilm_dir: Path) -> None:
    df = spark.createDataFrame([(i, t) for i, t in enumerate(TEXTS)], "id int, text string").repartition(2)
    out = _pipeline(minilm_dir).transform(df)
    meta = out.schema["sentence_embeddings"].metadata
    assert meta["annotatorType"] == "sentence_embeddings" and meta["dimension"] == 384
    rows = {r["id"]: r for r in out.collect()}
    assert sorted(rows) == list(range(len(TEXTS)))  # no row dropped
    for i in (2, 3, 4):  # null, empty, blank: empty arrays, same place
        assert rows[i]["sentence_embeddings"] == [] and rows[i]["document_vector"] == []
    first = rows[0]
    assert [a.result for a in first["sentence_embeddings"]] == [a.result for a in first["sentence"]]
    for vec, sentence in zip(first["sentence_embeddings"], first["sentence"]):
        assert (vec.begin, vec.end, vec.annotatorType) == (
            sentence.begin,
            sentence.end,
            "sentence_embeddings",
        )
        assert vec.metadata["sentence"] == sentence.metadata["sentence"] and vec.metadata["windows"] == "1"
    sentences = [a.result for a in first["sentence_embeddings"]]
    expected = encode(sentences, model=str(minilm_dir))
    got = np.array([a.embeddings for a in first["sentence_embeddings"]], dtype=np.float32)
    assert float(np.abs(got - expected).max()) <= 1e-6
    assert len(rows[0]["document_vector"]) == 1 and rows[0]["document_vector"][0].result == TEXTS[0]


def test_light_pipeline_equals_spark_and_save_load(
    spark: SparkSession, minilm_dir: Path, tmp_path: Path
) -> None:
    model = _pipeline(minilm_dir)
    light = LightPipeline(model).fullAnnotate(TEXTS[0])[0]
    spark_row = model.transform(spark.createDataFrame([(TEXTS[0],)], ["text"])).first()
    assert spark_row is not None
    for col in ("sentence_embeddings", "document_vector"):
        ours = np.array([a.embeddings for a in light[col]])
        theirs = np.array([a.embeddings for a in spark_row[col]])
        assert ours.shape == theirs.shape and float(np.abs(ours - theirs).max()) <= 1e-6
    model.write().save(str(tmp_path / "saved"))
    loaded = PipelineModel.load(str(tmp_path / "saved"))
    stage = loaded.stages[2]
    assert isinstance(stage, BertSentenceEmbeddings) and stage.getModelPath().startswith(str(tmp_path))
    again = LightPipeline(loaded).fullAnnotate(TEXTS[0])[0]["sentence_embeddings"]
    assert np.array_equal(
        np.array([a.embeddings for a in again]),
        np.array([a.embeddings for a in light["sentence_embeddings"]]),
    )


def test_defaults_come_from_the_checkpoint(minilm_dir: Path) -> None:
    stage = BertSentenceEmbeddings(modelPath=str(minilm_dir))
    assert (stage.getPoolingStrategy(), stage.getNormalize(), stage.getMaxSentenceLength()) == (
        "auto",
        True,
        256,
    )
    assert stage.setNormalize(False).getNormalize() is False
    assert stage.setMaxSentenceLength(64).getMaxSentenceLength() == 64
    with pytest.raises(InvalidParamError, match="poolingStrategy"):
        stage.setPoolingStrategy("median")
    with pytest.raises(InvalidParamError, match="maxSentenceLength"):
        stage.setMaxSentenceLength(5000)


def test_int8_stays_close(minilm_dir: Path, tmp_path: Path) -> None:
    int8 = convert_checkpoint(minilm_checkpoint(), tmp_path / "int8", precision="int8")
    assert (int8.path / "sentence_head.safetensors").is_file()
    texts = ["A cat sits on the mat.", "Eine Katze sitzt auf der Matte."]
    fp32, q = encode(texts, model=str(minilm_dir)), encode(texts, model=str(int8.path))
    assert float((fp32 * q).sum(1).min()) > 0.98  # both unit length: cosine
