"""A class-data-sharing (CDS) archive of Spark's classes for the test JVMs, built once per machine.

Each JVM the suite starts (the session of every xdist worker, every ``python -m sparkbert`` run,
every standalone master, worker and executor, the Spark Connect server, fresh-process tests)
loads and verifies ~19,000 classes from Spark's jars before it runs anything: about 13 of the
36 CPU-seconds a session with two tiny jobs costs, measured on a 2-vCPU machine. Java 17 can
dump the classes a run loaded into an archive (``-XX:ArchiveClassesAtExit``) that later JVMs on
the same classpath and Java map instead (``-XX:SharedArchiveFile``). The archive changes
nothing but start-up time; a JVM that cannot use it (other classpath, other Java) starts as
without it, silently (``-Xlog:cds=off``). :func:`build_archive` runs once (about a minute: a
small job, slower while its classes are recorded, then ~25 s of dumping as its JVM exits), in
the pytest process that starts the others (``tests/conftest``); the archive's name is a digest
of the Java binary and Spark's jars, so another pyspark (CI's Spark 3.5 stage) gets its own.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pyspark

from sparkbert.cli import CommandError
from sparkbert.cli._job import find_java

#: JVM options for short-lived test JVMs: the C1 compiler only and one GC thread (most of a
#: small job's JVM CPU time goes to the JIT otherwise). The standalone daemons get them (with
#: the archive: :func:`fast_jvm_options`); pass them to drivers and executors too
#: (``--driver-java-options``, ``spark.executor.extraJavaOptions``).
FAST_JVM_OPTIONS = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"
#: Set by :func:`build_archive` for this process and its children: the archive, once it exists.
ARCHIVE_ENV = "SPARKBERT_TEST_JVM_ARCHIVE"
#: The JVM's CDS messages (for example "unable to use shared archive") go to stdout by default.
_QUIET = "-Xlog:cds=off -Xlog:cds+dynamic=off"

#: A small job that touches what the tests use: a session, Arrow both ways, a Python UDF,
#: the text, JSON, CSV and Parquet readers and the Parquet writer. The JVM dumps the archive
#: when it exits, after Python would: the script closes the gateway and waits for it.
_WORKLOAD = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    import pandas as pd
    from pyspark.sql import SparkSession, functions as F

    work = Path(sys.argv[1])
    (work / "in.txt").write_text("a b\\nc\\n")
    (work / "in.jsonl").write_text('{"text": "a"}\\n{"text": 1}\\n')
    (work / "in.csv").write_text('text\\n"a\\nb"\\n')
    spark = SparkSession.builder.master("local[1]").config("spark.ui.enabled", "false").getOrCreate()
    frame = spark.createDataFrame(pd.DataFrame({"text": ["x y", "z"]}))
    frame = frame.mapInArrow(lambda batches: batches, frame.schema)
    frame = frame.withColumn("n", F.pandas_udf(lambda s: s.str.len(), "long")("text"))
    frame.write.parquet(str(work / "out"))
    spark.read.parquet(str(work / "out")).toPandas()
    spark.read.text(str(work / "in.txt")).collect()
    spark.read.json(str(work / "in.jsonl")).collect()
    spark.read.option("multiLine", True).option("header", True).csv(str(work / "in.csv")).collect()
    jvm = spark.sparkContext._gateway.proc  # the JVM writes the archive as it exits: wait for it
    spark.stop()
    jvm.stdin.close()
    jvm.wait(timeout=300)
    """
)


def archive_path() -> Path | None:
    """Where the archive for this Java and this pyspark's jars lives (``None`` without Java)."""
    try:
        java = Path(find_java()).resolve()  # the java Spark starts: JAVA_HOME first, then PATH
    except CommandError:
        return None
    digest = hashlib.sha256()
    jars = Path(pyspark.__file__).resolve().parent / "jars"
    for item in [java, *sorted(jars.glob("*.jar"))]:
        stat = item.stat()
        digest.update(f"{item}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return Path(tempfile.gettempdir()) / "sparkbert-tests-jvm" / f"{digest.hexdigest()[:20]}.jsa"


def share_options() -> str:
    """JVM options that map the archive named in the environment, or ``""`` if there is none."""
    path = os.environ.get(ARCHIVE_ENV, "")
    return f"-XX:SharedArchiveFile={path} {_QUIET}" if path and Path(path).is_file() else ""


def fast_jvm_options() -> str:
    """:data:`FAST_JVM_OPTIONS` and the archive's (``SPARK_SUBMIT_OPTS`` reaches drivers only)."""
    return f"{FAST_JVM_OPTIONS} {share_options()}".strip()


def build_archive() -> str:
    """Build the archive if it is missing, export it to this process's children; say what happened."""
    path = archive_path()
    if path is None:
        return "no Java found: test JVMs start without a class archive"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        with tempfile.TemporaryDirectory(dir=path.parent) as work:
            partial = Path(work) / "classes.jsa"
            env = {
                **os.environ,
                "PYSPARK_PYTHON": sys.executable,
                "SPARK_SUBMIT_OPTS": f"-XX:ArchiveClassesAtExit={partial} {FAST_JVM_OPTIONS} {_QUIET}",
            }
            try:
                done = subprocess.run(
                    [sys.executable, "-c", _WORKLOAD, work],
                    env=env,
                    capture_output=True,
                    text=True,
                    timeout=600,
                    check=False,
                )
            except (OSError, subprocess.TimeoutExpired) as error:
                return f"the class archive was not built ({error}): test JVMs start without it"
            if done.returncode != 0 or not partial.is_file():
                tail = (done.stderr or done.stdout).strip().splitlines()[-1:]
                return f"the class archive was not built ({tail}): test JVMs start without it"
            os.replace(partial, path)  # atomic: a concurrent run sees all of it or nothing
        how = f"built in {time.monotonic() - started:.0f} s"
    else:
        how = "reused"
    os.environ[ARCHIVE_ENV] = str(path)
    os.environ["SPARK_SUBMIT_OPTS"] = f"{os.environ.get('SPARK_SUBMIT_OPTS', '')} {share_options()}".strip()
    return f"test JVMs share Spark's classes from {path} ({how})"
