"""Consecutive sparkbert stages run in one mapInArrow, with the same output as stage by stage."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pyspark.ml import Pipeline
from pyspark.sql import DataFrame, SparkSession

from sparkbert import BertEmbeddings, DocumentAssembler, SentenceDetector, SentenceEmbeddings, Tokenizer

pytestmark = pytest.mark.spark

TEXTS = [
    "The quick brown fox jumps. Der schnelle braune Fuchs springt!",
    "東京は晴れ。明日は雨！",
    None,
    "",
    "[CLS] typed by a user is text.",
]


def _stages(model_dir: Path) -> list[object]:
    return [
        DocumentAssembler(),
        SentenceDetector(),
        Tokenizer(),
        BertEmbeddings(modelPath=str(model_dir)),
        SentenceEmbeddings(),
    ]


def _python_map_nodes(df: DataFrame) -> int:
    plan = df._jdf.queryExecution().executedPlan().toString()
    return plan.count("MapInArrow")


def _rows(df: DataFrame) -> list[dict[str, object]]:
    return [r.asDict(recursive=True) for r in df.orderBy("id").collect()]


def _same(a: list[dict[str, object]], b: list[dict[str, object]]) -> None:
    assert len(a) == len(b)
    for ra, rb in zip(a, b):
        assert ra.keys() == rb.keys()
        for key in ra:
            if key in ("embeddings", "sentence_embeddings"):
                assert [(x["begin"], x["end"], x["result"], x["metadata"]) for x in ra[key]] == [  # type: ignore[attr-defined]
                    (x["begin"], x["end"], x["result"], x["metadata"])
                    for x in rb[key]  # type: ignore[attr-defined]
                ]
                for x, y in zip(ra[key], rb[key]):  # type: ignore[call-overload]
                    np.testing.assert_allclose(x["embeddings"], y["embeddings"], atol=1e-6)
            else:
                assert ra[key] == rb[key], key


def test_pipeline_runs_in_one_map_and_equals_stage_by_stage(
    spark: SparkSession, tiny_model_dir: Path
) -> None:
    df = spark.createDataFrame(list(enumerate(TEXTS)), "id long, text string").repartition(2)
    fused = Pipeline(stages=_stages(tiny_model_dir)).fit(df).transform(df)  # type: ignore[arg-type]
    assert _python_map_nodes(fused) == 1

    step = df
    for stage in _stages(tiny_model_dir):
        step = stage.transform(step).select("*")  # type: ignore[attr-defined]  # a new DataFrame: no fusion
    assert _python_map_nodes(step) == 5

    assert fused.schema == step.schema  # same columns, types and Spark NLP metadata
    assert fused.schema["embeddings"].metadata["annotatorType"] == "word_embeddings"
    _same(_rows(fused), _rows(step))


def test_a_persisted_intermediate_result_is_not_recomputed(spark: SparkSession, tiny_model_dir: Path) -> None:
    df = spark.createDataFrame(list(enumerate(TEXTS)), "id long, text string")
    text = Pipeline(stages=_stages(tiny_model_dir)[:3]).fit(df)
    tokens = text.transform(df).cache()
    try:
        tokens.count()
        out = BertEmbeddings(modelPath=str(tiny_model_dir)).transform(tokens)
        plan = out._jdf.queryExecution().executedPlan().toString()
        above_cache = plan.split("InMemoryTableScan")[0]
        assert "InMemoryTableScan" in plan and above_cache.count("MapInArrow") == 1  # only BertEmbeddings
        assert out.count() == len(TEXTS)
    finally:
        tokens.unpersist()
