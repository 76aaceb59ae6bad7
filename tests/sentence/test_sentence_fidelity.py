"""Sentence vectors equal their references: sentence-transformers on the real MiniLM, transformers on random BERTs."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from tests.conftest import minilm_checkpoint
from tests.helpers.checkpoints import make_numpy_checkpoint, make_random_checkpoint, ud_sentences

from sparkbert import InvalidParamError, encode
from sparkbert.model.convert import convert_checkpoint

TOLERANCE = 1e-5
TEXTS = [
    "The quick brown fox jumps over the lazy dog.",
    "Der schnelle braune Fuchs springt über den faulen Hund.",
    "東京は晴れ。明日は雨！",
    "Ünïcödé café naïve résumé — accents stay.",
    "",
]


@pytest.fixture(scope="module")
def minilm_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return Path(convert_checkpoint(minilm_checkpoint(), tmp_path_factory.mktemp("minilm") / "fp32").path)


def _with_bert_layout_pooler(folder: Path, out: Path) -> Path:
    """Re-save an ``hf`` checkpoint in the Google/mBERT key layout, pooler included."""
    import shutil

    from safetensors.numpy import load_file, save_file

    out.mkdir()
    tensors = load_file(str(folder / "model.safetensors"))
    renamed = {
        "bert."
        + k.replace("LayerNorm.weight", "LayerNorm.gamma").replace("LayerNorm.bias", "LayerNorm.beta"): v
        for k, v in tensors.items()
    }
    renamed["cls.predictions.bias"] = np.zeros(3, np.float32)
    save_file(renamed, str(out / "model.safetensors"))
    for p in folder.iterdir():
        if p.name != "model.safetensors":
            shutil.copyfile(p, out / p.name)
    return out


@pytest.fixture(scope="module", params=["hf", "bert"])
def random_bert(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    root = tmp_path_factory.mktemp(f"random-{request.param}")
    folder, model = make_random_checkpoint(root / "ckpt", layout="hf", seed=7, num_hidden_layers=2)
    if request.param == "bert":
        folder = _with_bert_layout_pooler(folder, root / "bert-layout")
    return Path(convert_checkpoint(folder, root / "model").path), model


def _reference_outputs(
    model: Any, model_dir: Path, texts: list[str]
) -> tuple[np.ndarray, np.ndarray, list[Any]]:
    """transformers' last_hidden_state[:, 0], pooler_output and every hidden state, text by text."""
    import torch
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tokenizer.no_truncation()
    cls, pooled, states = [], [], []
    for text in texts:
        ids = torch.tensor([tokenizer.encode(text).ids])
        with torch.no_grad():
            out = model(input_ids=ids, attention_mask=torch.ones_like(ids), output_hidden_states=True)
        cls.append(out.last_hidden_state[0, 0].numpy())
        pooled.append(out.pooler_output[0].numpy())
        states.append(out)
    return np.stack(cls), np.stack(pooled), states


@pytest.mark.reference
@pytest.mark.slow
def test_auto_equals_sentence_transformers_on_ud_in_12_languages(minilm_dir: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from sentence_transformers import SentenceTransformer

        reference_model = SentenceTransformer(str(minilm_checkpoint()), device="cpu")
        texts = ud_sentences(10) + TEXTS
        assert len(texts) == 12 * 10 + len(TEXTS)
        reference = reference_model.encode(texts, batch_size=16, convert_to_numpy=True)
    ours = encode(texts, model=str(minilm_dir), batch_size=16)
    assert ours.shape == reference.shape == (len(texts), 384)
    assert float(np.abs(ours - reference).max()) <= TOLERANCE
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-6)  # its Normalize module


@pytest.mark.reference
@pytest.mark.slow
def test_mean_and_max_follow_sentence_transformers_pooling(minilm_dir: Path) -> None:
    """Over every attention-mask position, [CLS] and [SEP] included; no normalisation asked."""
    import torch
    from transformers import BertModel, BertTokenizerFast

    model = BertModel.from_pretrained(str(minilm_checkpoint())).eval()
    tokenizer = BertTokenizerFast.from_pretrained(str(minilm_checkpoint()))
    texts = ud_sentences(2)
    with torch.no_grad():
        batch = tokenizer(texts, padding=True, return_tensors="pt")
        hidden = model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).float()
    mean = ((hidden * mask).sum(1) / mask.sum(1)).numpy()
    maximum = hidden.masked_fill(mask == 0, -1e9).max(1).values.numpy()
    for pooling, reference in (("mean", mean), ("max", maximum)):
        ours = encode(texts, model=str(minilm_dir), pooling=pooling, normalize=False)
        assert float(np.abs(ours - reference).max()) <= TOLERANCE, pooling


