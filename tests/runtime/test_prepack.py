"""One prepacked, memory-mapped copy of the weights per machine (``shareWeights``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from tests.conftest import REPO

from sparkbert.annotation import DOCUMENT, Annotation
from sparkbert.model.convert import convert_checkpoint
from sparkbert.model.directory import open_model_directory
from sparkbert.runtime.embedder import Embedder, EmbedderConfig, load_resources
from sparkbert.runtime.prepack import machine_key, prepack_root, prepacked_model, supported
from sparkbert.runtime.session import SessionOptions, clear_cache
from sparkbert.text.tokens import tokenize

pytestmark = pytest.mark.skipif(not supported(), reason="needs onnxruntime >= 1.21")

TEXTS = [
    "Hello wörld, this is a test.",
    "Zweiter Satz hier, mit Umlauten: äöü.",
    "你好，世界。",
    "[CLS] text",
]


@pytest.fixture(scope="module")
def medium_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Big enough matrices (4 x 3.1M weights) for the packed copy to show in memory."""
    from tests.helpers.checkpoints import make_random_checkpoint

    root = tmp_path_factory.mktemp("prepack")
    folder, _ = make_random_checkpoint(
        root / "ckpt", num_hidden_layers=4, hidden_size=512, num_attention_heads=8, intermediate_size=2048
    )
    return convert_checkpoint(folder, root / "fp32").path


def _embed(model: Path, share: bool) -> np.ndarray:
    sentences = [[Annotation(DOCUMENT, 0, len(t) - 1, t, {"sentence": "0"})] for t in TEXTS]
    tokens = [tokenize(s) for s in sentences]
    config = EmbedderConfig.for_model(str(model), session=SessionOptions(share_weights=share))
    rows = Embedder(config).embed(sentences, tokens)
    return np.concatenate([[a.embeddings for a in r] for r in rows])


def test_shared_copy_is_made_once_and_gives_identical_vectors(
    medium_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SPARKBERT_HOME", str(tmp_path / "home"))
    clear_cache()
    private = _embed(medium_model, share=False)
    clear_cache()
    shared = _embed(medium_model, share=True)
    np.testing.assert_array_equal(shared, private)

    packed = prepack_root() / machine_key(open_model_directory(medium_model).identity) / "model.onnx"
    assert prepack_root().is_relative_to(tmp_path / "home")
    session = load_resources(EmbedderConfig.for_model(str(medium_model))).session
    assert Path(session._model_path) == packed  # the worker runs the mapped copy
    stamp = packed.stat().st_mtime_ns
    clear_cache()
    assert prepacked_model(
        str(medium_model / "model.onnx"), open_model_directory(medium_model).identity, {}
    ) == str(packed)
    assert packed.stat().st_mtime_ns == stamp  # reused, not rebuilt
    assert not [p for p in packed.parent.parent.iterdir() if p.name.startswith(".staging-")]


def _anonymous_growth(model: Path, share: bool, home: Path) -> float:
    """MiB of private anonymous memory a fresh process gains from loading the model and one batch."""
    code = f"""
import json, psutil, onnxruntime, tokenizers
from tests.runtime.test_prepack import _embed
from pathlib import Path
p = psutil.Process()
def anon():
    m = p.memory_info()
    return (m.rss - m.shared) / 2**20
before = anon()
_embed(Path({str(model)!r}), {share!r})
print(json.dumps(anon() - before))
"""
    env = {**os.environ, "SPARKBERT_HOME": str(home), "OMP_NUM_THREADS": "1"}
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, check=True
    )
    return float(json.loads(out.stdout.strip().splitlines()[-1]))


def test_a_worker_holds_no_private_copy_of_the_weights(medium_model: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    _anonymous_growth(medium_model, True, home)  # makes the machine's copy
    shared = _anonymous_growth(medium_model, True, home)
    private = _anonymous_growth(medium_model, False, home)
    matrices = 4 * (4 * 512 * 512 + 2 * 512 * 2048) * 4 / 2**20  # fp32 MiB of the layers' weights
    print(
        f"anonymous memory per worker: private {private:.0f} MiB, shared {shared:.0f} MiB, matrices {matrices:.0f} MiB"
    )
    assert private - shared >= 0.5 * matrices
