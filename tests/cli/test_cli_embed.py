"""`sparkbert embed` and `sparkbert demo` run as a user runs them: `python -m sparkbert` in a subprocess.

Each test is one Spark start (local[1]) on a tiny input with the tiny random-weight model; the
same sentence appears in every input so the formats can be compared with each other.
"""

from __future__ import annotations

import gzip
import json
import re
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from tests.cli.runner import FAST_JVM, run_cli

pytestmark = [pytest.mark.spark, pytest.mark.slow]

SHARED = "Hello world. Second sentence here!"
DIM = 32  # hidden size of the tiny model


def summary(result: subprocess.CompletedProcess[str]) -> dict[str, str]:
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return dict(
        (k.strip(), v.strip()) for k, v in (line.split(":", 1) for line in result.stdout.splitlines())
    )


def check_rows(table: pd.DataFrame, *, sentence_vectors: bool = False) -> None:
    """Every row: one vector of the model's width per token, offsets that point at the token."""
    for row in table.itertuples():
        n = len(row.tokens)
        assert len(row.vectors) == len(row.begins) == len(row.ends) == len(row.sentence_ids) == n
        assert all(len(v) == DIM for v in row.vectors)
        for token, begin, end in zip(row.tokens, row.begins, row.ends):
            assert row.text[begin : end + 1] == token
        if sentence_vectors:
            assert len(row.sentence_vectors) == len(row.sentences)
            assert all(len(v) == DIM for v in row.sentence_vectors)


def shared_vectors(table: pd.DataFrame) -> np.ndarray:
    row = table[table.text == SHARED].iloc[0]
    return np.array([np.asarray(v, dtype=np.float32) for v in row.vectors])


