"""``sparkbert demo``: the nearest neighbour, in another language, of bundled parallel sentences.

Examples
--------
>>> rows = parallel_sentences()
>>> sorted({r["lang"] for r in rows})
['de', 'en', 'es', 'fr', 'it', 'ja', 'ru', 'zh']
"""

from __future__ import annotations

import argparse
import json
import unicodedata
from collections.abc import Sequence
from importlib import resources
from typing import Any

from sparkbert.cli import _job
from sparkbert.cli._console import status


def parallel_sentences() -> list[dict[str, Any]]:
    """Return the bundled parallel sentences: ``group`` (same meaning), ``lang`` and ``text``.

    Examples
    --------
    >>> rows = parallel_sentences()
    >>> len(rows), len({r["lang"] for r in rows}), len({r["group"] for r in rows})
    (64, 8, 8)
    """
    data = (resources.files("sparkbert") / "data" / "parallel_sentences.jsonl").read_text("utf-8")
    return [json.loads(line) for line in data.splitlines() if line.strip()]


def nearest_in_other_language(vectors: Any, langs: Sequence[str]) -> list[tuple[int, float]]:
    """For each row of ``vectors``, the index and cosine similarity of its nearest row in another language.

    Examples
    --------
    >>> nearest_in_other_language([[1.0, 0.0], [0.0, 1.0], [1.0, 0.1]], ["en", "en", "de"])
    [(2, 0.995), (2, 0.0995), (0, 0.995)]
    """
    import numpy as np

    matrix = np.asarray(vectors, dtype=np.float64)
    unit = matrix / np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)
    sims = unit @ unit.T
    codes = np.asarray(langs)
    sims[codes[:, None] == codes[None, :]] = -np.inf
    best = sims.argmax(axis=1)
    return [(int(j), round(float(sims[i, j]), 4)) for i, j in enumerate(best)]


def _width(text: str) -> int:
    """Columns ``text`` takes in a terminal (East Asian wide characters take two).

    Examples
    --------
    >>> _width("Katze"), _width("猫")
    (5, 2)
    """

    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def cmd_demo(args: argparse.Namespace) -> int:
    """``sparkbert demo``: nearest cross-language neighbours of bundled parallel sentences.

    Prints one line per sentence (its nearest neighbour in another language, the cosine
    similarity of their sentence embeddings, ✓ when it is a translation) and a count.

    Examples
    --------
    >>> from sparkbert.cli import make_parser
    >>> cmd_demo(make_parser().parse_args(["demo", "--model", "./no/such/model"]))
    Traceback (most recent call last):
    ...
    sparkbert.errors.ModelNotFoundError: No such folder: no/such/model. ...
    """
    import numpy as np

    conf = _job.parse_conf(args.conf)
    _job.check_runtime()
    _job.find_java()
    directory = _job.load_model(args.model, args.precision)
    status(args, f"model {directory.path} ({_job.model_summary(directory)})")
    rows = parallel_sentences()
    spark = _job.start_spark(args.master, "sparkbert demo", conf, verbose=args.verbose, quiet=args.quiet)
    try:
        df = spark.createDataFrame([(i, r["text"]) for i, r in enumerate(rows)], "id long, text string")
        pipeline = _job.build_pipeline(
            str(directory.path.absolute()),
            sentence_embeddings=True,
            storage_ref=args.model,
            device=args.device,
        )
        table = _job.flatten(pipeline.fit(df).transform(df), sentence_embeddings=True)
        got = {r["id"]: r["sentence_vectors"] for r in table.select("id", "sentence_vectors").collect()}
    finally:
        spark.stop()
    dim = directory.hidden_size
    vectors = [
        np.mean(np.asarray(got[i], dtype=np.float64).reshape(-1, dim), axis=0) for i in range(len(rows))
    ]
    nearest = nearest_in_other_language(vectors, [r["lang"] for r in rows])
    width = max(_width(r["text"]) for r in rows)
    hits = 0
    for row, (j, sim) in zip(rows, nearest):
        other = rows[j]
        hit = other["group"] == row["group"]
        hits += hit
        pad = " " * (width - _width(row["text"]))
        print(
            f"{row['lang']}  {row['text']}{pad}  →  {other['lang']}  {other['text']}  {sim:.3f} {'✓' if hit else '✗'}"
        )
    print(f"The nearest neighbour is a translation for {hits} of {len(rows)} sentences ({args.model}).")
    return 0
