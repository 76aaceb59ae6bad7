"""What a Python worker imports to run a pipeline: no pyspark.ml, no scipy.

Spark pickles the function a stage hands to ``mapInArrow`` and each Python worker unpickles
it, importing the modules its objects are defined in. The stage classes live in modules
that import ``pyspark.ml`` (and with it ``scipy``): about 0.4 s and 17 MiB more per worker,
for code the worker never runs. Here the real function of a fused pipeline of every
annotator stage is pickled as pyspark pickles it and run on a batch in a fresh interpreter
that has imported what a worker has (``pyspark.worker``).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pyspark.ml import Pipeline
from pyspark.serializers import CloudPickleSerializer

from sparkbert import (
    BertEmbeddings,
    BertSentenceEmbeddings,
    DocumentAssembler,
    SentenceDetector,
    SentenceEmbeddings,
    Tokenizer,
)

pytestmark = pytest.mark.spark

_WORKER = """
import json, pickle, sys
import pyarrow as pa
import pyspark.worker  # what every Python worker has loaded before it reads a function
before = set(sys.modules)
function = pickle.loads(open(sys.argv[1], "rb").read())
batch = pa.RecordBatch.from_pydict({"text": ["Hello world. Zweiter Satz!", None, ""]})
out = [b.to_pydict() for b in function(iter([batch]))]
heavy = sorted(m for m in set(sys.modules) - before if m.split(".")[0] == "scipy" or m.startswith("pyspark.ml"))
print(json.dumps({"heavy": heavy, "columns": list(out[0]), "rows": len(out[0]["text"]),
                  "vectors": [len(r) for r in out[0]["sentence_vector"]]}))
"""


def test_a_worker_runs_the_pipeline_without_pyspark_ml(
    spark: Any, tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    frame = spark.createDataFrame([("x",)], "text string")
    functions = []
    original = type(frame).mapInArrow

    def recording(self: Any, function: Any, schema: Any, *args: Any, **kwargs: Any) -> Any:
        functions.append(function)
        return original(self, function, schema, *args, **kwargs)

    monkeypatch.setattr(type(frame), "mapInArrow", recording)
    stages = [
        DocumentAssembler(),
        SentenceDetector(),
        Tokenizer(),
        BertEmbeddings(modelPath=str(tiny_model_dir)),
        SentenceEmbeddings(),
        BertSentenceEmbeddings(modelPath=str(tiny_model_dir))
        .setInputCols("sentence")
        .setOutputCol("sentence_vector"),
    ]
    Pipeline(stages=stages).fit(frame).transform(frame)
    pickled = tmp_path / "function.pickle"
    pickled.write_bytes(CloudPickleSerializer().dumps(functions[-1]))  # the whole chain, fused

    done = subprocess.run(
        [sys.executable, "-c", _WORKER, str(pickled)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.splitlines()[-1])
    assert result["heavy"] == []
    assert result["columns"] == [
        "text",
        "document",
        "sentence",
        "token",
        "embeddings",
        "sentence_embeddings",
        "sentence_vector",
    ]
    assert result["rows"] == 3
    assert result["vectors"] == [2, 0, 0]  # two sentences in the first row, no row lost


def test_the_batch_function_is_defined_where_pyspark_is_not_imported() -> None:
    """The worker-side module imports nothing of pyspark (checked in a fresh interpreter)."""
    code = (
        "import sys, sparkbert.stages.steps, sparkbert.runtime.sentence_pooling, sparkbert.runtime.embedder;"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'pyspark', 'scipy'}))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.strip() == "[]"