@pytest.fixture(scope="module")
def reference(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A .txt run (with sentence embeddings) whose vectors for SHARED the other formats must match."""
    work = tmp_path_factory.mktemp("cli-txt")
    lines = [SHARED, "", "   ", "Der schnelle braune Fuchs springt.", "東京は晴れ。明日は雨！", "x" * 3]
    raw = "\n".join(lines).encode() + b"\ncaf\xe9 au lait\n"  # not UTF-8: unreadable, an empty row
    (work / "in.txt").write_bytes(raw)
    result = run_cli(
        "embed", "--input", "in.txt", "--output", "out", "--model", str(tiny_model_dir),
        "--master", "local[1]", *FAST_JVM, "--sentence-embeddings", cwd=work,
    )  # fmt: skip
    return {"result": result, "work": work, "lines": [*lines, None]}


def test_txt_input_one_row_per_line(reference: dict[str, Any]) -> None:
    stats = summary(reference["result"])
    table = pd.read_parquet(reference["work"] / "out").sort_values("id")
    assert table.id.tolist() == list(range(len(reference["lines"])))
    assert [None if pd.isna(t) else t for t in table.text] == reference["lines"]
    check_rows(table[table.text.notna()], sentence_vectors=True)
    first = table.iloc[0]
    assert list(first.sentences) == ["Hello world.", "Second sentence here!"]
    assert list(first.sentence_ids) == [0, 0, 0, 1, 1, 1, 1]
    assert [len(table.tokens.iloc[i]) for i in (1, 2, 6)] == [0, 0, 0]  # empty, blank, not UTF-8
    assert stats["rows"] == "7" and stats["empty rows"] == "3"
    assert int(stats["tokens"]) == sum(len(t) for t in table.tokens)
    assert int(stats["sentences"]) == sum(len(s) for s in table.sentences)
    assert stats["output"].startswith("out") and float(stats["tokens/s"]) >= 0
    assert "embedding in.txt (txt)" in reference["result"].stderr


def test_jsonl_input_bad_rows_are_empty_not_fatal(
    reference: dict[str, Any], tiny_model_dir: Path, tmp_path: Path
) -> None:
    rows = [
        json.dumps({"id": "a", "text": SHARED}),
        json.dumps({"id": "b", "text": None}),
        json.dumps({"id": "c"}),
        "this line is not JSON",
        json.dumps({"id": "e", "text": 42}),
        json.dumps({"id": "f", "text": ""}),
        json.dumps({"id": "g", "text": "Ünïcödé café — ok."}, ensure_ascii=False),
    ]
    (tmp_path / "in.jsonl").write_text("\n".join(rows) + "\n", encoding="utf-8")
    result = run_cli(
        "embed", "--input", "in.jsonl", "--output", "out", "--format", "jsonl", "--model", str(tiny_model_dir),
        "--master", "local[1]", *FAST_JVM, cwd=tmp_path,
    )  # fmt: skip
    stats = summary(result)
    parts = sorted((tmp_path / "out").glob("part-*.json"))
    table = pd.concat([pd.read_json(p, lines=True, dtype=False) for p in parts], ignore_index=True)
    assert len(table) == 7 and stats["rows"] == "7"
    assert stats["empty rows"] == "4"  # null, missing, unparsable and empty text
    by_id = table.set_index(table.id.fillna("-"))
    assert list(by_id.loc["e"].tokens) == ["42"]
    assert all(len(by_id.loc[i].tokens) == 0 for i in ("b", "c", "f", "-"))
    check_rows(table[table.text.notna()])
    assert np.allclose(
        shared_vectors(table), shared_vectors(pd.read_parquet(reference["work"] / "out")), atol=1e-6
    )


def test_csv_input_with_quoted_newlines(
    reference: dict[str, Any], tiny_model_dir: Path, tmp_path: Path
) -> None:
    csv = f'doc,body\n1,"{SHARED}"\n2,"A line, with a comma\nand a newline."\n3,\n'
    # with a UTF-8 byte-order mark, as Excel's "CSV UTF-8" saves: Spark drops it from the first
    # column's name, and so must the check of --id-column before Spark starts
    (tmp_path / "in.csv").write_text(csv, encoding="utf-8-sig")
    result = run_cli(
        "embed", "--input", "in.csv", "--output", "out", "--text-column", "body", "--id-column", "doc",
        "--model", str(tiny_model_dir), "--master", "local[1]", *FAST_JVM, cwd=tmp_path,
    )  # fmt: skip
    stats = summary(result)
    table = pd.read_parquet(tmp_path / "out").sort_values("id")
    assert table.id.tolist() == ["1", "2", "3"] and stats["empty rows"] == "1"
    assert table.text.iloc[1] == "A line, with a comma\nand a newline."
    check_rows(table[table.text.notna()])
    assert np.allclose(
        shared_vectors(table), shared_vectors(pd.read_parquet(reference["work"] / "out")), atol=1e-6
    )


def test_parquet_folder_input_overwrite_and_partitions(
    reference: dict[str, Any], tiny_model_dir: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    texts = [SHARED, None, *(f"Sentence number {i}." for i in range(20))]
    for n, chunk in enumerate((texts[:10], texts[10:])):
        ids = list(range(n * 10, n * 10 + len(chunk)))
        pq.write_table(pa.table({"key": ids, "text": chunk}), folder / f"part-{n}.parquet")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "stale.txt").write_text("replaced by --overwrite")
    result = run_cli(
        "embed", "--input", "in", "--output", "out", "--id-column", "key", "--overwrite", "--partitions", "3",
        "--pooling", "mean", "--batch-size", "4", "--model", str(tiny_model_dir), "--master", "local[1]", *FAST_JVM, cwd=tmp_path,
    )  # fmt: skip
    stats = summary(result)
    table = pd.read_parquet(tmp_path / "out").sort_values("id")
    assert table.id.tolist() == list(range(22)) and stats["rows"] == "22" and stats["empty rows"] == "1"
    assert not (tmp_path / "out" / "stale.txt").exists()
    check_rows(table[table.text.notna()])
    assert len(list((tmp_path / "out").glob("part-*"))) == 3


def test_a_folder_of_folders_is_read_at_every_depth_in_path_order(
    reference: dict[str, Any], tiny_model_dir: Path, tmp_path: Path
) -> None:
    """Spark alone reads one level of a folder: a corpus in year folders gave no rows at all."""
    files = {
        "2026/02/late.txt": ["Deeper down."],
        "2025/12.txt": [SHARED, "December two."],
        "top.txt": ["Top level."],
        "2026/01.txt": ["January."],
    }
    for name, lines in files.items():
        (tmp_path / "corpus" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "corpus" / name).write_text("\n".join(lines) + "\n")
    (tmp_path / "corpus" / "README.md").write_text("# What this corpus is\n")
    (tmp_path / "corpus" / "_SUCCESS").write_text("")
    (tmp_path / "corpus" / "2026" / ".01.txt.swp").write_text("an editor's swap file\n")
    result = run_cli(
        "embed", "--input", "corpus", "--output", "out", "--format", "jsonl", "--model", str(tiny_model_dir),
        "--master", "local[1]", *FAST_JVM, cwd=tmp_path,
    )  # fmt: skip
    stats = summary(result)
    assert "left out 1 file not named as txt (README.md)" in result.stderr
    assert "embedding corpus (4 files, txt)" in result.stderr
    parts = sorted((tmp_path / "out").glob("part-*.json"))
    table = pd.concat([pd.read_json(p, lines=True, dtype=False) for p in parts], ignore_index=True)
    in_path_order = [
        *files["2025/12.txt"],
        *files["2026/01.txt"],
        *files["2026/02/late.txt"],
        *files["top.txt"],
    ]
    assert stats["rows"] == "5" and table.sort_values("id").text.tolist() == in_path_order
    assert table.id.sort_values().tolist() == list(range(5))
    check_rows(table)
    assert np.allclose(
        shared_vectors(table), shared_vectors(pd.read_parquet(reference["work"] / "out")), atol=1e-6
    )


def test_demo_prints_a_neighbour_in_another_language(tiny_model_dir: Path, tmp_path: Path) -> None:
    result = run_cli("demo", "--model", str(tiny_model_dir), "--master", "local[1]", *FAST_JVM, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 65
    for line in lines[:64]:
        left, right = line.split("  →  ")
        lang, other = left.split()[0], right.split()[0]
        similarity = float(right.split()[-2])
        assert lang != other and -1.0 <= similarity <= 1.0 and right.endswith(("✓", "✗"))
    assert (
        lines[-1].startswith("The nearest neighbour is a translation for ")
        and " of 64 sentences" in lines[-1]
    )


def test_one_gzipped_file_runs_on_every_slot_with_progress_lines(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    """A .gz file is one Spark partition; it is split so both slots work, and progress shows without a terminal."""
    lines = [f"Sentence number {i}. Another one here!" for i in range(40)]
    (tmp_path / "in.txt.gz").write_bytes(gzip.compress("\n".join(lines).encode()))
    result = run_cli(
        "embed", "--input", "in.txt.gz", "--output", "out", "--model", str(tiny_model_dir),
        "--master", "local[2]", "--progress-interval", "0.2", *FAST_JVM, cwd=tmp_path,
    )  # fmt: skip
    stats = summary(result)
    assert stats["rows"] == "40"
    assert "sparkbert: 40 rows in 2 tasks, 2 task slots" in result.stderr
    assert len(list((tmp_path / "out").glob("part-*.parquet"))) == 2
    progress = re.findall(
        r"^sparkbert: ([\d,]+)/40 rows \(\d+%\), ([\d,]+) tokens, \d+ rows/s, \d+ tokens/s, ETA \S+$",
        result.stderr,
        flags=re.MULTILINE,
    )
    assert progress, result.stderr
    done = [(int(r.replace(",", "")), int(t.replace(",", ""))) for r, t in progress]
    assert done == sorted(done) and all(r <= 40 and t <= int(stats["tokens"]) for r, t in done)
