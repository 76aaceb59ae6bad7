"""The pipeline's transform() on Spark Connect: a real local Connect server, compared with classic Spark.

The Connect client runs in a subprocess: ``SparkSession.builder.remote(...)`` switches the
whole Python process into Connect mode (``SPARK_CONNECT_MODE_ENABLED``), which would turn
every later classic DataFrame call of this test run into a Connect call.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyspark
import pytest
from pyspark.ml import Pipeline
from pyspark.sql import SparkSession
from tests.conftest import REPO

from sparkbert import (
    BertEmbeddings,
    DocumentAssembler,
    EmbeddingsFinisher,
    SentenceDetector,
    SentenceEmbeddings,
    Tokenizer,
)

pytestmark = [pytest.mark.slow, pytest.mark.spark]

TEXTS: list[str | None] = [
    "The quick brown fox jumps. Der schnelle braune Fuchs springt!",
    "東京は晴れ。明日は雨！",
    "Ünïcödé café naïve résumé — accents stay. Второе предложение.",
    "مرحبا بالعالم. كيف حالك؟",
    None,
    "",
    "   ",
]

#: pyspark's own requirements of its ``connect`` extra (module → pip requirement).
CONNECT_CLIENT_DEPS = {
    "grpc": "grpcio>=1.76.0",
    "grpc_status": "grpcio-status>=1.76.0",
    "google.rpc": "googleapis-common-protos>=1.71.0",
    "zstandard": "zstandard>=0.25.0",
}
SERVER_CLASS = "org.apache.spark.sql.connect.service.SparkConnectServer"
START_TIMEOUT_S = 240

# Runs in its own process: builds the pipeline on a Connect DataFrame and writes what it got.
CLIENT = r"""
import json, sys
from pyspark.ml import Pipeline
from pyspark.sql import SparkSession
sys.path.insert(0, {repo!r})
from tests.connect.test_connect_pipeline import TEXTS, build_stages, to_json
from sparkbert.light import LightPipeline

spark = SparkSession.builder.remote({url!r}).getOrCreate()
assert spark.__class__.__module__.startswith("pyspark.sql.connect"), spark.__class__
df = spark.createDataFrame(list(enumerate(TEXTS)), "id int, text string").repartition(2)
out = {{}}
for explode in (False, True):
    model = Pipeline(stages=build_stages({model_dir!r}, explode)).fit(df)
    result = model.transform(df)
    rows = [r.asDict(recursive=False) for r in result.collect()]
    out[str(explode)] = {{
        "metadata": {{f.name: f.metadata for f in result.schema.fields}},
        "types": {{f.name: f.dataType.simpleString() for f in result.schema.fields}},
        "rows": [to_json(r) for r in rows],
    }}
    if not explode:  # a pipeline fitted on Connect also runs in-process
        light = LightPipeline(model).fullAnnotate(TEXTS)
        out["light"] = [[ann.result for ann in r["token"]] for r in light]
json.dump(out, open({out!r}, "w"))
spark.stop()
"""


def build_stages(model_dir: str, explode: bool) -> list[Any]:
    """DocumentAssembler → SentenceDetector → Tokenizer → BertEmbeddings → SentenceEmbeddings → finishers."""
    return [
        DocumentAssembler().setInputCol("text").setOutputCol("document"),
        SentenceDetector(explodeSentences=explode).setInputCols("document").setOutputCol("sentence"),
        Tokenizer().setInputCols("sentence").setOutputCol("token"),
        BertEmbeddings(modelPath=model_dir).setInputCols("sentence", "token").setOutputCol("embeddings"),
        SentenceEmbeddings().setInputCols("sentence", "embeddings").setOutputCol("sentence_embeddings"),
        EmbeddingsFinisher().setInputCols("embeddings").setOutputCols("vectors"),
        EmbeddingsFinisher(outputAsVector=True).setInputCols("sentence_embeddings").setOutputCols("sv"),
    ]


def to_json(row: dict[str, Any]) -> dict[str, Any]:
    """A collected row as JSON: annotations as dicts, vectors as float lists."""

    def value(v: Any) -> Any:
        if hasattr(v, "toArray"):
            return v.toArray().tolist()
        if hasattr(v, "asDict"):
            return {k: value(x) for k, x in v.asDict().items()}
        if isinstance(v, dict):
            return {k: value(x) for k, x in v.items()}
        if isinstance(v, list):
            return [value(x) for x in v]
        return v

    return {k: value(v) for k, v in row.items()}


def _missing_prerequisite() -> str | None:
    home = Path(pyspark.__file__).resolve().parent
    if not list((home / "jars").glob("spark-connect_*.jar")):
        return f"pyspark {pyspark.__version__} ships no spark-connect jar in {home / 'jars'}"
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        return "no Java runtime (java on PATH or JAVA_HOME) to run the Spark Connect server"
    missing = [req for module, req in CONNECT_CLIENT_DEPS.items() if not _importable(module)]
    if missing:
        return "Spark Connect client dependencies missing: pip install " + " ".join(repr(m) for m in missing)
    return None


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # a parent package is missing
        return False


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="module")
def connect_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Start a local Spark Connect server (pyspark's own spark-submit), yield its URL, stop it by PID."""
    reason = _missing_prerequisite()
    if reason:
        pytest.skip(reason)
    home = Path(pyspark.__file__).resolve().parent
    workdir = tmp_path_factory.mktemp("connect-server")
    log = workdir / "server.log"
    port = _free_port()
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable, "SPARK_HOME": str(home)}
    for var in ("SPARK_REMOTE", "SPARK_CONNECT_MODE_ENABLED", "PYSPARK_SUBMIT_ARGS"):
        env.pop(var, None)
    command = [
        str(home / "bin" / "spark-submit"),
        "--class",
        SERVER_CLASS,
        "--master",
        "local[2]",
        "--conf",
        f"spark.connect.grpc.binding.port={port}",
        "--conf",
        "spark.ui.enabled=false",
        "--conf",
        "spark.sql.shuffle.partitions=4",
        "--conf",
        "spark.python.worker.faulthandler.enabled=true",
    ]
    with open(log, "wb") as out:
        server = subprocess.Popen(command, cwd=workdir, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not _port_open(port):
            if server.poll() is not None:
                pytest.fail(
                    f"Spark Connect server exited with {server.returncode}:\n{log.read_text()[-4000:]}"
                )
            if time.monotonic() > deadline:
                pytest.fail(
                    f"Spark Connect server not listening after {START_TIMEOUT_S}s:\n{log.read_text()[-4000:]}"
                )
            time.sleep(1)
        yield f"sc://localhost:{port}"
    finally:
        server.terminate()  # spark-submit execs the JVM: this PID is the server itself
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=30)


