"""A checkpoint's sentence-transformers chain (Pooling → Dense → Normalize, LaBSE's shape): read, converted, equal to its own encode."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
from tests.helpers.checkpoints import make_numpy_checkpoint, make_random_checkpoint, ud_sentences

from sparkbert import BertSentenceEmbeddings, InvalidParamError, UnsafeModelError, encode
from sparkbert.model.convert import convert_checkpoint
from sparkbert.model.st_modules import read_sentence_modules


@pytest.fixture(scope="module")
def labse_like(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    """A random BERT saved by sentence-transformers as LaBSE is: CLS pooling, Dense(tanh) to 16, Normalize."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from sentence_transformers import SentenceTransformer, models
        from torch import nn

        root = tmp_path_factory.mktemp("labse-like")
        folder, _ = make_random_checkpoint(root / "bert", layout="hf", seed=11, num_hidden_layers=2)
        transformer = models.Transformer(str(folder))
        pooling = models.Pooling(transformer.get_word_embedding_dimension(), pooling_mode="cls")
        dense = models.Dense(32, 16, activation_function=nn.Tanh())
        model = SentenceTransformer(modules=[transformer, pooling, dense, models.Normalize()], device="cpu")
        model.save(str(root / "st"), safe_serialization=True)
    return root / "st", model


def test_reads_the_chain(labse_like: tuple[Path, object]) -> None:
    modules = read_sentence_modules(labse_like[0])
    assert modules is not None
    assert (modules.pooling, modules.normalize, len(modules.dense)) == ("cls", True, 1)
    assert modules.dense[0].activation == "tanh" and modules.dense[0].weight.shape == (16, 32)


@pytest.mark.reference
def test_auto_equals_its_own_encode_with_dense_and_normalize(
    labse_like: tuple[Path, object], tmp_path: Path
) -> None:
    folder, model = labse_like
    directory = convert_checkpoint(folder, tmp_path / "model")
    assert directory.manifest["sentence"]["modules"]["dense"][0]["out_features"] == 16
    texts = ud_sentences(2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = model.encode(texts, convert_to_numpy=True)  # type: ignore[attr-defined]
    ours = encode(texts, model=str(directory.path))
    assert ours.shape == reference.shape == (len(texts), 16)
    assert float(np.abs(ours - reference).max()) <= 1e-5
    stage = BertSentenceEmbeddings(modelPath=str(directory.path))
    assert stage.getDimension() == 16  # the Dense layer's width
    assert stage.setPoolingStrategy("cls").getDimension() == 32  # explicit strategies skip the Dense


def test_pickled_dense_is_refused(labse_like: tuple[Path, object], tmp_path: Path) -> None:
    import shutil

    folder = tmp_path / "ckpt"
    shutil.copytree(labse_like[0], folder)
    dense = next(p for p in folder.iterdir() if p.name.endswith("_Dense"))
    (dense / "model.safetensors").unlink()
    (dense / "pytorch_model.bin").write_bytes(b"not unpickled")
    with pytest.raises(UnsafeModelError, match="pickle"):
        convert_checkpoint(folder, tmp_path / "out")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("modules", "pooling", "match"),
    [
        (
            [
                {"idx": 0, "path": "", "type": "sentence_transformers.models.Transformer"},
                {"idx": 1, "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
            ],
            {"pooling_mode": ["cls", "attention"]},  # a mode sparkbert does not know
            "pooling mode.*'cls\\+attention'.*one or more of 'cls', 'mean', 'max', 'mean_sqrt_len'",
        ),
        (
            [
                {"idx": 0, "path": "", "type": "sentence_transformers.models.Transformer"},
                {"idx": 1, "path": "1_Pooling", "type": "sentence_transformers.models.CNN"},
            ],
            {},
            "CNN",
        ),
        (
            [{"idx": 0, "path": "../escape", "type": "sentence_transformers.models.Transformer"}],
            {},
            "not a plain file name",
        ),
    ],
)
def test_unsupported_chains_fail_naming_the_module(
    modules: list[dict[str, object]], pooling: dict[str, object], match: str, tmp_path: Path
) -> None:
    folder = make_numpy_checkpoint(tmp_path / "ckpt", num_hidden_layers=1)
    (folder / "modules.json").write_text(json.dumps(modules))
    (folder / "1_Pooling").mkdir()
    (folder / "1_Pooling" / "config.json").write_text(json.dumps(pooling))
    with pytest.raises((InvalidParamError, UnsafeModelError), match=match):
        convert_checkpoint(folder, tmp_path / "out")


def test_a_dense_layer_refuses_layers_of_another_width(
    labse_like: tuple[Path, object], tmp_path: Path
) -> None:
    directory = convert_checkpoint(labse_like[0], tmp_path / "model")
    stage = BertSentenceEmbeddings(modelPath=str(directory.path), layers=[-1, -2], layerPooling="concat")
    with pytest.raises(InvalidParamError, match=r"'layers'.*Dense layer takes"):
        stage.getDimension()
    assert stage.setLayerPooling("mean").getDimension() == 16


@pytest.mark.reference
def test_a_sentence_model_from_the_hub_keeps_its_chain(
    labse_like: tuple[Path, object], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pretrained('org/name') downloads modules.json and the module folders (never their pickles)."""
    from tests.helpers.hub_server import FakeHub

    monkeypatch.setenv("SPARKBERT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    monkeypatch.delenv("SPARKBERT_OFFLINE", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    folder, model = labse_like
    with FakeHub() as server:
        monkeypatch.setenv("HF_ENDPOINT", server.endpoint)
        server.add_repo(
            "test-org/labse-like", folder, extra_files={"2_Dense/pytorch_model.bin": b"\x80\x04pickle"}
        )
        stage = BertSentenceEmbeddings.pretrained("test-org/labse-like")
        fetched = server.requested_files("test-org/labse-like")
    assert {"modules.json", "1_Pooling/config.json", "2_Dense/model.safetensors"} <= set(fetched)
    assert not any(name.endswith(".bin") for name in fetched)
    assert stage.getDimension() == 16 and stage.getNormalize()
    texts = ud_sentences(1)[:3]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = model.encode(texts, convert_to_numpy=True)  # type: ignore[attr-defined]
    ours = encode(texts, model=stage.getModelPath())
    assert float(np.abs(ours - reference).max()) <= 1e-5


def test_editing_a_module_config_gives_a_new_conversion(
    labse_like: tuple[Path, object], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A local checkpoint's cache key covers modules.json and its modules, not only the weights."""
    import shutil

    from sparkbert.model.resolve import resolve_model

    monkeypatch.setenv("SPARKBERT_HOME", str(tmp_path / "home"))
    folder = Path(shutil.copytree(labse_like[0], tmp_path / "st"))
    first = resolve_model(folder)
    assert first.manifest["sentence"]["modules"]["pooling"] == "cls"
    config_path = folder / "1_Pooling" / "config.json"
    config = json.loads(config_path.read_text())
    config.update(pooling_mode_cls_token=False, pooling_mode_mean_tokens=True)
    if "pooling_mode" in config:  # sentence-transformers >= 5 also writes the mode by name
        config["pooling_mode"] = "mean"
    config_path.write_text(json.dumps(config))
    second = resolve_model(folder)
    assert second.path != first.path
    assert second.manifest["sentence"]["modules"]["pooling"] == "mean"
