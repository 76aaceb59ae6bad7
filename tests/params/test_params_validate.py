"""Params validate themselves on every path that sets them (issue: one place for each fact).

Constructor, setters, ``setParams``, ``set``, ``copy(extra)``, ``transform(df, params)`` and
loading saved metadata all raise :class:`InvalidParamError` (a ``ValueError``) naming the param,
the value and what is valid; ``setMaxSentenceLength`` above the loaded model's limit raises at once.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pyspark.ml import Pipeline, PipelineModel
from pyspark.sql import SparkSession

from sparkbert import (
    BertEmbeddings,
    DocumentAssembler,
    EmbeddingsFinisher,
    InvalidParamError,
    SentenceDetector,
    SentenceEmbeddings,
    Tokenizer,
)

#: (stage class, param, a bad value, text the error must name as valid)
BAD = [
    (BertEmbeddings, "poolingStrategy", "median", "'first', 'mean', 'last'"),
    (BertEmbeddings, "batchSize", 0, "an integer >= 1"),
    (BertEmbeddings, "device", "tpu", "'auto', 'cpu', 'cuda'"),
    (BertEmbeddings, "maxSentenceLength", 2, "an integer >= 4"),
    (BertEmbeddings, "intraOpThreads", -1, "an integer >= 0"),
    (BertEmbeddings, "shareWeights", "yes", "True or False"),
    (BertEmbeddings, "maxTokensPerBatch", 1.5, "an integer >= 1"),
    (Tokenizer, "splitPattern", "(", "a valid regular expression"),
    (Tokenizer, "minLength", -3, "an integer >= 0"),
    (Tokenizer, "exceptions", ["ok", " "], "none empty or blank"),
    (SentenceDetector, "customBounds", [""], "none empty or blank"),
    (SentenceDetector, "explodeSentences", 1, "True or False"),
    (DocumentAssembler, "cleanupMode", "tidy", "'disabled'"),
    (SentenceEmbeddings, "poolingStrategy", "MAX", "'AVERAGE', 'SUM'"),
    (EmbeddingsFinisher, "outputAsVector", "true", "True or False"),
    (EmbeddingsFinisher, "outputCols", [1, 2], "a string or a list of strings"),
]


def _paths(cls: type, name: str, value: Any) -> list[tuple[str, Callable[[], Any]]]:
    def setter() -> Any:
        return getattr(cls(), f"set{name[0].upper()}{name[1:]}")(value)

    def set_() -> Any:
        stage = cls()
        return stage.set(stage.getParam(name), value)

    def copy() -> Any:
        stage = cls()
        return stage.copy({stage.getParam(name): value})

    return [
        ("constructor", lambda: cls(**{name: value})),
        ("setter", setter),
        ("setParams", lambda: cls().setParams(**{name: value})),
        ("set", set_),
        ("copy", copy),
    ]


@pytest.mark.parametrize(
    ("cls", "name", "value", "valid"), BAD, ids=[f"{c.__name__}.{n}" for c, n, _, _ in BAD]
)
def test_every_path_refuses_a_bad_value_naming_param_value_and_valid(
    cls: type, name: str, value: Any, valid: str
) -> None:
    for path, call in _paths(cls, name, value):
        with pytest.raises(InvalidParamError) as err:
            call()
        message = str(err.value)
        assert f"param '{name}'" in message, path
        assert repr(value) in message, path
        assert valid in message, (path, message)


def test_good_values_pass_every_path_and_defaults_are_declared_once() -> None:
    emb = BertEmbeddings(batchSize=16).setPoolingStrategy("mean").setParams(device="cpu")
    assert (emb.getBatchSize(), emb.getPoolingStrategy(), emb.getDevice()) == (16, "mean", "cpu")
    assert emb.copy({emb.maxSentenceLength: 256}).getMaxSentenceLength() == 256
    assert BertEmbeddings().getMaxSentenceLength() == 128 and BertEmbeddings().getBatchSize() == 8
    assert Tokenizer().getInputCols() == ["sentence"] and SentenceDetector().getInputCols() == ["document"]
    assert DocumentAssembler().getIdCol() is None  # an optional param without default
    assert BertEmbeddings(batchSize=8.0).getBatchSize() == 8  # JSON may carry integral floats


def test_unknown_keyword_names_the_params() -> None:
    with pytest.raises(TypeError, match="Tokenizer has no param 'splitHann'.*splitHan"):
        Tokenizer(splitHann=False)


def test_spark_nlp_params_sparkbert_lacks_say_what_to_do_instead() -> None:
    from sparkbert import BertSentenceEmbeddings
    from sparkbert.params import SPARK_NLP_ONLY

    cases = [
        (Tokenizer(), "setContextChars", "contextChars"),
        (Tokenizer(), "setCaseSensitiveExceptions", "caseSensitiveExceptions"),
        (SentenceDetector(), "setUseAbbreviations", "useAbbreviations"),
        (BertEmbeddings(), "setConfigProtoBytes", "configProtoBytes"),
    ]
    for stage, accessor, name in cases:
        with pytest.raises(
            AttributeError, match=rf"has no param '{name}' \(a Spark NLP param: in sparkbert .+\); its"
        ):
            getattr(stage, accessor)(True)
    with pytest.raises(TypeError, match=r"'contextChars' \(a Spark NLP param: .*splitChars"):
        Tokenizer(contextChars=["("])
    with pytest.raises(AttributeError, match="needs no fit.*Pipeline"):
        Tokenizer().fit(None)  # Spark NLP's Tokenizer is an estimator
    with pytest.raises(AttributeError, match="has no param 'splitHann'; its params are: .*splitHan"):
        Tokenizer().setSplitHann(False)
    assert not hasattr(Tokenizer(), "setContextChars") and hasattr(Tokenizer(), "setSplitChars")
    stages = (DocumentAssembler, SentenceDetector, Tokenizer, BertEmbeddings, BertSentenceEmbeddings)
    stages += (SentenceEmbeddings, EmbeddingsFinisher)
    for stage_class in stages:  # the table names no param a stage has gained since
        assert not [name for name in SPARK_NLP_ONLY if stage_class().hasParam(name)]


def test_max_sentence_length_above_the_models_limit_raises_at_once(tiny_model_dir: Path) -> None:
    emb = BertEmbeddings(modelPath=str(tiny_model_dir))
    limit = json.loads((tiny_model_dir / "manifest.json").read_text())["max_position_embeddings"]
    with pytest.raises(InvalidParamError, match=f"'maxSentenceLength': {limit + 1}.*from 4 to {limit}"):
        emb.setMaxSentenceLength(limit + 1)
    with pytest.raises(InvalidParamError, match="maxSentenceLength"):
        BertEmbeddings(maxSentenceLength=limit + 1, modelPath=str(tiny_model_dir))
    assert emb.setMaxSentenceLength(limit).getMaxSentenceLength() == limit


@pytest.mark.spark
def test_transform_with_params_and_edited_saved_metadata_are_checked(
    spark: SparkSession, tiny_model_dir: Path, tmp_path: Path
) -> None:
    df = spark.createDataFrame([("Hallo Welt.",)], ["text"])
    stages = [
        DocumentAssembler(),
        SentenceDetector(),
        Tokenizer(),
        BertEmbeddings(modelPath=str(tiny_model_dir)),
    ]
    model = Pipeline(stages=stages).fit(df)
    bert = model.stages[-1]
    with pytest.raises(InvalidParamError, match="'poolingStrategy': 'median'"):
        bert.transform(df, {bert.poolingStrategy: "median"})

    model.write().save(str(tmp_path / "p"))
    (meta_file,) = (tmp_path / "p" / "stages").glob("*Tokenizer*/metadata/part-00000*")
    for crc in meta_file.parent.glob(".*.crc"):
        crc.unlink()  # edited by hand: Hadoop's checksum would refuse the file first
    meta = json.loads(meta_file.read_text())
    meta["paramMap"]["minLength"] = -1
    meta_file.write_text(json.dumps(meta))
    with pytest.raises(InvalidParamError, match="'minLength': -1"):
        PipelineModel.load(str(tmp_path / "p"))
    meta["paramMap"]["minLength"] = 0
    meta["defaultParamMap"]["maxLength"] = "ten"
    meta_file.write_text(json.dumps(meta))
    with pytest.raises(InvalidParamError, match="'maxLength': 'ten'"):
        PipelineModel.load(str(tmp_path / "p"))
