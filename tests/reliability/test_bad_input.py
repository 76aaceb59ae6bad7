"""Bad input never loses a row: the full pipeline over every strange string we know of."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pyspark.ml import Pipeline
from pyspark.sql import SparkSession
from tests.helpers.bad_input import bad_texts

from sparkbert import BertEmbeddings, DocumentAssembler, EmbeddingsFinisher, SentenceDetector, Tokenizer

pytestmark = [pytest.mark.spark, pytest.mark.slow]


def test_every_row_survives_with_embeddings(spark: SparkSession, tiny_model_dir: Path) -> None:
    cases = bad_texts()
    names = list(cases)
    df = spark.createDataFrame([(n, cases[n]) for n in names], "name string, text string").repartition(3)
    pipeline = Pipeline(
        stages=[
            DocumentAssembler(),
            SentenceDetector(),
            Tokenizer(),
            BertEmbeddings(modelPath=str(tiny_model_dir), batchSize=64),
            EmbeddingsFinisher().setInputCols("embeddings").setOutputCols("vectors"),
        ]
    )
    rows: dict[str, Any] = {r.name: r for r in pipeline.fit(df).transform(df).collect()}
    assert sorted(rows) == sorted(names)  # row count in == row count out, names intact
    for name, row in rows.items():
        text = row.text
        assert len(row.embeddings) == len(row.token) == len(row.vectors), name
        for tok, emb in zip(row.token, row.embeddings):
            assert text[tok.begin : tok.end + 1] == tok.result, name
            assert (emb.begin, emb.end, emb.result) == (tok.begin, tok.end, tok.result), name
            assert len(emb.embeddings) == 32, name
    assert rows["null"].token == [] and rows["empty"].token == [] and rows["blank"].token == []
    assert len(rows["20k_tokens_no_punctuation"].embeddings) == 20_000
    assert all(e.metadata["noPieces"] == "false" for e in rows["20k_tokens_no_punctuation"].embeddings)
    specials = rows["special_token_lookalikes"].embeddings
    assert {"CLS", "SEP", "MASK", "PAD", "UNK"} <= {e.result for e in specials}
    assert all(e.metadata["pieceId"] not in {"0", "101", "102", "103"} for e in specials)
    assert any(e.metadata["isOOV"] == "true" for e in rows["only_unk_chars"].embeddings)


def test_invalid_utf8_from_a_text_file_keeps_its_row(spark: SparkSession, tmp_path: Path) -> None:
    """Spark's text reader does not validate UTF-8; a bad row must not fail the task."""
    path = tmp_path / "input.txt"
    path.write_bytes(b"good text here\nbad \xff\xfe bytes\n\xc3\n")
    df = spark.read.text(str(path)).withColumnRenamed("value", "text")
    pipeline = Pipeline(stages=[DocumentAssembler(), SentenceDetector(), Tokenizer()])
    rows = pipeline.fit(df).transform(df).collect()
    assert len(rows) == 3
    assert [t.result for t in rows[0].token] == ["good", "text", "here"]
    assert rows[1].token[0].result == "bad" and rows[1].token[-1].result == "bytes"
