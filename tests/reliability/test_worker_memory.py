"""A Python worker's memory stays flat over a long BertEmbeddings job.

A background thread on the driver samples, every 50 ms, the resident set size (RSS) and CPU
time of each Python worker the test's Spark JVM forked (children of ``pyspark.daemon`` among
the JVM's descendants) while BertEmbeddings embeds two partitions of 60 Arrow batches each
(``spark.sql.execution.arrow.maxRecordsPerBatch`` = 16 rows): each busy worker runs one task
of 60 embedder calls, several ONNX Runtime runs each. The input is cached first, so the
measured job runs no Python but BertEmbeddings: the workers that use CPU are its workers.

Every batch holds the same 16 texts (UD sentences in 12 languages and two ~200 and ~330 piece
sentences that need overlapping 128-piece windows), so ONNX Runtime's arena sees its largest
shapes in the first batch. A worker's busy time is split in thirds: the first is warm-up
(imports, model load, arena growth: 3 to 13 s of 10 to 34 s busy, with the 2-core machine idle
or loaded), and the peak RSS of the last third must not exceed the peak of the middle third
by more than ``TOLERANCE``. The numbers are printed (``-s``).
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psutil
import pytest
import regex
from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import LongType, StringType, StructField, StructType
from tests.helpers.checkpoints import make_numpy_checkpoint, ud_sentences

from sparkbert import BertEmbeddings
from sparkbert.annotation import ANNOTATOR_TYPE_KEY, DOCUMENT, TOKEN, annotation_array_type
from sparkbert.text import detect_sentences, tokenize
from sparkbert.text.document import assemble_document

pytestmark = [pytest.mark.spark, pytest.mark.slow]

PARTITIONS = 2  # one long task per core of the local[2] session
BATCHES_PER_PARTITION = 60  # Arrow batches, hence embedder calls, per task
ROWS_PER_BATCH = 16
HIDDEN = 128  # big enough that ONNX Runtime's activations show in RSS
MIB = 1 << 20
#: Allowed growth of a worker's peak RSS from the middle third of its task to the last third.
#: A plateau is not a constant: ONNX Runtime's arena extends in power-of-two chunks (the
#: largest activation here, 8 sequences x 4 heads x 128 x 128 attention scores in fp32, is
#: 2 MiB, so one extension is at most a few MiB), and glibc malloc, pymalloc and pyarrow's
#: allocator keep or return a few MiB of freed memory as they see fit. Measured on this job
#: (worker plateau 270 to 305 MiB): growth +0.0 to +2.1 MiB over six runs. Keeping each
#: batch's output alive (about 1 MiB per batch: 16 rows x ~35 tokens x 128 floats plus their
#: Python annotations), injected into the workers for a check run, gave +32 to +43 MiB.
TOLERANCE = 12 * MIB


@pytest.fixture(scope="module")
def mid_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer, 128-wide random-weight BERT with the real mBERT tokenizer, converted."""
    from sparkbert.model.convert import convert_checkpoint

    root = tmp_path_factory.mktemp("mid-model")
    checkpoint = make_numpy_checkpoint(
        root / "ckpt", seed=7, hidden_size=HIDDEN, num_attention_heads=4, intermediate_size=4 * HIDDEN
    )
    return Path(convert_checkpoint(checkpoint, root / "fp32").path)


def _batch_texts() -> list[str]:
    """One batch's texts: UD sentences in 12 languages and two that need several windows."""
    texts = ud_sentences(2)[: ROWS_PER_BATCH - 2]
    long = regex.sub(r"\p{Sentence_Terminal}", " ", " ".join(texts[::3]))  # one sentence, ~330 pieces
    return [*texts, long, long[::-1]]


def _annotated_rows() -> list[tuple[int, str, list[Any], list[Any]]]:
    """(id, text, sentence rows, token rows), built by the text stages' pure functions."""
    rows = []
    batch = _batch_texts()
    for i in range(PARTITIONS * BATCHES_PER_PARTITION * ROWS_PER_BATCH):
        text = batch[i % len(batch)]
        sentences = [s for d in assemble_document(text) for s in detect_sentences(d)]
        tokens = tokenize(sentences)
        rows.append((i, text, [a.to_row() for a in sentences], [a.to_row() for a in tokens]))
    return rows


