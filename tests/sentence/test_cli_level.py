"""`sparkbert embed --level sentence|document`: one vector per sentence or per text, as encode gives."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from tests.cli.runner import FAST_JVM, assert_one_error_line, run_cli
from tests.conftest import minilm_checkpoint

from sparkbert import encode
from sparkbert.model.convert import convert_checkpoint

pytestmark = [pytest.mark.spark, pytest.mark.slow]

LINES = ["Hello world. Second sentence here!", "", "Der schnelle braune Fuchs springt."]


@pytest.fixture(scope="module")
def minilm_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return Path(convert_checkpoint(minilm_checkpoint(), tmp_path_factory.mktemp("minilm") / "fp32").path)


@pytest.mark.parametrize("level", ["sentence", "document"])
def test_level_writes_one_vector_per_unit(level: str, minilm_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "in.txt").write_text("\n".join(LINES) + "\n", encoding="utf-8")
    result = run_cli(
        "embed", "--input", "in.txt", "--output", "out", "--model", str(minilm_dir), "--level", level,
        "--master", "local[1]", *FAST_JVM, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    summary = dict(line.split(":", 1) for line in result.stdout.splitlines())
    table = pd.read_parquet(tmp_path / "out").sort_values("id")
    assert summary["rows"].strip() == "3" and summary["empty rows"].strip() == "1"
    if level == "sentence":
        first = table.iloc[0]
        assert list(first.sentences) == ["Hello world.", "Second sentence here!"]
        expected = encode(["Hello world.", "Second sentence here!"], model=str(minilm_dir))
        got = np.array([np.asarray(v, np.float32) for v in first.vectors])
        assert summary["vectors"].strip() == summary["sentences"].strip() == "3"
    else:
        assert list(table.columns) == ["id", "text", "vector"] and len(table.vector.iloc[1]) == 0
        expected = encode([LINES[0]], model=str(minilm_dir))
        got = np.asarray(table.vector.iloc[0], np.float32)[None]
        assert summary["vectors"].strip() == "2"
    assert float(np.abs(got - expected).max()) <= 1e-5
    # a fraction of the per-token output: 384 floats per unit instead of one per token
    assert sum(p.stat().st_size for p in (tmp_path / "out").glob("*.parquet")) < 20_000


def test_sentence_embeddings_flag_is_for_tokens(tmp_path: Path, minilm_dir: Path) -> None:
    (tmp_path / "in.txt").write_text("Hi.\n", encoding="utf-8")
    result = run_cli(
        "embed", "--input", "in.txt", "--output", "out", "--model", str(minilm_dir), "--level", "document",
        "--sentence-embeddings", cwd=tmp_path,
    )  # fmt: skip
    assert_one_error_line(result, "--sentence-embeddings", "--level token")
