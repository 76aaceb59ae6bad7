"""`sparkbert embed` over the bad-input matrix: every row comes out, every token has a vector.

Two runs, one per parser that can trip over strange text: JSON Lines (all the strings of
:func:`tests.helpers.bad_input.bad_texts`, the 1 MB document included, plus a record without
text, a line that is not JSON and lone surrogates written as JSON escapes) and CSV (the same
strings but the 1 MB document, quoted across lines, plus a record too short to hold a text),
written back as Parquet and as JSON Lines. Each run must exit 0, write one row per input row,
count the rows with no token as "empty rows", and give every token a finite vector whose
offsets point at it. Token by token, the output must be what the pure text functions make of
the text the command read, so nothing was lost between the reader, the stages and the writer.
"""

from __future__ import annotations

import csv
import io
import json
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from tests.cli.runner import FAST_JVM, run_cli
from tests.helpers.bad_input import bad_texts

from sparkbert.text import detect_sentences, tokenize
from sparkbert.text.document import assemble_document

pytestmark = [pytest.mark.spark, pytest.mark.slow]

DIM = 32  # hidden size of the tiny model


def _summary(result: subprocess.CompletedProcess[str]) -> dict[str, str]:
    assert result.returncode == 0, result.stderr[-5000:]
    assert "Traceback" not in result.stderr
    return {k.strip(): v.strip() for k, v in (line.split(":", 1) for line in result.stdout.splitlines())}


def _expected_tokens(text: str | None) -> list[tuple[str, int, int]]:
    sentences = [s for d in assemble_document(text) for s in detect_sentences(d)]
    return [(t.result, t.begin, t.end) for t in tokenize(sentences)]


def _check(table: pd.DataFrame, stats: dict[str, str], n_rows: int) -> dict[str, Any]:
    """The invariants every output must hold; returns the rows by id."""
    assert len(table) == n_rows and stats["rows"] == str(n_rows)
    empty = 0
    for row in table.itertuples():
        text = None if not isinstance(row.text, str) else row.text
        tokens = list(row.tokens)
        empty += not tokens
        assert len(row.begins) == len(row.ends) == len(row.vectors) == len(row.sentence_ids) == len(tokens)
        assert list(zip(tokens, row.begins, row.ends)) == _expected_tokens(text), row.id
        for token, begin, end, vector in zip(tokens, row.begins, row.ends, row.vectors):
            assert text is not None and text[begin : end + 1] == token
            v = np.asarray(vector, dtype=np.float32)
            assert v.shape == (DIM,) and np.isfinite(v).all()
    assert stats["empty rows"] == str(empty)
    assert stats["tokens"] == str(sum(len(t) for t in table.tokens))
    return {row.id: row for row in table.itertuples()}


def _check_named_cases(rows: dict[str, Any], cases: dict[str, str | None]) -> None:
    for name in ("null", "empty", "blank"):
        assert len(rows[name].tokens) == 0, name
    for name, text in cases.items():
        if text is not None and text.strip():
            assert len(rows[name].tokens) > 0, name
    assert len(rows["20k_tokens_no_punctuation"].tokens) == 20_000
    assert {"CLS", "SEP", "MASK"} <= set(rows["special_token_lookalikes"].tokens)


def test_jsonl_matrix(tiny_model_dir: Path, tmp_path: Path) -> None:
    cases = bad_texts()
    lines = [json.dumps({"id": name, "text": text}, ensure_ascii=False) for name, text in cases.items()]
    lines += [
        json.dumps({"id": "no_text_field"}),
        "{this line is not JSON",
        json.dumps({"id": "lone_high_surrogate", "text": "\ud800"}),  # escaped: valid JSON
        json.dumps({"id": "lone_low_surrogate", "text": "a\udc00b c"}),
    ]
    (tmp_path / "in.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = run_cli(
        "embed", "--input", "in.jsonl", "--output", "out", "--model", str(tiny_model_dir),
        "--master", "local[1]", *FAST_JVM, "--batch-size", "64", cwd=tmp_path,
    )  # fmt: skip
    table = pd.read_parquet(tmp_path / "out")
    table["id"] = table["id"].fillna("unparsable")
    stats = _summary(result)
    rows = _check(table, stats, len(lines))
    assert stats["empty rows"] == "5"  # null, empty, blank, no text field, not JSON
    _check_named_cases(rows, cases)
    for name, text in cases.items():
        assert (rows[name].text if text is not None else None) == text, name  # read exactly
    assert len(rows["no_text_field"].tokens) == len(rows["unparsable"].tokens) == 0
    # Spark's JVM strings carry a lone surrogate, its UTF-8 writer turns it into "?": a token
    assert rows["lone_high_surrogate"].text == "?" and list(rows["lone_high_surrogate"].tokens) == ["?"]
    assert rows["lone_low_surrogate"].text == "a?b c"


def _csv_text(rows: list[list[str | None]]) -> str:
    """``rows`` as CSV, CRLF-terminated, NUL written as itself (Python 3.10's ``csv`` refuses NUL)."""
    stand_in = "\ufdd0"  # a noncharacter: in no test text
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerows([None if v is None else v.replace("\0", stand_in) for v in row] for row in rows)
    return out.getvalue().replace(stand_in, "\0")


def test_csv_matrix_written_as_jsonl(tiny_model_dir: Path, tmp_path: Path) -> None:
    cases = bad_texts(one_mb=False)
    rows = [["id", "text"], *([name, text] for name, text in cases.items()), ["too_short"]]
    with open(tmp_path / "in.csv", "w", encoding="utf-8", newline="") as f:
        f.write(_csv_text(rows))
    result = run_cli(
        "embed", "--input", "in.csv", "--output", "out", "--format", "jsonl", "--model", str(tiny_model_dir),
        "--master", "local[1]", *FAST_JVM, cwd=tmp_path,
    )  # fmt: skip
    parts = sorted((tmp_path / "out").glob("part-*.json"))
    table = pd.concat([pd.read_json(p, lines=True, dtype={"id": str}) for p in parts], ignore_index=True)
    stats = _summary(result)
    rows = _check(table, stats, len(cases) + 1)
    assert stats["empty rows"] == "4"  # null, empty, blank, too short
    _check_named_cases(rows, cases)
    for name, text in cases.items():
        if text:  # CSV cannot tell null from empty: both read as null
            # Spark's CSV parser reads a CRLF inside a quoted field as LF; offsets are the read text's
            assert rows[name].text == text.replace("\r\n", "\n"), name
    assert len(rows["too_short"].tokens) == 0