def _classic(spark: SparkSession, model_dir: Path, explode: bool) -> tuple[Any, list[dict[str, Any]]]:
    df = spark.createDataFrame(list(enumerate(TEXTS)), "id int, text string").repartition(2)
    result = Pipeline(stages=build_stages(str(model_dir), explode)).fit(df).transform(df)
    return result.schema, [to_json(r.asDict(recursive=False)) for r in result.collect()]


def _key(row: dict[str, Any]) -> tuple[int, int]:
    return (row["id"], row["sentence"][0]["begin"] if row["sentence"] else -1)


def _assert_rows_match(connect: list[dict[str, Any]], classic: list[dict[str, Any]]) -> None:
    assert len(connect) == len(classic)
    for got, want in zip(sorted(connect, key=_key), sorted(classic, key=_key)):
        assert got.keys() == want.keys()
        for col, value in want.items():
            where = f"row {want['id']}, column {col}"
            if col in ("vectors", "sv"):
                assert len(got[col]) == len(value), where
                for g, w in zip(got[col], value):
                    np.testing.assert_allclose(g, w, atol=1e-5, rtol=0, err_msg=where)
            elif isinstance(value, list):
                assert len(got[col]) == len(value), where
                for g, w in zip(got[col], value):
                    assert {k: v for k, v in g.items() if k != "embeddings"} == {
                        k: v for k, v in w.items() if k != "embeddings"
                    }, where
                    np.testing.assert_allclose(
                        g["embeddings"], w["embeddings"], atol=1e-5, rtol=0, err_msg=where
                    )
            else:
                assert got[col] == value, where


@pytest.mark.parametrize("explode", [False, True], ids=["rows", "explodeSentences"])
def test_transform_on_spark_connect_matches_classic(
    connect_results: dict[str, Any], spark: SparkSession, tiny_model_dir: Path, explode: bool
) -> None:
    schema, classic = _classic(spark, tiny_model_dir, explode)
    got = connect_results[str(explode)]
    assert got["types"] == {f.name: f.dataType.simpleString() for f in schema.fields}
    assert got["types"]["sv"] == "array<vector>"
    # Spark NLP's column metadata survives Connect (annotator type, dimension of the embeddings),
    # the exploded sentence column included
    expected = {f.name: f.metadata for f in schema.fields}
    assert expected["sentence"] == {"annotatorType": "document"}
    assert got["metadata"] == expected
    assert got["metadata"]["embeddings"]["annotatorType"] == "word_embeddings"
    assert got["metadata"]["embeddings"]["dimension"] == 32
    _assert_rows_match(got["rows"], classic)
    if not explode:
        assert connect_results["light"] == [
            [t["result"] for t in r["token"]] for r in sorted(classic, key=_key)
        ]


def test_exploded_sentence_column_keeps_its_metadata_on_connect(connect_results: dict[str, Any]) -> None:
    assert connect_results["True"]["metadata"]["sentence"] == {"annotatorType": "document"}


@pytest.fixture(scope="module")
def connect_results(
    connect_url: str, tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    """Run the pipeline once on the Connect server (in a client subprocess) and load what it collected."""
    out = tmp_path_factory.mktemp("connect-client") / "out.json"
    script = CLIENT.format(repo=str(REPO), url=connect_url, model_dir=str(tiny_model_dir), out=str(out))
    env = {k: v for k, v in os.environ.items() if k not in ("SPARK_REMOTE", "SPARK_CONNECT_MODE_ENABLED")}
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, env=env, timeout=600, capture_output=True, text=True
    )
    assert done.returncode == 0, f"Connect client failed:\n{done.stderr[-6000:]}"
    result: dict[str, Any] = json.loads(out.read_text())
    return result
