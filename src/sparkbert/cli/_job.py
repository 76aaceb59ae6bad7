"""What ``sparkbert embed`` and ``sparkbert demo`` share: Java, the Spark session, the pipeline.

Examples
--------
>>> [type(s).__name__ for s in build_pipeline("/models/m").getStages()]
['DocumentAssembler', 'SentenceDetector', 'Tokenizer', 'BertEmbeddings']
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from importlib import resources
from typing import TYPE_CHECKING, Any

from sparkbert.cli._errors import CommandError, UsageError

if TYPE_CHECKING:
    from pyspark.ml import Pipeline
    from pyspark.sql import Column, DataFrame, SparkSession

    from sparkbert.model.directory import ModelDirectory

#: Oldest Java that Spark 4 runs on.
MIN_JAVA = 17


def find_java(env: Mapping[str, str] | None = None) -> str:
    """Return the ``java`` Spark will start (``JAVA_HOME`` first, then ``PATH``) after checking it.

    Raises
    ------
    CommandError
        No java there, or one older than Java 17.

    Examples
    --------
    >>> find_java({"JAVA_HOME": "/nonexistent"})
    Traceback (most recent call last):
    ...
    sparkbert.cli.CommandError: JAVA_HOME is /nonexistent, which has no bin/java. Point it ...
    """
    env = os.environ if env is None else env
    home = env.get("JAVA_HOME")
    if home:
        java = os.path.join(home, "bin", "java")
        if not (os.path.isfile(java) and os.access(java, os.X_OK)):
            raise CommandError(
                f"JAVA_HOME is {home}, which has no bin/java. Point it at a Java {MIN_JAVA}+ "
                "installation, or unset it to use the java on PATH."
            )
    else:
        found = shutil.which("java", path=env.get("PATH", ""))
        if found is None:
            raise CommandError(
                f"Spark needs Java {MIN_JAVA} or newer, and there is no java on PATH and no JAVA_HOME. "
                "Install one (e.g. apt-get install openjdk-17-jre-headless) and set JAVA_HOME or PATH."
            )
        java = found
    try:
        probe = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.SubprocessError) as e:
        raise CommandError(f"Cannot run {java}: {e}") from None
    match = re.search(r'version "(\d+)(?:\.(\d+))?', probe.stderr + probe.stdout)
    if match:
        major = int(match.group(2) or 0) if match.group(1) == "1" else int(match.group(1))
        if major < MIN_JAVA:
            raise CommandError(f"{java} is Java {major}; Spark needs Java {MIN_JAVA} or newer.")
    return java


def parse_conf(conf: Sequence[str]) -> dict[str, str]:
    """Check ``--conf KEY=VALUE`` items and return them as a dict (the last of a key wins).

    Called before anything slow (Java, the model, Spark), so a typo fails at once.

    Examples
    --------
    >>> parse_conf(["spark.executor.memory=4g", "spark.sql.shuffle.partitions = 64"])
    {'spark.executor.memory': '4g', 'spark.sql.shuffle.partitions': ' 64'}
    >>> parse_conf(["no-value"])
    Traceback (most recent call last):
    ...
    sparkbert.cli.UsageError: --conf takes KEY=VALUE, got 'no-value'
    """
    settings = {}
    for item in conf:
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or any(c.isspace() for c in key.strip()):
            raise UsageError(f"--conf takes KEY=VALUE, got {item!r}")
        settings[key.strip()] = value
    return settings


def start_spark(
    master: str,
    app: str,
    conf: Mapping[str, str],
    *,
    verbose: bool,
    quiet: bool,
) -> SparkSession:
    """Start (or join) a Spark session with the command's logging and progress settings.

    ``conf`` holds the ``--conf`` settings (see ``parse_conf``); the user's
    ``spark.driver.extraJavaOptions`` come after the command's own, so they win. Spark's
    console progress bar shows only when stderr is a terminal.

    Examples
    --------
    >>> spark = start_spark("local[1]", "example", {"spark.example.answer": "42"}, verbose=True, quiet=True)
    >>> spark.conf.get("spark.example.answer")
    '42'
    """
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    log4j = resources.files("sparkbert") / "data" / "log4j2-cli.properties"
    level = "warn" if verbose else "off"
    java_options = f"-Dlog4j2.configurationFile=file:{log4j} -Dsparkbert.logLevel={level}"
    settings = {
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": str(not quiet and sys.stderr.isatty()).lower(),
        **conf,
    }
    # the user's own driver options come after ours, so theirs win
    given_options = settings.get("spark.driver.extraJavaOptions", "")
    settings["spark.driver.extraJavaOptions"] = f"{java_options} {given_options}".strip()
    builder = SparkSession.builder.master(master).appName(app)
    for key, value in settings.items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


def check_runtime() -> None:
    """Refuse a Python with no ONNX Runtime, or with both the CPU and the GPU package.

    Examples
    --------
    >>> check_runtime()  # exactly one is installed here
    """
    from sparkbert._onnxruntime import check_onnxruntime

    try:
        check_onnxruntime()
    except ImportError as err:
        raise CommandError(str(err)) from None


def load_model(name: str, precision: str | None) -> ModelDirectory:
    """Return the model directory for ``--model`` and ``--precision`` (converted once, cached).

    Examples
    --------
    >>> load_model("./no/such/model", "fp32")
    Traceback (most recent call last):
    ...
    sparkbert.errors.ModelNotFoundError: No such folder: no/such/model. Pass a model directory, ...
    """
    from sparkbert.model.resolve import resolve_model

    return resolve_model(name, precision=precision)


def model_summary(directory: ModelDirectory) -> str:
    """Return the short description of a model that the status line shows.

    Examples
    --------
    >>> from pathlib import Path
    >>> from sparkbert.model.directory import ModelDirectory
    >>> manifest = {"precision": "int8", "hidden_size": 768, "num_hidden_layers": 12, "cased": True}
    >>> model_summary(ModelDirectory(Path("mbert-int8"), manifest, identity=""))
    'int8, 768-d, 12 layers, cased'
    """
    return (
        f"{directory.precision}, {directory.hidden_size}-d, {directory.num_hidden_layers} layers, "
        f"{'cased' if directory.cased else 'uncased'}"
    )


def build_pipeline(model_path: str, **settings: Any) -> Pipeline:
    """Return the standard pipeline (``sparkbert.stages.standard.standard_stages``) as a ``Pipeline``.

    Examples
    --------
    >>> [type(s).__name__ for s in build_pipeline("/models/m", sentence_embeddings=True).getStages()]
    ['DocumentAssembler', 'SentenceDetector', 'Tokenizer', 'BertEmbeddings', 'SentenceEmbeddings']
    """
    from pyspark.ml import Pipeline

    from sparkbert.stages.standard import standard_stages

    return Pipeline(stages=standard_stages(model_path, **settings))


def _each(column: str, field: str, element: str) -> Column:
    """``[a.field for a in column]``, an empty array (never null) when the column is null."""
    from pyspark.sql import functions as F

    values = F.transform(column, lambda a: a[field])
    return F.coalesce(values, F.array().cast(f"array<{element}>"))


def flatten(annotated: DataFrame, *, sentence_embeddings: bool) -> DataFrame:
    """Turn the pipeline's annotation columns into plain arrays: one entry per token / sentence.

    Reads ``id``, ``text``, ``sentence`` and ``embeddings`` (and ``sentence_embeddings``);
    writes the columns that ``sparkbert embed`` outputs.

    Examples
    --------
    Token annotations have every field read here, so they stand in for embeddings (no vectors):

    >>> from pyspark.ml import PipelineModel
    >>> from pyspark.sql import SparkSession
    >>> from sparkbert import DocumentAssembler, SentenceDetector, Tokenizer
    >>> spark = SparkSession.builder.master("local[1]").getOrCreate()
    >>> annotate = PipelineModel(stages=[DocumentAssembler(inputCol="text", outputCol="document"),
    ...     SentenceDetector(inputCols=["document"], outputCol="sentence"),
    ...     Tokenizer(inputCols=["sentence"], outputCol="embeddings")])
    >>> df = spark.createDataFrame([(0, "Hi there. Bye!")], "id long, text string")
    >>> row = flatten(annotate.transform(df), sentence_embeddings=False).first()
    >>> row.sentences, row.tokens, row.begins, row.sentence_ids
    (['Hi there.', 'Bye!'], ['Hi', 'there', '.', 'Bye', '!'], [0, 3, 8, 10, 13], [0, 0, 0, 1, 1])
    """
    from pyspark.sql import functions as F

    columns = [
        F.col("id"),
        F.col("text"),
        _each("sentence", "result", "string").alias("sentences"),
        _each("embeddings", "result", "string").alias("tokens"),
        _each("embeddings", "begin", "int").alias("begins"),
        _each("embeddings", "end", "int").alias("ends"),
        F.coalesce(
            F.transform("embeddings", lambda a: a["metadata"]["sentence"].cast("int")),
            F.array().cast("array<int>"),
        ).alias("sentence_ids"),
        _each("embeddings", "embeddings", "array<float>").alias("vectors"),
    ]
    if sentence_embeddings:
        columns.append(_each("sentence_embeddings", "embeddings", "array<float>").alias("sentence_vectors"))
    return annotated.select(*columns)
