"""BertEmbeddings inside a real local[2] Spark pipeline: full pipeline, invariance, save/load, errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pyspark.ml import Pipeline, PipelineModel
from pyspark.ml.linalg import DenseVector
from pyspark.sql import SparkSession
from tests.conftest import REPO, UD_LANGS, load_ud

from sparkbert import (
    BertEmbeddings,
    DocumentAssembler,
    EmbeddingsFinisher,
    InvalidParamError,
    SchemaError,
    SentenceDetector,
    SentenceEmbeddings,
    Tokenizer,
)

pytestmark = pytest.mark.spark

TEXTS = [
    "The quick brown fox jumps. Der schnelle braune Fuchs springt!",
    "東京は晴れ。明日は雨！",
    "[CLS] typed by a user is text, so is [SEP] and [MASK].",
    "Ünïcödé café naïve résumé — accents stay.",
    None,
    "",
    "   ",
    "\u200b\u200b",
]


def _pipeline(model_dir: Path, **bert: Any) -> Pipeline:
    return Pipeline(
        stages=[
            DocumentAssembler().setInputCol("text").setOutputCol("document"),
            SentenceDetector().setInputCols("document").setOutputCol("sentence"),
            Tokenizer().setInputCols("sentence").setOutputCol("token"),
            BertEmbeddings(modelPath=str(model_dir), **bert)
            .setInputCols("sentence", "token")
            .setOutputCol("embeddings"),
            EmbeddingsFinisher().setInputCols("embeddings").setOutputCols("vectors"),
        ]
    )


def _df(spark: SparkSession, texts: list[Any], partitions: int = 2) -> Any:
    return spark.createDataFrame([(i, t) for i, t in enumerate(texts)], "id int, text string").repartition(
        partitions
    )


def _vectors(rows: list[Any]) -> dict[int, np.ndarray]:
    return {r.id: np.array(r.vectors, dtype=np.float32).reshape(len(r.vectors), -1) for r in rows}


def test_full_pipeline_embeds_every_token(spark: SparkSession, tiny_model_dir: Path) -> None:
    df = _df(spark, TEXTS)
    out = _pipeline(tiny_model_dir).fit(df).transform(df)
    meta = out.schema["embeddings"].metadata
    assert meta["annotatorType"] == "word_embeddings" and meta["dimension"] == 32
    rows = out.orderBy("id").collect()
    assert [r.id for r in rows] == list(range(len(TEXTS)))
    for row in rows:
        assert len(row.embeddings) == len(row.token) == len(row.vectors)
        for tok, emb in zip(row.token, row.embeddings):
            assert (emb.begin, emb.end, emb.result) == (tok.begin, tok.end, tok.result)
            assert row.text[emb.begin : emb.end + 1] == emb.result
            assert len(emb.embeddings) == 32
            assert set(emb.metadata) >= {"sentence", "token", "pieceId", "isWordStart", "isOOV", "noPieces"}
    cls_row = rows[2]
    assert [e.result for e in cls_row.embeddings[:3]] == ["[", "CLS", "]"]
    assert all(e.metadata["pieceId"] not in {"101", "102", "103"} for e in cls_row.embeddings)
    assert rows[3].embeddings[0].metadata["isOOV"] == "false"  # accents are not stripped into [UNK]


def test_results_do_not_depend_on_batching_or_partitioning(spark: SparkSession, tiny_model_dir: Path) -> None:
    """Row for row the same tokens, offsets and vectors (<= 1e-5) over 1, 2, 3 and 7 partitions and
    batchSize 1, 8 and 64; running the same job again gives identical output."""
    texts = [str(r["text"]) for lang in UD_LANGS for r in load_ud(lang)[:8]]
    runs = []
    for partitions, batch in ((1, 1), (2, 8), (3, 8), (7, 64), (7, 64)):
        df = _df(spark, texts, partitions)
        rows = _pipeline(tiny_model_dir, batchSize=batch).fit(df).transform(df).collect()
        assert sorted(r.id for r in rows) == list(range(len(texts)))
        offsets = {r.id: [(e.begin, e.end, e.result) for e in r.embeddings] for r in rows}
        runs.append((offsets, _vectors(rows)))
    first_offsets, first_vectors = runs[0]
    for offsets, vectors in runs[1:]:
        assert offsets == first_offsets
        worst = max(
            float(np.abs(vectors[k] - first_vectors[k]).max()) for k in first_vectors if vectors[k].size
        )
        assert worst <= 1e-5
    (_, again), (_, repeated) = runs[-2:]  # the same job twice
    assert all(np.array_equal(again[k], repeated[k]) for k in again)


def test_sentence_embeddings_and_vectors_for_pyspark_ml(spark: SparkSession, tiny_model_dir: Path) -> None:
    df = _df(spark, ["One sentence here. And another one!", None])
    stages = [
        *_pipeline(tiny_model_dir).getStages()[:4],
        SentenceEmbeddings().setInputCols("sentence", "embeddings").setOutputCol("sentence_embeddings"),
        EmbeddingsFinisher(outputAsVector=True).setInputCols("sentence_embeddings").setOutputCols("sv"),
    ]
    rows = Pipeline(stages=stages).fit(df).transform(df).orderBy("id").collect()
    first = rows[0]
    assert len(first.sentence_embeddings) == len(first.sentence) == 2
    assert all(isinstance(v, DenseVector) and len(v) == 32 for v in first.sv)
    words = np.array([e.embeddings for e in first.embeddings if e.metadata["sentence"] == "0"])
    assert np.allclose(first.sv[0].toArray(), words.mean(0), atol=1e-6)
    assert rows[1].sv == []


def test_misconfiguration_fails_on_the_driver(spark: SparkSession, tiny_model_dir: Path) -> None:
    df = _df(spark, ["a b"])
    tokens = Pipeline(stages=_pipeline(tiny_model_dir).getStages()[:3]).fit(df).transform(df)
    with pytest.raises(InvalidParamError, match="maxSentenceLength.*600.*512"):
        BertEmbeddings(modelPath=str(tiny_model_dir), maxSentenceLength=600).transform(tokens)
    with pytest.raises(SchemaError, match="'token'.*expected annotator type 'document'"):
        BertEmbeddings(modelPath=str(tiny_model_dir)).setInputCols("token", "token").transform(tokens)
    with pytest.raises(InvalidParamError, match="poolingStrategy.*'median'"):
        BertEmbeddings().setPoolingStrategy("median")
    with pytest.raises(FileNotFoundError, match="modelPath"):
        BertEmbeddings(modelPath="/nonexistent/model").transform(tokens)


def test_saved_pipeline_is_self_contained(spark: SparkSession, tiny_model_dir: Path, tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "model-copy"
    shutil.copytree(tiny_model_dir, copy)
    df = _df(spark, TEXTS[:4])
    model = _pipeline(copy).fit(df)
    expected = _vectors(model.transform(df).collect())
    path = tmp_path / "saved"
    model.save(str(path))
    shutil.rmtree(copy)  # the saved pipeline must not need the original directory
    out = tmp_path / "out.json"
    script = f"""
