"""examples/embed_job.py through spark-submit on a real standalone cluster (a master, two workers).

One cluster serves the whole module. The job gets the model as a path relative to the
driver's working directory, which no executor can see: executors must load the copy that
BertEmbeddings ships with the job (``sparkbert.stages.distribute``). Each run's output is
compared row for row with a clean run:

* the clean cluster run against a ``local[1]`` run of the same job (≤ 1e-5),
* a run in which one Python worker is SIGKILLed mid-task (Spark retries the task),
* a run in which one executor JVM is SIGKILLed mid-job (the worker starts a new executor).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from tests.conftest import REPO, UD_LANGS, load_ud
from tests.helpers.cluster import (
    SPARK_SUBMIT,
    StandaloneCluster,
    cluster_env,
    kill_once,
    standalone_cluster,
)
from tests.helpers.jvm import FAST_JVM_OPTIONS, fast_jvm_options

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

JOB = REPO / "examples" / "embed_job.py"
ROWS_PER_LANG = 17  # x 12 languages = 204 rows
PARTITIONS = 8


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StandaloneCluster]:
    with standalone_cluster(tmp_path_factory.mktemp("cluster")) as running:
        yield running


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> Path:
    """The driver's working directory: ``input.parquet`` (UD sentences, in two year folders,
    which Spark alone would not read) and a private ``model`` copy."""
    folder = tmp_path_factory.mktemp("job")
    rows = [
        (f"{lang}-{i:03d}", str(r["text"]))
        for lang in UD_LANGS
        for i, r in enumerate(load_ud(lang)[:ROWS_PER_LANG])
    ]
    ids, texts = zip(*rows)
    half = len(rows) // 2
    for year, part in (("2025", slice(None, half)), ("2026", slice(half, None))):
        (folder / "input.parquet" / year).mkdir(parents=True)
        table = pa.table({"id": list(ids[part]), "text": list(texts[part])})
        pq.write_table(table, folder / "input.parquet" / year / "part-0.parquet")
    shutil.copytree(tiny_model_dir, folder / "model")
    return folder


def submit(work: Path, master: str, output: str) -> subprocess.CompletedProcess[str]:
    """spark-submit the example job; the driver log (INFO) is kept in ``<output>.log``."""
    command = [
        str(SPARK_SUBMIT), "--master", master, "--conf", "spark.ui.enabled=false",
        "--driver-java-options", FAST_JVM_OPTIONS, "--conf", f"spark.executor.extraJavaOptions={fast_jvm_options()}",
        "--conf", "spark.executor.memory=768m",
        # start once both executors are in, so that both run tasks (and can be killed)
        "--conf", "spark.scheduler.minRegisteredResourcesRatio=1.0",
        "--conf", "spark.scheduler.maxRegisteredResourcesWaitingTime=120s",
        str(JOB), "--input", "input.parquet", "--output", output, "--model", "model",
        "--partitions", str(PARTITIONS), "--batch-size", "8",
    ]  # fmt: skip
    result = subprocess.run(
        command, cwd=work, env=cluster_env(), capture_output=True, text=True, timeout=600, check=False
    )
    (work / f"{output}.log").write_text(result.stderr)
    assert result.returncode == 0, result.stderr[-5000:]
    return result


def load(path: Path) -> pd.DataFrame:
    return pd.read_parquet(path).sort_values("id").reset_index(drop=True)


def assert_same_rows(actual: pd.DataFrame, expected: pd.DataFrame, atol: float = 1e-5) -> None:
    assert actual.id.tolist() == expected.id.tolist()
    worst = 0.0
    for got, want in zip(actual.itertuples(), expected.itertuples()):
        assert list(got.tokens) == list(want.tokens), got.id
        assert list(got.begins) == list(want.begins) and list(got.ends) == list(want.ends), got.id
        a = np.array([np.asarray(v, dtype=np.float32) for v in got.vectors])
        b = np.array([np.asarray(v, dtype=np.float32) for v in want.vectors])
        assert a.shape == b.shape, got.id
        if a.size:
            worst = max(worst, float(np.abs(a - b).max()))
    assert worst <= atol, worst


def first_output_written(output: Path) -> bool:
    """True once a task has started writing its part of the output (a job is under way)."""
    try:
        return any((output / "_temporary").rglob("part-*"))
    except OSError:  # the folder moves while Spark commits
        return False


@pytest.fixture(scope="module")
def clean(cluster: StandaloneCluster, work: Path) -> pd.DataFrame:
    submit(work, cluster.master_url, "clean")
    return load(work / "clean")


def test_cluster_output_equals_local_output(
    cluster: StandaloneCluster, work: Path, clean: pd.DataFrame
) -> None:
    submit(work, "local[1]", "local")
    local = load(work / "local")
    assert len(clean) == ROWS_PER_LANG * len(UD_LANGS)
    assert all(len(v) == len(t) for v, t in zip(clean.vectors, clean.tokens))
    assert_same_rows(clean, local)
    # executors loaded the shipped copy: "model" is relative to the driver's folder only
    shipped = list(cluster.work_dir.glob("worker-*/app-*/*/sparkbert-model-*.zip/manifest.json"))
    assert shipped, "no executor unpacked the shipped model"
    assert not any(cluster.work_dir.glob("worker-*/app-*/*/model"))


def test_python_worker_killed_mid_task_is_retried(
    cluster: StandaloneCluster, work: Path, clean: pd.DataFrame
) -> None:
    with kill_once(cluster.busy_python_workers, lambda: first_output_written(work / "py-kill")) as killed:
        result = submit(work, cluster.master_url, "py-kill")
    assert killed and "pyspark.daemon" in killed[0][1], killed
    assert re.search(r"Lost task .*Python worker exited unexpectedly", result.stderr), "no task was lost"
    assert_same_rows(load(work / "py-kill"), clean)


def test_executor_lost_mid_job_is_replaced(
    cluster: StandaloneCluster, work: Path, clean: pd.DataFrame
) -> None:
    with kill_once(cluster.executor_pids, lambda: first_output_written(work / "executor-kill")) as killed:
        result = submit(work, cluster.master_url, "executor-kill")
    assert killed and "CoarseGrainedExecutorBackend" in killed[0][1], killed
    assert "Lost executor" in result.stderr
    granted = re.findall(r"Granted executor ID (\S+) ", result.stderr)
    assert len(granted) >= 3, f"no replacement executor was granted: {granted}"
    assert_same_rows(load(work / "executor-kill"), clean)
    assert cluster.alive_workers() == 2
