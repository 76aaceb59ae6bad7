"""SentenceEmbeddings over a document pools every token of the document, whatever its sentence (the quickstart recipe)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pyspark.ml import Pipeline
from pyspark.sql import SparkSession

from sparkbert import (
    BertEmbeddings,
    DocumentAssembler,
    EmbeddingsFinisher,
    SentenceDetector,
    SentenceEmbeddings,
    Tokenizer,
)
from sparkbert.annotation import Annotation
from sparkbert.runtime.sentence_pooling import pool_sentences

TEXT = "Hello world. Hallo Welt! Bonjour le monde."


def _word(begin: int, end: int, sentence: str, vector: list[float]) -> Annotation:
    return Annotation(
        "word_embeddings", begin, end, "w", {"sentence": sentence}, np.array(vector, np.float32)
    )


def test_document_pools_tokens_of_every_sentence() -> None:
    document = Annotation("document", 0, 41, TEXT, {"sentence": "0"})
    words = [_word(0, 4, "0", [1.0, 0.0]), _word(13, 17, "1", [3.0, 2.0]), _word(25, 31, "2", [5.0, 4.0])]
    [pooled] = pool_sentences([document], words, "AVERAGE", 2)
    assert pooled.embeddings.tolist() == [3.0, 2.0] and pooled.metadata["token_count"] == "3"
    assert pool_sentences([document], words, "SUM", 2)[0].embeddings.tolist() == [9.0, 6.0]


def test_sentences_still_pool_their_own_tokens() -> None:
    sentences = [
        Annotation("document", 0, 11, "Hello world.", {"sentence": "0"}),
        Annotation("document", 13, 23, "Hallo Welt!", {"sentence": "1"}),
    ]
    words = [_word(0, 4, "0", [1.0]), _word(6, 10, "0", [3.0]), _word(13, 17, "1", [7.0])]
    assert [p.embeddings.tolist() for p in pool_sentences(sentences, words, "AVERAGE", 1)] == [[2.0], [7.0]]


@pytest.mark.spark
def test_quickstart_recipe_gives_the_mean_of_all_tokens(spark: SparkSession, tiny_model_dir: Path) -> None:
    pipeline = Pipeline(
        stages=[
            DocumentAssembler().setInputCol("text").setOutputCol("document"),
            SentenceDetector().setInputCols("document").setOutputCol("sentence"),
            Tokenizer().setInputCols("sentence").setOutputCol("token"),
            BertEmbeddings(modelPath=str(tiny_model_dir))
            .setInputCols("sentence", "token")
            .setOutputCol("embeddings"),
            SentenceEmbeddings().setInputCols("document", "embeddings").setOutputCol("sentence_embeddings"),
            EmbeddingsFinisher(outputAsVector=True)
            .setInputCols("sentence_embeddings")
            .setOutputCols("features"),
        ]
    )
    df = spark.createDataFrame([(TEXT,)], ["text"])
    row = pipeline.fit(df).transform(df).first()
    assert row is not None and len(row["sentence"]) == 3
    [feature] = row["features"]
    tokens = np.array([a.embeddings for a in row["embeddings"]], dtype=np.float64)
    assert len(tokens) == 10
    assert float(np.abs(feature.toArray() - tokens.mean(0)).max()) <= 1e-6