def _python_workers(jvm: psutil.Process) -> list[psutil.Process]:
    """The forked Python workers: ``pyspark.daemon`` processes whose parent is the daemon."""
    found = []
    for proc in jvm.children(recursive=True):
        try:
            if "pyspark.daemon" in " ".join(proc.cmdline()) and "pyspark.daemon" in " ".join(
                proc.parent().cmdline()  # type: ignore[union-attr]
            ):
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied, AttributeError):
            continue
    return found


@contextmanager
def sample_workers(spark: SparkSession, interval: float = 0.05) -> Iterator[dict[int, list[Any]]]:
    """Sample (time, rss, cpu seconds) of every Python worker of ``spark`` until the block ends."""
    jvm = psutil.Process(spark.sparkContext._gateway.proc.pid)  # type: ignore[union-attr]
    samples: dict[int, list[Any]] = defaultdict(list)
    stop = threading.Event()

    def run() -> None:
        while not stop.is_set():
            for proc in _python_workers(jvm):
                try:
                    with proc.oneshot():
                        cpu = proc.cpu_times()
                        samples[proc.pid].append(
                            (time.monotonic(), proc.memory_info().rss, cpu.user + cpu.system)
                        )
                except psutil.NoSuchProcess:
                    continue
            stop.wait(interval)

    thread = threading.Thread(target=run, name="worker-rss-sampler", daemon=True)
    thread.start()
    try:
        yield samples
    finally:
        stop.set()
        thread.join(timeout=10)


def _busy_span(series: list[Any]) -> list[Any]:
    """The samples from a worker's first to its last CPU-using interval (its task)."""
    busy = [i for i in range(1, len(series)) if series[i][2] - series[i - 1][2] > 0.01]
    return series[busy[0] - 1 : busy[-1] + 1] if busy else []


def test_worker_rss_is_flat_after_warm_up(spark: SparkSession, mid_model_dir: Path) -> None:
    schema = StructType(
        [
            StructField("id", LongType()),
            StructField("text", StringType()),
            StructField("sentence", annotation_array_type(), metadata={ANNOTATOR_TYPE_KEY: DOCUMENT}),
            StructField("token", annotation_array_type(), metadata={ANNOTATOR_TYPE_KEY: TOKEN}),
        ]
    )
    rows = _annotated_rows()
    df = spark.createDataFrame(spark.sparkContext.parallelize(rows, PARTITIONS), schema).cache()
    assert df.count() == len(rows)  # cached: the measured job runs no Python but BertEmbeddings
    embeddings = BertEmbeddings(modelPath=str(mid_model_dir), batchSize=8, maxSentenceLength=128)
    out = embeddings.transform(df).select(
        F.size("token").alias("tokens"),
        F.size("embeddings").alias("embedded"),
        F.size(F.filter("embeddings", lambda e: F.size(e["embeddings"]) == HIDDEN)).alias("full"),
    )
    key = "spark.sql.execution.arrow.maxRecordsPerBatch"
    previous = spark.conf.get(key)
    spark.conf.set(key, str(ROWS_PER_BATCH))
    try:
        with sample_workers(spark) as samples:
            totals = out.agg(F.count("*"), F.sum("tokens"), F.sum("embedded"), F.sum("full")).first()
    finally:
        if previous is None:
            spark.conf.unset(key)
        else:
            spark.conf.set(key, previous)
        df.unpersist()
    assert totals is not None
    n_rows, n_tokens, n_embedded, n_full = totals
    assert n_rows == len(rows) and n_tokens == n_embedded == n_full > 0

    busy = {pid: span for pid, series in samples.items() if len(span := _busy_span(series)) >= 30}
    assert busy, f"no busy Python worker was sampled: { {p: len(s) for p, s in samples.items()} }"
    report, growth = [], {}
    for pid, span in sorted(busy.items()):
        start, end = span[0][0], span[-1][0]
        third = (end - start) / 3
        warm, middle, last = (
            max(rss for t, rss, _ in span if start + k * third <= t <= start + (k + 1) * third)
            for k in range(3)
        )
        growth[pid] = last - middle
        report.append(
            f"worker {pid}: busy {end - start:.1f} s, {len(span)} samples; RSS MiB: start {span[0][1] / MIB:.1f}, "
            f"peak in warm-up {warm / MIB:.1f}, middle {middle / MIB:.1f}, last third {last / MIB:.1f}, "
            f"end {span[-1][1] / MIB:.1f}; growth middle -> last {growth[pid] / MIB:+.1f}"
        )
    print("\n" + "\n".join(report))
    assert max(growth.values()) <= TOLERANCE, "\n".join(report)
