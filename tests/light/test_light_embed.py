"""sparkbert.embed: the notebook one-liner, in-process, with no SparkSession and no JVM."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pyspark.ml import Pipeline
from pyspark.sql import SparkSession
from tests.conftest import REPO

from sparkbert import BertEmbeddings, DocumentAssembler, InvalidParamError, SentenceDetector, Tokenizer
from sparkbert.model.resolve import _resolved_path
from sparkbert.quick import COLUMNS, embed

TEXTS: list[str | None] = [
    "Hello world. Zweiter Satz hier!",
    None,
    "東京は晴れ。",
    "",
    "Ünïcödé café — naïve.",
]


def _spark_vectors(
    spark: SparkSession, model_dir: Path, texts: list[str | None], pooling: str
) -> list[list[np.ndarray]]:
    df = spark.createDataFrame(list(enumerate(texts)), "id int, text string")
    stages = [
        DocumentAssembler().setInputCol("text").setOutputCol("document"),
        SentenceDetector().setInputCols("document").setOutputCol("sentence"),
        Tokenizer().setInputCols("sentence").setOutputCol("token"),
        BertEmbeddings(modelPath=str(model_dir), poolingStrategy=pooling)
        .setInputCols("sentence", "token")
        .setOutputCol("embeddings"),
    ]
    rows = sorted(Pipeline(stages=stages).fit(df).transform(df).collect(), key=lambda r: r.id)
    return [[np.array(e.embeddings, dtype=np.float32) for e in r.embeddings] for r in rows]


@pytest.mark.spark
@pytest.mark.parametrize("pooling", ["first", "mean"])
def test_token_rows_match_transform(spark: SparkSession, tiny_model_dir: Path, pooling: str) -> None:
    df = embed(TEXTS, str(tiny_model_dir), pooling=pooling)
    assert tuple(df.columns) == COLUMNS
    assert df["text_index"].tolist() == [0] * 7 + [2] * 6 + [4] * 5  # null and empty texts give no rows
    assert df[df.text_index == 0]["sentence"].tolist() == [0, 0, 0, 1, 1, 1, 1]
    assert df[df.text_index == 0]["token"].tolist() == ["Hello", "world", ".", "Zweiter", "Satz", "hier", "!"]
    for row in df.itertuples():
        assert TEXTS[row.text_index][row.begin : row.end + 1] == row.token  # type: ignore[index]
    expected = _spark_vectors(spark, tiny_model_dir, TEXTS, pooling)
    for i, vectors in enumerate(expected):
        got = df[df.text_index == i]["vector"].tolist()
        assert len(got) == len(vectors)
        for g, e in zip(got, vectors):
            assert g.dtype == np.float32 and g.shape == (32,)
            np.testing.assert_allclose(g, e, atol=1e-5, rtol=0)


def test_sentence_rows_average_their_tokens(tiny_model_dir: Path) -> None:
    tokens = embed(TEXTS, tiny_model_dir)
    sentences = embed(TEXTS, tiny_model_dir, sentence_embeddings=True)
    assert tuple(sentences.columns) == COLUMNS
    assert sentences["token"].tolist() == [
        "Hello world.",
        "Zweiter Satz hier!",
        "東京は晴れ。",
        "Ünïcödé café — naïve.",
    ]
    assert sentences["text_index"].tolist() == [0, 0, 2, 4]
    assert sentences["sentence"].tolist() == [0, 1, 0, 0]
    for row in sentences.itertuples():
        words = tokens[(tokens.text_index == row.text_index) & (tokens.sentence == row.sentence)]
        np.testing.assert_allclose(row.vector, np.stack(words["vector"].tolist()).mean(0), atol=1e-6)


def test_single_string_series_and_empty_input(tiny_model_dir: Path) -> None:
    one = embed("Ein Satz.", tiny_model_dir)
    assert one["token"].tolist() == ["Ein", "Satz", "."] and set(one["text_index"]) == {0}
    series = embed(pd.Series(["a b", np.nan, "c"]), tiny_model_dir)
    assert series["text_index"].tolist() == [0, 0, 2]
    empty = embed([], tiny_model_dir)
    assert tuple(empty.columns) == COLUMNS and len(empty) == 0
    assert str(empty["text_index"].dtype) == "int64"


def test_invalid_arguments_name_the_argument(tiny_model_dir: Path) -> None:
    with pytest.raises(InvalidParamError, match="'pooling'.*'median'.*'first'"):
        embed(["x"], tiny_model_dir, pooling="median")
    with pytest.raises(InvalidParamError, match="'batch_size'"):
        embed(["x"], tiny_model_dir, batch_size=0)
    with pytest.raises(InvalidParamError, match="'maxSentenceLength'.*1000"):
        embed(["x"], tiny_model_dir, max_sentence_length=1000)  # above the model's positions
    with pytest.raises(TypeError, match="iterable of str"):
        embed([1, 2], tiny_model_dir)  # type: ignore[list-item]
    with pytest.raises(FileNotFoundError, match="No such folder"):
        embed(["x"], "./no/such/model")


@pytest.mark.slow
def test_accepts_a_checkpoint_folder(
    tiny_checkpoint: tuple[Path, object],
    tiny_model_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SPARKBERT_HOME", str(tmp_path / "home"))
    _resolved_path.cache_clear()  # SPARKBERT_HOME changed: resolve anew
    from_checkpoint = embed(TEXTS, tiny_checkpoint[0])
    from_directory = embed(TEXTS, tiny_model_dir)
    assert from_checkpoint[["text_index", "token", "begin", "end"]].equals(
        from_directory[["text_index", "token", "begin", "end"]]
    )
    np.testing.assert_allclose(
        np.stack(from_checkpoint["vector"].tolist()), np.stack(from_directory["vector"].tolist()), atol=1e-5
    )


def test_runs_without_spark_session_or_jvm(tiny_model_dir: Path, tmp_path: Path) -> None:
    """In a fresh process where a JVM cannot even start (JAVA_HOME points nowhere)."""
    out = tmp_path / "out.json"
    script = f"""
import json
from sparkbert.quick import embed
from pyspark import SparkContext
from pyspark.sql import SparkSession
df = embed(["Hello world. Bye!", None], {str(tiny_model_dir)!r}, sentence_embeddings=True)
json.dump({{
    "rows": len(df),
    "gateway": SparkContext._gateway is None,
    "context": SparkContext._active_spark_context is None,
    "session": SparkSession.getActiveSession() is None,
}}, open({str(out)!r}, "w"))
"""
    env = {**os.environ, "JAVA_HOME": str(tmp_path / "no-java"), "HF_HUB_OFFLINE": "1"}
    env.pop("PYSPARK_SUBMIT_ARGS", None)
    subprocess.run([sys.executable, "-c", script], check=True, cwd=REPO, env=env, timeout=300)
    assert json.loads(out.read_text()) == {"rows": 2, "gateway": True, "context": True, "session": True}