@pytest.mark.reference
def test_cls_and_pooler_equal_transformers(random_bert: tuple[Path, Any]) -> None:
    model_dir, model = random_bert
    texts = [*TEXTS[:4], *ud_sentences(1)]
    cls, pooled, _ = _reference_outputs(model, model_dir, texts)
    ours_cls = encode(texts, model=str(model_dir), pooling="cls")
    ours_pooler = encode(texts, model=str(model_dir), pooling="pooler")
    assert float(np.abs(ours_cls - cls).max()) <= TOLERANCE
    assert float(np.abs(ours_pooler - pooled).max()) <= TOLERANCE
    # no sentence-transformers configuration, pooler weights present: auto is the pooler (Spark NLP)
    assert np.array_equal(encode(texts, model=str(model_dir)), ours_pooler)


@pytest.mark.reference
def test_long_text_uses_windows_and_cls_comes_from_the_first(random_bert: tuple[Path, Any]) -> None:
    import torch
    from tokenizers import Tokenizer

    model_dir, model = random_bert
    text = " ".join(ud_sentences(1))  # twelve languages in one text: well over 32 pieces
    tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    pieces = tokenizer.encode(text, add_special_tokens=False).ids
    assert len(pieces) > 100
    first = torch.tensor([[101, *pieces[:30], 102]])
    with torch.no_grad():
        expected = model(input_ids=first).last_hidden_state[0, 0].numpy()
    ours = encode([text], model=str(model_dir), pooling="cls", max_sentence_length=32)
    assert float(np.abs(ours[0] - expected).max()) <= TOLERANCE
    windowed = encode([text], model=str(model_dir), pooling="mean", max_sentence_length=32)
    whole = encode([text], model=str(model_dir), pooling="mean", max_sentence_length=512)
    # every piece counted once; windows change the context, not the set of positions
    assert windowed.shape == whole.shape and np.isfinite(windowed).all()
    assert float(np.abs(windowed - whole).max()) > 0


def test_pooler_without_pooler_weights_fails_naming_what_the_model_has(tmp_path: Path) -> None:
    folder = make_numpy_checkpoint(tmp_path / "ckpt", layout="bert", num_hidden_layers=1)
    model_dir = convert_checkpoint(folder, tmp_path / "model").path
    with pytest.raises(InvalidParamError, match=r"'pooler'.*no pooler weights"):
        encode(["hi"], model=str(model_dir), pooling="pooler")
    # auto falls back to [CLS]
    assert np.array_equal(
        encode(["hi"], model=str(model_dir)), encode(["hi"], model=str(model_dir), pooling="cls")
    )


def test_encode_rows_follow_texts_and_refuse_none(minilm_dir: Path) -> None:
    texts = ["b", "a", "b", ""]
    vectors = encode(texts, model=str(minilm_dir))
    assert vectors.shape == (4, 384) and vectors.dtype == np.float32
    assert np.array_equal(vectors[0], vectors[2]) and not np.array_equal(vectors[0], vectors[1])
    assert np.array_equal(encode("a", model=str(minilm_dir))[0], vectors[1])
    assert encode([], model=str(minilm_dir)).shape == (0, 384)
    with pytest.raises(TypeError, match=r"texts\[1\] is None"):
        encode(["ok", None], model=str(minilm_dir))  # type: ignore[list-item]


@pytest.mark.reference
def test_chosen_layers_feed_the_sentence_pooling(random_bert: tuple[Path, Any]) -> None:
    from pyspark.ml import PipelineModel

    from sparkbert import BertSentenceEmbeddings, DocumentAssembler, LightPipeline

    model_dir, model = random_bert
    texts = ud_sentences(1)[:4]
    _, _, outputs = _reference_outputs(model, model_dir, texts)
    stage = BertSentenceEmbeddings(modelPath=str(model_dir), poolingStrategy="mean", layers=[-2, 0])
    light = LightPipeline(PipelineModel(stages=[DocumentAssembler(), stage.setInputCols("document")]))
    for text, out, result in zip(texts, outputs, light.fullAnnotate(texts)):
        expected = ((out.hidden_states[-2][0] + out.hidden_states[0][0]) / 2).numpy().mean(0)
        [vector] = result["sentence_embeddings"]
        assert float(np.abs(vector.embeddings - expected).max()) <= TOLERANCE, text
    assert stage.setLayerPooling("concat").getDimension() == 64
