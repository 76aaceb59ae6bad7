"""BertEmbeddings.setLayers / setLayerPooling: equal to transformers' hidden_states, real widths reported."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pyspark.ml import PipelineModel
from tests.helpers.checkpoints import make_random_checkpoint

from sparkbert import (
    BertEmbeddings,
    DocumentAssembler,
    InvalidParamError,
    LightPipeline,
    SentenceDetector,
    Tokenizer,
)
from sparkbert.model.convert import convert_checkpoint

TOLERANCE = 1e-5
LAYERS = 3
TEXTS = ["Überraschung im Fußballstadion, unbelievable scenes!", "東京は晴れ。明日は雨！ Здравствуйте, мир."]


@pytest.fixture(scope="module")
def bert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    root = tmp_path_factory.mktemp("layers")
    folder, model = make_random_checkpoint(root / "ckpt", layout="bert", seed=9, num_hidden_layers=LAYERS)
    return Path(convert_checkpoint(folder, root / "model").path), model


def _light(model_dir: Path, **params: Any) -> LightPipeline:
    stages = [
        DocumentAssembler(),
        SentenceDetector().setInputCols("document").setOutputCol("sentence"),
        Tokenizer().setInputCols("sentence").setOutputCol("token"),
        BertEmbeddings(modelPath=str(model_dir), **params).setInputCols("sentence", "token"),
    ]
    return LightPipeline(PipelineModel(stages=stages))


def _reference(
    model: Any,
    model_dir: Path,
    sentence: Any,
    tokens: list[Any],
    layers: list[int],
    pooling: str,
    combine: str,
) -> np.ndarray:
    """transformers' hidden_states for the sentence, pooled per token and combined across layers."""
    import torch
    from tokenizers import Tokenizer as HFTokenizer

    enc = HFTokenizer.from_file(str(model_dir / "tokenizer.json")).encode(sentence.result)
    with torch.no_grad():
        ids = torch.tensor([enc.ids])
        states = model(input_ids=ids, output_hidden_states=True).hidden_states
    offsets = np.array(enc.offsets)
    special = np.array(enc.special_tokens_mask, dtype=bool)
    out = []
    for token in tokens:
        begin, end = token.begin - sentence.begin, token.end + 1 - sentence.begin
        pieces = np.nonzero(~special & (offsets[:, 1] > begin) & (offsets[:, 0] < end))[0]
        per_layer = []
        for layer in layers:
            h = states[layer][0].numpy()[pieces]
            per_layer.append({"first": h[0], "last": h[-1], "mean": h.mean(0)}[pooling])
        if combine == "concat":
            out.append(np.concatenate(per_layer))
        else:
            total = np.sum(per_layer, axis=0)
            out.append(total / len(layers) if combine == "mean" else total)
    return np.stack(out)


@pytest.mark.reference
@pytest.mark.parametrize("pooling", ["first", "mean", "last"])
@pytest.mark.parametrize(
    ("layers", "combine"), [([-1, -2, -3, -4], "concat"), ([-4], "mean"), ([-1, -3], "mean"), ([1, 2], "sum")]
)
def test_layers_equal_transformers(
    bert: tuple[Path, Any], layers: list[int], combine: str, pooling: str
) -> None:
    model_dir, model = bert
    light = _light(model_dir, layers=layers, layerPooling=combine, poolingStrategy=pooling)
    absolute = [i if i >= 0 else LAYERS + 1 + i for i in layers]
    for result in light.fullAnnotate(TEXTS):
        for sentence in result["sentence"]:
            key = sentence.metadata["sentence"]
            tokens = [t for t in result["token"] if t.metadata["sentence"] == key]
            ours = np.stack([a.embeddings for a in result["embeddings"] if a.metadata["sentence"] == key])
            expected = _reference(model, model_dir, sentence, tokens, absolute, pooling, combine)
            assert ours.shape == expected.shape
            assert float(np.abs(ours - expected).max()) <= TOLERANCE


def test_width_and_validation(bert: tuple[Path, Any]) -> None:
    model_dir, _ = bert
    stage = BertEmbeddings(modelPath=str(model_dir))
    assert stage.getLayers() == [-1] and stage.getLayerPooling() == "mean" and stage.getDimension() == 32
    stage.setLayers([-1, -2, -3, -4]).setLayerPooling("concat")
    assert stage.getDimension() == 4 * 32
    from pyspark.sql.types import StructField, StructType

    from sparkbert.annotation import annotation_array_type

    schema = StructType(
        [
            StructField("sentence", annotation_array_type(), True, {"annotatorType": "document"}),
            StructField("token", annotation_array_type(), True, {"annotatorType": "token"}),
        ]
    )
    assert stage.transformSchema(schema)["embeddings"].metadata["dimension"] == 128
    with pytest.raises(InvalidParamError, match=r"'layers'.*from -4 to 3"):
        stage.setLayers([-5])
    with pytest.raises(InvalidParamError, match="layerPooling"):
        stage.setLayerPooling("max")


def test_default_is_todays_output(bert: tuple[Path, Any]) -> None:
    model_dir, _ = bert
    default = _light(model_dir).fullAnnotate(TEXTS[0])[0]["embeddings"]
    last = _light(model_dir, layers=[-1]).fullAnnotate(TEXTS[0])[0]["embeddings"]
    explicit = _light(model_dir, layers=[LAYERS]).fullAnnotate(TEXTS[0])[0]["embeddings"]
    for a, b, c in zip(default, last, explicit):
        assert np.array_equal(a.embeddings, b.embeddings) and np.array_equal(a.embeddings, c.embeddings)
