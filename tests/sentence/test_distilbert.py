"""DistilBERT checkpoints end to end: distiluse's sentence shape, token vectors through Spark, the Hub id.

distilbert-base-multilingual-cased (and the sentence model distiluse-base-multilingual-cased-v2
on top of it) cannot be downloaded here: random-weight checkpoints of the same architecture
with mBERT's tokenizer stand in. References: sentence-transformers' ``encode`` for sentence
vectors, transformers' ``DistilBertModel`` for token vectors.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from tests.helpers.checkpoints import make_distilbert_checkpoint, ud_sentences
from tests.runtime.reference import reference_vectors

from sparkbert import BertEmbeddings, DocumentAssembler, SentenceDetector, Tokenizer, encode
from sparkbert.model.convert import convert_checkpoint

pytestmark = pytest.mark.reference

EDGE_TEXTS = ["", "Hello  world", "東京は晴れ。", "naïve café — ok?"]


@pytest.fixture(scope="module")
def distilbert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Any]:
    """(checkpoint folder as distilbert-base-multilingual-cased is published, converted directory, encoder)."""
    root = tmp_path_factory.mktemp("distilbert")
    folder, model = make_distilbert_checkpoint(root / "ckpt", head="masked_lm", seed=13, n_layers=3)
    return folder, Path(convert_checkpoint(folder, root / "model").path), model


def test_distiluse_shaped_sentence_model_equals_sentence_transformers(
    distilbert: tuple[Path, Path, Any], tmp_path: Path
) -> None:
    """Transformer → mean Pooling → Dense (tanh, 32 → 16), distiluse-base-multilingual-cased-v2's modules."""
    import torch

    folder, _, _ = distilbert
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from sentence_transformers import SentenceTransformer, models

        transformer = models.Transformer(str(folder), max_seq_length=128)
        pool = models.Pooling(32, pooling_mode="mean")
        torch.manual_seed(17)
        dense = models.Dense(32, 16, activation_function=torch.nn.Tanh())
        reference_model = SentenceTransformer(modules=[transformer, pool, dense], device="cpu")
        reference_model.save(str(tmp_path / "st"), safe_serialization=True)
        # sentence-transformers cuts a text at 128 pieces where sparkbert reads it in windows
        texts = [t for t in ud_sentences(3) if len(reference_model.tokenize([t])["input_ids"][0]) < 128]
        texts += EDGE_TEXTS
        assert len(texts) > 35
        reference = reference_model.encode(texts, batch_size=16, convert_to_numpy=True)
    model = convert_checkpoint(tmp_path / "st", tmp_path / "model")
    assert model.manifest["model_type"] == "distilbert"
    from sparkbert import BertSentenceEmbeddings
    from sparkbert.cli.convert_info import model_facts

    # the window is the checkpoint's max_seq_length, and info says so
    assert BertSentenceEmbeddings(modelPath=str(model.path)).getMaxSentenceLength() == 128
    assert model_facts(model)["sentence_window"] == 128
    ours = encode(texts, model=str(model.path), batch_size=16)
    assert ours.shape == reference.shape == (len(texts), 16)
    assert float(np.abs(ours - reference).max()) <= 1e-5


@pytest.mark.spark
def test_token_vectors_through_spark_equal_transformers(
    spark: Any, distilbert: tuple[Path, Path, Any]
) -> None:
    """Every token of UD sentences in 12 languages: its first piece's vector in the sentence, <= 1e-4."""
    from pyspark.ml import Pipeline

    folder, model_dir, model = distilbert
    texts = ud_sentences(4) + [t for t in EDGE_TEXTS if t]
    df = spark.createDataFrame([(i, t) for i, t in enumerate(texts)], "id int, text string").repartition(2)
    pipeline = Pipeline(
        stages=[
            DocumentAssembler().setInputCol("text").setOutputCol("document"),
            SentenceDetector().setInputCols("document").setOutputCol("sentence"),
            Tokenizer().setInputCols("sentence").setOutputCol("token"),
            BertEmbeddings(modelPath=str(model_dir), maxSentenceLength=512)
            .setInputCols("sentence", "token")
            .setOutputCol("embeddings"),
        ]
    )
    rows = pipeline.fit(df).transform(df).orderBy("id").collect()
    assert [r.id for r in rows] == list(range(len(texts)))
    sentences, spans, ours = [], [], []
    for row in rows:
        assert len(row.embeddings) == len(row.token) > 0  # every token embedded
        for index, sentence in enumerate(row.sentence):
            embedded = [e for e in row.embeddings if e.metadata["sentence"] == str(index)]
            sentences.append(sentence.result)
            spans.append([(e.begin - sentence.begin, e.end + 1 - sentence.begin) for e in embedded])
            ours.append(np.array([e.embeddings for e in embedded], np.float32))
    theirs = reference_vectors(model, folder, sentences, spans, ("first",))["first"]
    worst = max(float(np.abs(a - b).max()) for a, b in zip(ours, theirs) if len(a))
    assert worst <= 1e-4


def test_hub_repo_id_downloads_and_converts(
    distilbert: tuple[Path, Path, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``pretrained`` with the Hub id, served by a local Hub laid out as the real repository."""
    from tests.helpers.hub_server import FakeHub

    folder, model_dir, _ = distilbert
    repo = "distilbert/distilbert-base-multilingual-cased"
    monkeypatch.setenv("SPARKBERT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    monkeypatch.delenv("SPARKBERT_OFFLINE", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    extra = {
        "pytorch_model.bin": b"\x80\x04pickle",
        "tf_model.h5": b"\x89HDF\r\n",
        "flax_model.msgpack": b"\x80",
    }
    with FakeHub() as server:
        monkeypatch.setenv("HF_ENDPOINT", server.endpoint)
        server.add_repo(repo, folder, extra_files=extra)
        stage = BertEmbeddings.pretrained(repo)
        fetched = set(server.requested_files(repo))
    assert {"config.json", "model.safetensors", "tokenizer.json"} <= fetched
    assert not set(extra) & fetched  # never the pickled or other-framework weights
    assert stage.getDimension() == 32 and stage.getCaseSensitive() is True
    texts = ud_sentences(1)
    same = encode(texts, model=stage.getModelPath(), pooling="mean")
    assert float(np.abs(same - encode(texts, model=str(model_dir), pooling="mean")).max()) == 0.0
