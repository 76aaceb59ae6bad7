"""Structured Streaming: a file source, the pipeline, a Parquet sink with a checkpoint.

The query runs until it has read everything, stops, new files arrive, and it restarts from its
checkpoint: every input row must be in the output exactly once, with one vector per token.
This is the recipe of docs/streaming.md.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.spark, pytest.mark.slow]

SCHEMA = "id long, text string"


def _write(folder: Path, name: str, ids: range) -> None:
    lines = [json.dumps({"id": i, "text": f"Row number {i}. Zeile {i}!"}) for i in ids]
    tmp = folder.parent / f".{name}"
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    tmp.rename(folder / name)  # a file source must only ever see complete files


def test_file_stream_restarted_from_its_checkpoint_writes_each_row_once(
    spark: Any, tiny_model_dir: Path, tmp_path: Path
) -> None:
    from pyspark.ml import Pipeline

    from sparkbert import BertEmbeddings, DocumentAssembler, EmbeddingsFinisher, SentenceDetector, Tokenizer

    pipeline = Pipeline(
        stages=[
            DocumentAssembler().setInputCol("text").setOutputCol("document"),
            SentenceDetector().setInputCols("document").setOutputCol("sentence"),
            Tokenizer().setInputCols("sentence").setOutputCol("token"),
            BertEmbeddings.pretrained(str(tiny_model_dir))
            .setInputCols("sentence", "token")
            .setOutputCol("embeddings"),
            EmbeddingsFinisher().setInputCols("embeddings").setOutputCols("vectors"),
        ]
    )
    model = pipeline.fit(spark.createDataFrame([], SCHEMA))  # no stage learns anything: fit once
    source, sink, checkpoint = tmp_path / "in", tmp_path / "out", tmp_path / "checkpoint"
    source.mkdir()

    def run_until_idle() -> int:
        stream = spark.readStream.schema(SCHEMA).option("maxFilesPerTrigger", 1).json(str(source))
        query = (
            model.transform(stream)
            .select("id", "text", "token.result", "vectors")
            .writeStream.format("parquet")
            .option("checkpointLocation", str(checkpoint))
            .start(str(sink))
        )
        try:
            query.processAllAvailable()
        finally:
            query.stop()
        return sum(int(p["numInputRows"]) for p in query.recentProgress)

    _write(source, "part-0.jsonl", range(0, 5))
    _write(source, "part-1.jsonl", range(5, 9))
    assert run_until_idle() == 9
    _write(source, "part-2.jsonl", range(9, 12))
    _write(source, "part-3.jsonl", range(12, 20))
    assert run_until_idle() == 11  # only the new files
    assert run_until_idle() == 0  # nothing new: nothing read again

    rows = spark.read.parquet(str(sink)).orderBy("id").collect()
    assert [r.id for r in rows] == list(range(20))  # every row, exactly once
    for r in rows:
        assert r.result == ["Row", "number", str(r.id), ".", "Zeile", str(r.id), "!"]
        assert len(r.vectors) == len(r.result) and all(len(v) == 32 for v in r.vectors)
