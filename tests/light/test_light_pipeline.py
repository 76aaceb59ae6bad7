"""LightPipeline: the same annotations and vectors as transform(), in-process, with no Spark job."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pyspark.ml import Pipeline, PipelineModel, Transformer
from pyspark.ml.linalg import DenseVector
from pyspark.sql import DataFrame, SparkSession
from tests.conftest import UD_LANGS, load_ud

from sparkbert import (
    Annotation,
    BertEmbeddings,
    DocumentAssembler,
    EmbeddingsFinisher,
    SchemaError,
    SentenceDetector,
    SentenceEmbeddings,
    Tokenizer,
)
from sparkbert.annotation import annotations_from_rows
from sparkbert.errors import UnsupportedStageError
from sparkbert.light import LightPipeline
from sparkbert.stages.base import AnnotatorTransformer

pytestmark = pytest.mark.spark

TEXTS: list[str | None] = [
    "The quick brown fox jumps. Der schnelle braune Fuchs springt! Le renard saute-t-il ?",
    "東京は晴れ。明日は雨！",
    "[CLS] typed by a user is text, so is [SEP] and [MASK].",
    "Ünïcödé café naïve résumé — accents stay. Второе предложение здесь.",
    "मैं घर जा रहा हूँ। क्या तुम आओगे?",
    "مرحبا بالعالم. كيف حالك؟",
    None,
    "",
    "   ",
    "\u200b\u200b",
    "a " * 300,  # longer than maxSentenceLength: embedded in windows
]
ANNOTATION_COLS = ("document", "sentence", "token", "embeddings", "sentence_embeddings")
ATOL = 1e-5


def _stages(model_dir: Path, explode: bool = False) -> list[Any]:
    return [
        DocumentAssembler().setInputCol("text").setOutputCol("document"),
        SentenceDetector(explodeSentences=explode).setInputCols("document").setOutputCol("sentence"),
        Tokenizer().setInputCols("sentence").setOutputCol("token"),
        BertEmbeddings(modelPath=str(model_dir), maxSentenceLength=64)
        .setInputCols("sentence", "token")
        .setOutputCol("embeddings"),
        SentenceEmbeddings().setInputCols("sentence", "embeddings").setOutputCol("sentence_embeddings"),
        EmbeddingsFinisher().setInputCols("embeddings").setOutputCols("vectors"),
        EmbeddingsFinisher(outputAsVector=True).setInputCols("sentence_embeddings").setOutputCols("sv"),
    ]


def _df(spark: SparkSession, texts: list[str | None]) -> DataFrame:
    return spark.createDataFrame(list(enumerate(texts)), "id int, text string").repartition(2)


def _fit(
    spark: SparkSession, model_dir: Path, texts: list[str | None], explode: bool = False
) -> PipelineModel:
    return Pipeline(stages=_stages(model_dir, explode)).fit(_df(spark, texts))


def _assert_same_annotations(light: list[Annotation], spark_rows: list[Any], where: str) -> None:
    expected = annotations_from_rows(spark_rows)
    assert len(light) == len(expected), where
    for got, want in zip(light, expected):
        assert (got.annotator_type, got.begin, got.end, got.result) == (
            want.annotator_type,
            want.begin,
            want.end,
            want.result,
        ), where
        assert dict(got.metadata) == dict(want.metadata), where
        assert len(got.embeddings) == len(want.embeddings), where
        if len(want.embeddings):
            np.testing.assert_allclose(got.embeddings, want.embeddings, atol=ATOL, rtol=0, err_msg=where)


def _assert_same_vectors(light: list[Any], spark_value: list[Any], where: str) -> None:
    assert len(light) == len(spark_value), where
    for got, want in zip(light, spark_value):
        assert type(got) is type(want), where
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), atol=ATOL, rtol=0, err_msg=where)


@contextmanager
def _no_spark_job(spark: SparkSession) -> Iterator[None]:
    """Fail if a Spark job starts inside the block (in this thread's job group or in none)."""
    sc = spark.sparkContext
    tracker = sc.statusTracker()
    group = "sparkbert-light-no-job"
    before = set(tracker.getJobIdsForGroup(None))
    sc.setJobGroup(group, "must stay empty")
    try:
        yield
        assert tracker.getJobIdsForGroup(group) == []
        assert set(tracker.getJobIdsForGroup(None)) == before
        # positive control: a job in this group is seen by the tracker
        spark.range(3).count()
        assert tracker.getJobIdsForGroup(group) != []
    finally:
        sc.setLocalProperty("spark.jobGroup.id", None)  # type: ignore[arg-type]
        sc.setLocalProperty("spark.job.description", None)  # type: ignore[arg-type]


def test_same_annotations_and_vectors_as_transform_without_a_spark_job(
    spark: SparkSession, tiny_model_dir: Path
) -> None:
    texts = TEXTS + [str(r["text"]) for lang in UD_LANGS for r in load_ud(lang)[:3]]
    model = _fit(spark, tiny_model_dir, texts)
    rows = {r.id: r for r in model.transform(_df(spark, texts)).collect()}

    with _no_spark_job(spark):
        light = LightPipeline(model)
        full = light.fullAnnotate(texts)
        simple = light.annotate(texts)
        one = light.annotate(texts[0])

    assert light.outputCols == [*ANNOTATION_COLS, "vectors", "sv"]
    assert len(full) == len(simple) == len(texts)
    for i, result in enumerate(full):
        row = rows[i]
        assert list(result) == light.outputCols
        for col in ANNOTATION_COLS:
            _assert_same_annotations(result[col], row[col], f"text {i}, column {col}")
            assert simple[i][col] == [a.result for a in result[col]]
        _assert_same_vectors(result["vectors"], row.vectors, f"text {i}, vectors")
        _assert_same_vectors(result["sv"], row.sv, f"text {i}, sv")
        assert all(isinstance(v, DenseVector) for v in result["sv"])
    assert one == simple[0]
    for i in (6, 7, 8):  # null, empty, blank: empty lists, as transform gives
        assert all(v == [] for v in full[i].values())
    assert full[9]["document"] and full[9]["token"] == []  # zero-width only: a document, no token
    assert len(full[0]["sentence"]) == 3 and len(full[3]["sentence"]) == 2
    assert len(full[10]["token"]) == 300  # longer than maxSentenceLength: nothing dropped


def test_exploded_sentences_are_the_rows_of_each_text_joined(
    spark: SparkSession, tiny_model_dir: Path
) -> None:
    texts = TEXTS[:7]
    model = _fit(spark, tiny_model_dir, texts, explode=True)
    exploded = model.transform(_df(spark, texts)).collect()
    light = LightPipeline(model).fullAnnotate(texts)
    for i, result in enumerate(light):
        rows = sorted(
            (r for r in exploded if r.id == i), key=lambda r: r.sentence[0].begin if r.sentence else -1
        )
        # one row per sentence (a null text keeps its row)
        assert len(rows) == max(1, len(result["sentence"]))
        for col in ("sentence", "token", "embeddings", "sentence_embeddings"):
            joined = [a for r in rows for a in r[col]]
            _assert_same_annotations(result[col], joined, f"text {i}, column {col}")
        _assert_same_vectors(result["vectors"], [v for r in rows for v in r.vectors], f"text {i}")


def test_results_do_not_depend_on_batch_rows(tiny_model_dir: Path) -> None:
    model = PipelineModel(stages=_stages(tiny_model_dir))
    texts = TEXTS * 3
    small = LightPipeline(model, batch_rows=1).fullAnnotate(texts)
    large = LightPipeline(model, batch_rows=1000).fullAnnotate(texts)
    for a, b in zip(small, large):
        for col in ANNOTATION_COLS:
            _assert_same_annotations(a[col], [x.to_dict() for x in b[col]], col)


def test_annotate_follows_spark_nlp(tiny_model_dir: Path) -> None:
    light = LightPipeline(PipelineModel(stages=_stages(tiny_model_dir)[:5]), parse_embeddings=True)
    single = light.annotate("Hallo Welt. Zweiter Satz!")
    assert isinstance(single, dict)
    assert single["token"] == ["Hallo", "Welt", ".", "Zweiter", "Satz", "!"]
    full = light.fullAnnotate("Hallo Welt. Zweiter Satz!")
    assert isinstance(full, list) and len(full) == 1  # fullAnnotate always returns a list, as Spark NLP
    # parse_embeddings: vectors as Spark NLP's space-joined floats, exact float32 round trip
    for col in ("embeddings", "sentence_embeddings"):
        assert len(single[col]) == len(full[0][col])
        for text, ann in zip(single[col], full[0][col]):
            parsed = np.array([float(x) for x in text.split(" ")], dtype=np.float32)
            assert np.array_equal(parsed, np.asarray(ann.embeddings, dtype=np.float32))
    plain = LightPipeline(PipelineModel(stages=_stages(tiny_model_dir)[:5])).annotate("Hallo Welt.")
    assert plain["embeddings"] == ["Hallo", "Welt", "."]
    assert light.annotate([]) == [] and light.fullAnnotate([]) == []
    assert light.annotate(None) == {c: [] for c in light.outputCols}
    with pytest.raises(TypeError, match="list of str"):
        light.annotate(["ok", 3])  # type: ignore[list-item]


def test_nested_pipeline_models_are_flattened(tiny_model_dir: Path) -> None:
    stages = _stages(tiny_model_dir)
    nested = PipelineModel(stages=[PipelineModel(stages=stages[:3]), PipelineModel(stages=stages[3:4])])
    flat = PipelineModel(stages=stages[:4])
    text = "Ein Satz. Noch einer."
    assert LightPipeline(nested).annotate(text) == LightPipeline(flat).annotate(text)
    assert [type(s).__name__ for s in LightPipeline(nested).getStages()][-1] == "BertEmbeddings"


def test_clean_annotations_keeps_only_finished_columns(tiny_model_dir: Path) -> None:
    finisher = EmbeddingsFinisher(cleanAnnotations=True).setOutputCols("vectors")
    stages = [*_stages(tiny_model_dir)[:4], finisher]
    light = LightPipeline(PipelineModel(stages=stages))
    assert light.outputCols == ["vectors"]
    result = light.annotate("Hi there.")
    assert list(result) == ["vectors"] and len(result["vectors"]) == 3
    assert all(isinstance(v, list) and len(v) == 32 for v in result["vectors"])


class _Upper(Transformer):
    def _transform(self, dataset: DataFrame) -> DataFrame:
        return dataset


class _NoAnnotator(AnnotatorTransformer):
    inputAnnotatorTypes = (("document",),)
    outputAnnotatorType = "document"

    def __init__(self) -> None:
        super().__init__()
        self._setDefault(inputCols=["document"], outputCol="copy")


def test_unsupported_stages_fail_with_their_name(tiny_model_dir: Path) -> None:
    upper = _Upper()
    with pytest.raises(UnsupportedStageError, match=rf"_Upper \(uid {upper.uid}\).*transform\(df\)"):
        LightPipeline(PipelineModel(stages=[DocumentAssembler(), upper]))
    with pytest.raises(TypeError, match="_NoAnnotator.*no in-process annotator"):
        LightPipeline(PipelineModel(stages=[DocumentAssembler(), _NoAnnotator()]))
    with pytest.raises(TypeError, match="fitted pyspark.ml.PipelineModel.*Pipeline"):
        LightPipeline(Pipeline(stages=[DocumentAssembler()]))  # type: ignore[arg-type]


def test_misconfiguration_fails_when_built_not_when_annotating(tiny_model_dir: Path) -> None:
    with pytest.raises(SchemaError, match="'sentence'.*missing"):
        LightPipeline(PipelineModel(stages=[DocumentAssembler(), Tokenizer()]))
    with pytest.raises(FileNotFoundError, match="modelPath"):
        LightPipeline(
            PipelineModel(stages=[*_stages(tiny_model_dir)[:3], BertEmbeddings(modelPath="/no/model")])
        )
    with pytest.raises(ValueError, match="batch_rows"):
        LightPipeline(PipelineModel(stages=[DocumentAssembler()]), batch_rows=0)
