"""The text stages on a real local[2] Spark session: schema, offsets, bad input, errors, save/load."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pyspark.ml import Pipeline, PipelineModel
from pyspark.sql import SparkSession
from tests.conftest import REPO, UD_LANGS, load_ud

from sparkbert import DocumentAssembler, SchemaError, SentenceDetector, Tokenizer

pytestmark = pytest.mark.spark

SPARK_NLP_SCHEMA = (
    "array<struct<annotatorType:string,begin:int,end:int,result:string,"
    "metadata:map<string,string>,embeddings:array<float>>>"
)

HARD_TEXTS = [
    "Dr. Smith paid $3.14 on 3. Mai in the U.S.! Then he left… „Wirklich?“ fragte sie.",
    "Family: 👨‍👩‍👧‍👦 thumbs 👍🏽 flags 🇩🇪🇫🇷 keycap 1️⃣.",
    "Line one\r\nLine two\twith tab\u00a0nbsp\u3000ideographic.",
    "bidi \u200fmark\u200e and zero\u200bwidth; astral 𝒜𝒷 𠀀.",
    "Z̤̈ͅa̐l̸g̵o combining marks. 東京は晴れ。明日は雨！",
    "मैं घर जा रहा हूँ। क्या तुम आओगे?",
    "هل أنت هنا؟ نعم.",
]


def _text_pipeline() -> Pipeline:
    return Pipeline(
        stages=[
            DocumentAssembler().setInputCol("text").setOutputCol("document"),
            SentenceDetector().setInputCols("document").setOutputCol("sentence"),
            Tokenizer().setInputCols("sentence").setOutputCol("token"),
        ]
    )


def _rows(spark: SparkSession, texts: list[Any]) -> Any:
    return spark.createDataFrame([(i, t) for i, t in enumerate(texts)], "id int, text string")


def test_schema_and_column_metadata_are_spark_nlps(spark: SparkSession) -> None:
    out = _text_pipeline().fit(_rows(spark, ["Hello world."])).transform(_rows(spark, ["Hello world."]))
    for col, atype in (("document", "document"), ("sentence", "document"), ("token", "token")):
        assert out.schema[col].dataType.simpleString() == SPARK_NLP_SCHEMA
        assert out.schema[col].metadata["annotatorType"] == atype


def test_offsets_exact_on_hard_text_and_every_ud_language(spark: SparkSession) -> None:
    texts = list(HARD_TEXTS)
    for lang in UD_LANGS:
        texts.extend(str(r["text"]) for r in load_ud(lang)[:25])
    rows = _text_pipeline().fit(_rows(spark, texts)).transform(_rows(spark, texts)).collect()
    assert len(rows) == len(texts)
    for row in rows:
        text = row.text
        assert row.sentence and row.token, text
        for ann in [*row.sentence, *row.token]:
            assert text[ann.begin : ann.end + 1] == ann.result
        sentence_ids = {s.metadata["sentence"] for s in row.sentence}
        assert {t.metadata["sentence"] for t in row.token} <= sentence_ids


def test_null_empty_and_blank_text_keep_their_rows(spark: SparkSession) -> None:
    texts = [None, "", "   ", "\t\r\n", "\u3000", "Real text."]
    rows = _text_pipeline().fit(_rows(spark, texts)).transform(_rows(spark, texts)).orderBy("id").collect()
    assert [r.id for r in rows] == list(range(len(texts)))
    for r in rows[:-1]:
        assert r.document == [] and r.sentence == [] and r.token == []
    assert [t.result for t in rows[-1].token] == ["Real", "text", "."]


def test_misconfiguration_fails_on_the_driver(spark: SparkSession) -> None:
    df = DocumentAssembler().transform(_rows(spark, ["a b"]))
    with pytest.raises(SchemaError, match="'missing'.*inputCols"):
        Tokenizer().setInputCols("missing").transform(df)
    tokens = Tokenizer().setInputCols("document").transform(df)
    with pytest.raises(SchemaError, match="'token'.*expected annotator type 'document'"):
        Tokenizer().setInputCols("token").setOutputCol("t2").transform(tokens)
    with pytest.raises(SchemaError, match="Output column 'document' .* already exists"):
        DocumentAssembler().transform(df)
    with pytest.raises(SchemaError, match="'nope'.*inputCol"):
        DocumentAssembler().setInputCol("nope").transform(df)
    with pytest.raises(SchemaError, match="must be a string column"):
        DocumentAssembler().setInputCol("id").setOutputCol("d2").transform(df)


def test_sentence_params_and_explode(spark: SparkSession) -> None:
    text = "One. Two! Three? " + "word " * 60
    df = DocumentAssembler().transform(_rows(spark, [text]))
    sentences = SentenceDetector(maxLength=50).transform(df).first().sentence
    assert all(len(s.result) <= 50 for s in sentences)
    assert "".join(s.result for s in sentences).replace(" ", "") == text.replace(" ", "")
    exploded = SentenceDetector(explodeSentences=True).transform(df)
    assert exploded.count() == len(SentenceDetector().transform(df).first().sentence)


def test_pipeline_model_saves_and_loads_in_a_fresh_process(spark: SparkSession, tmp_path: Path) -> None:
    texts = [*HARD_TEXTS, None, ""]
    df = _rows(spark, texts)
    model = _text_pipeline().fit(df)
    path = str(tmp_path / "pipeline")
    model.save(path)
    expected = [r.asDict(recursive=True) for r in model.transform(df).orderBy("id").collect()]
    assert [
        r.asDict(recursive=True) for r in PipelineModel.load(path).transform(df).orderBy("id").collect()
    ] == expected
    out = str(tmp_path / "out.json")
    script = f"""
import json, sys
from pyspark.sql import SparkSession
from pyspark.ml import PipelineModel
spark = SparkSession.builder.master("local[1]").config("spark.ui.enabled", "false").getOrCreate()
texts = {texts!r}
df = spark.createDataFrame([(i, t) for i, t in enumerate(texts)], "id int, text string")
rows = PipelineModel.load({path!r}).transform(df).orderBy("id").collect()
json.dump([r.asDict(recursive=True) for r in rows], open({out!r}, "w"))
spark.stop()
"""
    subprocess.run([sys.executable, "-c", script], check=True, cwd=REPO, timeout=300)
    import json

    loaded = json.loads(Path(out).read_text())
    assert loaded == json.loads(json.dumps(expected))