import json
from pyspark.sql import SparkSession
from pyspark.ml import PipelineModel
spark = SparkSession.builder.master("local[1]").config("spark.ui.enabled", "false").getOrCreate()
df = spark.createDataFrame([(i, t) for i, t in enumerate({TEXTS[:4]!r})], "id int, text string")
rows = PipelineModel.load({str(path)!r}).transform(df).collect()
json.dump({{r.id: r.vectors for r in rows}}, open({str(out)!r}, "w"))
"""
    subprocess.run(
        [sys.executable, "-c", script],
        check=True,
        cwd=REPO,
        timeout=300,
        env={**__import__("os").environ, "HF_HUB_OFFLINE": "1"},
    )
    loaded = {
        int(k): np.array(v, dtype=np.float32).reshape(len(v), -1)
        for k, v in json.loads(out.read_text()).items()
    }
    assert loaded.keys() == expected.keys()
    for k in expected:
        assert np.array_equal(loaded[k], expected[k])
    # a corrupted saved weight file is rejected on load
    data = next((path / "stages").glob("*BertEmbeddings*")) / "model" / "model.onnx.data"
    raw = bytearray(data.read_bytes())
    raw[100] ^= 0xFF
    data.unlink()
    data.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="sha256"):
        PipelineModel.load(str(path))
