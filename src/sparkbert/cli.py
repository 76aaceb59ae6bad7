"""The ``sparkbert`` command (also ``python -m sparkbert``).

=========================================  ==================================================
command                                    what it does
=========================================  ==================================================
``sparkbert embed --input P --output P``   embed a ``.txt`` / ``.jsonl`` / ``.csv`` /
                                           ``.parquet`` file or folder on Spark, write Parquet
                                           or JSON Lines with one vector per token
``sparkbert demo [--model M]``             embed bundled parallel sentences in 8 languages,
                                           print each one's nearest neighbour in another
``sparkbert convert CHECKPOINT OUT``       convert a Hugging Face checkpoint to a model directory
``sparkbert info MODEL``                   what a model directory holds
=========================================  ==================================================

Everything a user can get wrong (a missing input, an unknown model, an output that cannot
be written, no Java, a bad option) is checked before Spark starts and ends with one line on
stderr, ``sparkbert: error: ...``, and exit status 2 (a bad option or value) or 1; nothing
prints a stack trace unless ``--verbose`` asks for it. Spark's own logging is silenced (see
``data/log4j2-cli.properties``); progress shows as Spark's console progress bar when stderr
is a terminal. Rows whose text is null, empty or unreadable give empty arrays and are
counted as "empty rows" in the summary; they never fail the job.

Examples
--------
>>> main(["embed", "--input", "texts.txt"])  # the error line goes to stderr
2
>>> format_of_name("part-00000.jsonl.gz"), format_of_name("notes.TXT"), format_of_name("_SUCCESS")
('jsonl', 'txt', None)
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
import warnings
from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from sparkbert import __version__
from sparkbert.errors import InvalidParamError, SparkBertError
from sparkbert.settings import DEFAULT_BATCH_SIZE, DEFAULT_MAX_SENTENCE_LENGTH, DEFAULT_MODEL

if TYPE_CHECKING:
    from pyspark.ml import Pipeline
    from pyspark.sql import Column, DataFrame, SparkSession

    from sparkbert.model.directory import ModelDirectory

PROG = "sparkbert"
INPUT_FORMATS = ("txt", "jsonl", "csv", "parquet")
OUTPUT_FORMATS = ("parquet", "jsonl")
POOLINGS = ("first", "mean", "last")
#: Oldest Java that Spark 4 runs on.
MIN_JAVA = 17
_SUFFIXES = {
    ".txt": "txt",
    ".text": "txt",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".csv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
}
_PANDAS_NOTICE = "PySpark does not yet fully support pandas"
_COMPRESSED = (".gz", ".bz2", ".zst", ".lz4", ".snappy", ".deflate", ".xz")


class CommandError(SparkBertError):
    """Something the command was asked to do cannot be done (a path, Java); exit status 1."""


class UsageError(CommandError):
    """A bad option or value on the command line; exit status 2."""


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error raises :class:`UsageError` (one line) instead of exiting."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see '{self.prog} --help')")


# ---- checks made before Spark starts ----------------------------------------------------------


def format_of_name(name: str) -> str | None:
    """Return the input format a file name stands for (compression suffixes ignored), or None.

    Examples
    --------
    >>> format_of_name("data.csv.bz2"), format_of_name("part-0.snappy.parquet")
    ('csv', 'parquet')
    """
    lower = name.lower()
    for suffix in _COMPRESSED:
        if lower.endswith(suffix):
            lower = lower[: -len(suffix)]
            break
    return _SUFFIXES.get(os.path.splitext(lower)[1])


def _is_remote(path: str) -> bool:
    return re.match(r"^[A-Za-z][\w+.-]*://", path) is not None and not path.startswith("file:")


def _local(path: str) -> Path:
    return Path(re.sub(r"^file:(//)?", "", path)).expanduser()


def detect_format(path: str, given: str | None = None) -> str:
    """Return the format of an input file or folder, from ``given`` or its file names.

    Raises
    ------
    CommandError
        No such file or folder, a folder without input files, or names that do not tell.

    Examples
    --------
    >>> detect_format("/nonexistent.txt")
    Traceback (most recent call last):
    ...
    sparkbert.cli.CommandError: Input /nonexistent.txt does not exist.
    """
    known = ", ".join(sorted(_SUFFIXES))
    if _is_remote(path):
        found = given or format_of_name(path.rstrip("/"))
        if found is None:
            raise UsageError(f"Cannot tell the format of {path} from its name; pass --input-format.")
        return found
    local = _local(path)
    if not local.exists():
        raise CommandError(f"Input {path} does not exist.")
    if local.is_file():
        found = given or format_of_name(local.name)
        if found is None:
            raise UsageError(f"Cannot tell the format of {path} (known: {known}); pass --input-format.")
        return found
    files = [
        p
        for p in local.rglob("*")
        if p.is_file() and not any(part.startswith((".", "_")) for part in p.relative_to(local).parts)
    ]
    if not files:
        raise CommandError(f"Input folder {path} holds no input files.")
    if given:
        return given
    formats = {f for f in (format_of_name(p.name) for p in files) if f}
    if len(formats) != 1:
        what = "mixes " + ", ".join(sorted(formats)) if formats else f"has no file named {known}"
        raise UsageError(f"Input folder {path} {what}; pass --input-format.")
    return formats.pop()


def check_output(output: str, inputs: str, overwrite: bool) -> None:
    """Refuse an output that exists (without ``overwrite``), holds the input, or cannot be written.

    Examples
    --------
    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> check_output(folder, "/data/in.txt", overwrite=False)
    Traceback (most recent call last):
    ...
    sparkbert.cli.CommandError: Output ... already exists; pass --overwrite to replace it.
    """
    if _is_remote(output):
        return
    out = _local(output).absolute()
    if out.exists() and not overwrite:
        raise CommandError(f"Output {output} already exists; pass --overwrite to replace it.")
    if not _is_remote(inputs):
        source = _local(inputs).absolute()
        if out == source or out in source.parents or source in out.parents:
            raise UsageError(f"Output {output} overlaps the input {inputs}; choose another folder.")
    blocking = next((p for p in out.parents if p.exists()), None)
    if blocking is not None and not blocking.is_dir():
        raise CommandError(f"Cannot write the output {output}: {blocking} is a file, not a folder.")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".sparkbert-write-test-", dir=out.parent)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        reason = e.strerror or type(e).__name__
        raise CommandError(
            f"Cannot write the output {output}: {reason} ({e.filename or out.parent})."
        ) from None


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


# ---- Spark ------------------------------------------------------------------------------------


def start_spark(master: str, app: str, conf: Sequence[str], *, verbose: bool, quiet: bool) -> SparkSession:
    """Start (or join) a Spark session with the command's logging and progress settings."""
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    if not verbose:  # pyspark's notice about pandas 3, from this process and (local mode) its workers
        warnings.filterwarnings("ignore", message=_PANDAS_NOTICE, category=FutureWarning)
        given = os.environ.get("PYTHONWARNINGS")
        os.environ["PYTHONWARNINGS"] = ",".join(
            filter(None, [given, f"ignore:{_PANDAS_NOTICE}:FutureWarning"])
        )
    log4j = resources.files("sparkbert") / "data" / "log4j2-cli.properties"
    level = "warn" if verbose else "off"
    java_options = f"-Dlog4j2.configurationFile=file:{log4j} -Dsparkbert.logLevel={level}"
    settings = {
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": str(not quiet and sys.stderr.isatty()).lower(),
    }
    for item in conf:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--conf takes KEY=VALUE, got {item!r}")
        settings[key.strip()] = value
    # the user's own driver options come after ours, so theirs win
    given_options = settings.get("spark.driver.extraJavaOptions", "")
    settings["spark.driver.extraJavaOptions"] = f"{java_options} {given_options}".strip()
    builder = SparkSession.builder.master(master).appName(app)
    for key, value in settings.items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


def build_pipeline(
    model_path: str,
    *,
    sentence_embeddings: bool = False,
    pooling: str = "first",
    batch_size: int = DEFAULT_BATCH_SIZE,
    max_sentence_length: int = DEFAULT_MAX_SENTENCE_LENGTH,
    storage_ref: str | None = None,
) -> Pipeline:
    """Return DocumentAssembler → SentenceDetector → Tokenizer → BertEmbeddings (→ SentenceEmbeddings).

    Reads column ``text``; writes ``document``, ``sentence``, ``token``, ``embeddings`` (and
    ``sentence_embeddings``).

    Examples
    --------
    >>> [type(s).__name__ for s in build_pipeline("/models/m", sentence_embeddings=True).getStages()]
    ['DocumentAssembler', 'SentenceDetector', 'Tokenizer', 'BertEmbeddings', 'SentenceEmbeddings']
    """
    from pyspark.ml import Pipeline

    from sparkbert import BertEmbeddings, DocumentAssembler, SentenceDetector, SentenceEmbeddings, Tokenizer

    stages: list[Any] = [
        DocumentAssembler(inputCol="text", outputCol="document"),
        SentenceDetector(inputCols=["document"], outputCol="sentence"),
        Tokenizer(inputCols=["sentence"], outputCol="token"),
        BertEmbeddings(
            inputCols=["sentence", "token"],
            outputCol="embeddings",
            modelPath=model_path,
            poolingStrategy=pooling,
            batchSize=batch_size,
            maxSentenceLength=max_sentence_length,
            storageRef=storage_ref,
        ),
    ]
    if sentence_embeddings:
        stages.append(
            SentenceEmbeddings(inputCols=["sentence", "embeddings"], outputCol="sentence_embeddings")
        )
    return Pipeline(stages=stages)


def _each(column: str, field: str, element: str) -> Column:
    """``[a.field for a in column]``, an empty array (never null) when the column is null."""
    from pyspark.sql import functions as F

    values = F.transform(column, lambda a: a[field])
    return F.coalesce(values, F.array().cast(f"array<{element}>"))


def flatten(annotated: DataFrame, *, sentence_embeddings: bool) -> DataFrame:
    """Turn the pipeline's annotation columns into plain arrays: one entry per token / sentence."""
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


def _quoted(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def read_input(
    spark: SparkSession, path: str, fmt: str, text_column: str, id_column: str | None
) -> DataFrame:
    """Read ``path`` as two columns, ``id`` and ``text`` (string).

    A ``.txt`` file gives one row per line, numbered from 0. Other formats take ``id`` from
    ``id_column`` (or a column named ``id``, else a row number). A JSON Lines or CSV record that
    cannot be parsed, or a text that is not valid UTF-8, has a null text, which gives an empty
    result: it does not fail the job.
    """
    from pyspark.sql import functions as F

    if fmt == "txt":
        df = spark.read.text(path).withColumnRenamed("value", "text")
        text_column, id_column = "text", None
    elif fmt == "jsonl":
        df = spark.read.json(path, mode="PERMISSIVE")
    elif fmt == "csv":
        df = spark.read.csv(path, header=True, multiLine=True, escape='"', mode="PERMISSIVE")
    else:
        df = spark.read.parquet(path)
    names = df.columns
    for option, name in (("--text-column", text_column), ("--id-column", id_column)):
        if name is not None and name not in names:
            listed = ", ".join(names) or "none"
            raise CommandError(f"Input {path} has no column {name!r} (columns: {listed}); check {option}.")
    if id_column is None and "id" in names and fmt != "txt":
        id_column = "id"
    # Spark reads bytes that are not UTF-8 as they are; such a text is unreadable: null, empty result
    text = F.try_validate_utf8(F.col(_quoted(text_column)).cast("string")).alias("text")
    if id_column is not None:
        return df.select(F.col(_quoted(id_column)).alias("id"), text)
    return number_rows(df.select(text))


def number_rows(df: DataFrame) -> DataFrame:
    """Prepend ``id``: the row's position in ``df`` (0, 1, 2, ...), computed in the JVM.

    ``monotonically_increasing_id`` is ``partition << 33 | row in partition``; one small
    count per partition turns it into a contiguous number, without a Python pass over the data.
    """
    from pyspark.sql import functions as F

    tagged = df.select(
        F.spark_partition_id().alias("_part"), F.monotonically_increasing_id().alias("_row"), *df.columns
    )
    counts = sorted((int(r[0]), int(r[1])) for r in tagged.groupBy("_part").count().collect())
    pairs: list[Column] = []
    start = 0
    for part, count in counts:
        pairs += [F.lit(part), F.lit(start)]
        start += count
    offset = F.create_map(*pairs)[F.col("_part")] if pairs else F.lit(0)
    index = F.col("_row") - F.shiftleft(F.col("_part").cast("long"), 33) + offset
    return tagged.select(index.cast("long").alias("id"), *df.columns)


# ---- commands ---------------------------------------------------------------------------------


def _status(args: argparse.Namespace, message: str) -> None:
    if not args.quiet:
        print(f"{PROG}: {message}", file=sys.stderr, flush=True)


def _resolve(name: str, precision: str) -> ModelDirectory:
    from sparkbert.model.resolve import resolve_model

    return resolve_model(name, precision=precision)


def _summary(directory: ModelDirectory) -> str:
    return (
        f"{directory.precision}, {directory.hidden_size}-d, {directory.num_hidden_layers} layers, "
        f"{'cased' if directory.cased else 'uncased'}"
    )


def cmd_embed(args: argparse.Namespace) -> int:
    """``sparkbert embed``: embed a file or folder and write one row per input row."""
    fmt = detect_format(args.input, args.input_format)
    check_output(args.output, args.input, args.overwrite)
    find_java()
    directory = _resolve(args.model, args.precision)
    if args.max_sentence_length > directory.max_positions:
        raise InvalidParamError.for_param(
            "--max-sentence-length",
            args.max_sentence_length,
            f"an integer from 4 to {directory.max_positions} (the model's max positions)",
        )
    _status(args, f"model {directory.path} ({_summary(directory)})")
    _status(args, f"embedding {args.input} ({fmt}) on {args.master} into {args.output} ({args.format})")
    spark = start_spark(args.master, "sparkbert embed", args.conf, verbose=args.verbose, quiet=args.quiet)
    try:
        from pyspark.sql import Observation
        from pyspark.sql import functions as F

        df = read_input(spark, args.input, fmt, args.text_column, args.id_column)
        if args.partitions:
            df = df.repartition(args.partitions)
        pipeline = build_pipeline(
            str(directory.path.absolute()),
            sentence_embeddings=args.sentence_embeddings,
            pooling=args.pooling,
            batch_size=args.batch_size,
            max_sentence_length=args.max_sentence_length,
            storage_ref=args.model,
        )
        table = flatten(pipeline.fit(df).transform(df), sentence_embeddings=args.sentence_embeddings)
        observation = Observation("sparkbert_embed")
        table = table.observe(
            observation,
            F.count(F.lit(1)).alias("rows"),
            F.sum(F.when(F.size("tokens") == 0, 1).otherwise(0)).alias("empty"),
            F.sum(F.size("sentences")).alias("sentences"),
            F.sum(F.size("tokens")).alias("tokens"),
        )
        started = time.monotonic()
        writer = table.write.mode("overwrite" if args.overwrite else "errorifexists")
        if args.format == "parquet":
            writer.parquet(args.output)
        else:
            writer.json(args.output)
        seconds = time.monotonic() - started
        stats = {key: int(value or 0) for key, value in observation.get.items()}
    finally:
        spark.stop()
    rate = stats["tokens"] / seconds if seconds > 0 else 0.0
    for label, value in (
        ("rows", stats["rows"]),
        ("empty rows", stats["empty"]),
        ("sentences", stats["sentences"]),
        ("tokens", stats["tokens"]),
        ("seconds", f"{seconds:.1f}"),
        ("tokens/s", f"{rate:.0f}"),
        ("output", f"{args.output} ({args.format})"),
    ):
        print(f"{label + ':':<12}{value}")
    return 0


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
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def cmd_demo(args: argparse.Namespace) -> int:
    """``sparkbert demo``: nearest cross-language neighbours of bundled parallel sentences."""
    import numpy as np

    find_java()
    directory = _resolve(args.model, args.precision)
    _status(args, f"model {directory.path} ({_summary(directory)})")
    rows = parallel_sentences()
    spark = start_spark(args.master, "sparkbert demo", args.conf, verbose=args.verbose, quiet=args.quiet)
    try:
        df = spark.createDataFrame([(i, r["text"]) for i, r in enumerate(rows)], "id long, text string")
        pipeline = build_pipeline(
            str(directory.path.absolute()), sentence_embeddings=True, storage_ref=args.model
        )
        table = flatten(pipeline.fit(df).transform(df), sentence_embeddings=True)
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


def model_facts(directory: ModelDirectory) -> dict[str, Any]:
    """What ``sparkbert info`` shows: provenance, shapes, precision, size and files of a model."""
    manifest = directory.manifest
    files = {name: int(entry["size"]) for name, entry in sorted(manifest["files"].items())}
    return {
        "path": str(directory.path.absolute()),
        "source": manifest.get("source"),
        "revision": manifest.get("revision"),
        "precision": directory.precision,
        "dimension": directory.hidden_size,
        "layers": directory.num_hidden_layers,
        "attention_heads": manifest.get("num_attention_heads"),
        "max_positions": directory.max_positions,
        "vocab_size": manifest.get("vocab_size"),
        "cased": directory.cased,
        "sparkbert_version": manifest.get("sparkbert_version"),
        "size_bytes": sum(files.values()) + (directory.path / "manifest.json").stat().st_size,
        "files": files,
    }


def _size(n: float) -> str:
    """Format a byte count.

    Examples
    --------
    >>> _size(512), _size(15436416)
    ('512 B', '14.7 MiB')
    """
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def _print_facts(facts: Mapping[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(facts, indent=2))
        return
    for key, value in facts.items():
        if key == "files":
            print("files:")
            for name, size in value.items():
                print(f"  {name:<20}{_size(size):>12}")
            continue
        shown = (
            _size(value)
            if key == "size_bytes"
            else ("yes" if value is True else "no" if value is False else value)
        )
        label = {"size_bytes": "size on disk", "max_positions": "max positions"}.get(
            key, key.replace("_", " ")
        )
        print(f"{label + ':':<19}{'-' if shown is None else shown}")


def cmd_convert(args: argparse.Namespace) -> int:
    """``sparkbert convert``: a Hugging Face checkpoint folder → a model directory."""
    from sparkbert.model.convert import convert_checkpoint

    directory = convert_checkpoint(args.checkpoint, args.out, precision=args.precision)
    _print_facts(model_facts(directory), args.json)
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    """``sparkbert info``: describe a model directory (or a cached registry / Hub model)."""
    from sparkbert.model.directory import ModelDirectory, is_checkpoint, is_model_directory

    path = Path(args.model).expanduser()
    if path.exists():
        if path.is_dir() and not is_model_directory(path) and is_checkpoint(path):
            raise CommandError(
                f"{args.model} is a checkpoint folder, not a model directory; convert it with "
                f"'sparkbert convert {args.model} OUT'."
            )
        directory = ModelDirectory.load(path)
    else:
        from sparkbert.model.resolve import resolve_model

        directory = resolve_model(args.model, local_files_only=True)
    _print_facts(model_facts(directory), args.json)
    return 0


# ---- the parser -------------------------------------------------------------------------------


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def make_parser() -> argparse.ArgumentParser:
    """Return the ``sparkbert`` argument parser.

    Examples
    --------
    >>> make_parser().parse_args(["embed", "--input", "a.txt", "--output", "out"]).master
    'local[*]'
    """
    common = _Parser(add_help=False)
    common.add_argument("-v", "--verbose", action="store_true", help="library and Spark warnings, tracebacks")
    common.add_argument("-q", "--quiet", action="store_true", help="no status lines or progress bar")
    spark = _Parser(add_help=False)
    spark.add_argument("--master", default="local[*]", help="Spark master URL (default: %(default)s)")
    spark.add_argument(
        "--conf", action="append", default=[], metavar="KEY=VALUE", help="a Spark setting (repeatable)"
    )
    spark.add_argument(
        "--model",
        default=DEFAULT_MODEL,
        help="registry name, Hub repo id, model directory or checkpoint (default: %(default)s)",
    )
    spark.add_argument(
        "--precision", choices=("fp32", "int8"), default="fp32", help="weights (default: %(default)s)"
    )

    parser = _Parser(prog=PROG, description="Multilingual BERT embeddings on Spark, with ONNX Runtime.")
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    embed = sub.add_parser(
        "embed",
        parents=[common, spark],
        help="embed a file or folder of texts",
        description=cmd_embed.__doc__,
    )
    embed.add_argument(
        "--input", required=True, help="a .txt (one text per line), .jsonl, .csv or .parquet file or folder"
    )
    embed.add_argument("--output", required=True, help="the folder to write")
    embed.add_argument("--input-format", choices=INPUT_FORMATS, help="when file names do not tell")
    embed.add_argument(
        "--format", choices=OUTPUT_FORMATS, default="parquet", help="output format (default: %(default)s)"
    )
    embed.add_argument("--text-column", default="text", help="column holding the text (default: %(default)s)")
    embed.add_argument(
        "--id-column", help="column holding a row id (default: 'id' if present, else the row number)"
    )
    embed.add_argument(
        "--pooling", choices=POOLINGS, default="first", help="pieces → token vector (default: %(default)s)"
    )
    embed.add_argument(
        "--sentence-embeddings", action="store_true", help="also write one vector per sentence"
    )
    embed.add_argument(
        "--batch-size", type=_positive, default=DEFAULT_BATCH_SIZE, help="sentences per ONNX Runtime call"
    )
    embed.add_argument(
        "--max-sentence-length", type=_positive, default=DEFAULT_MAX_SENTENCE_LENGTH, help="pieces per window"
    )
    embed.add_argument("--partitions", type=_positive, help="repartition the input into N partitions")
    embed.add_argument("--overwrite", action="store_true", help="replace the output if it exists")
    embed.set_defaults(run=cmd_embed)

    demo = sub.add_parser(
        "demo",
        parents=[common, spark],
        help="nearest neighbours across languages",
        description=cmd_demo.__doc__,
    )
    demo.set_defaults(run=cmd_demo)

    convert = sub.add_parser(
        "convert", parents=[common], help="checkpoint → model directory", description=cmd_convert.__doc__
    )
    convert.add_argument("checkpoint", help="a Hugging Face BERT checkpoint folder (safetensors)")
    convert.add_argument("out", help="the model directory to create")
    convert.add_argument(
        "--precision", choices=("fp32", "int8", "fp16"), default="fp32", help="weights (default: %(default)s)"
    )
    convert.add_argument("--json", action="store_true", help="print the result as JSON")
    convert.set_defaults(run=cmd_convert)

    info = sub.add_parser(
        "info", parents=[common], help="describe a model directory", description=cmd_info.__doc__
    )
    info.add_argument("model", help="a model directory, or the name of a cached model")
    info.add_argument("--json", action="store_true", help="print as JSON")
    info.set_defaults(run=cmd_info)
    return parser


# ---- main -------------------------------------------------------------------------------------


def _spark_message(text: str) -> str:
    """The informative line of a Spark, Py4J or Python-worker error message.

    Examples
    --------
    >>> _spark_message("An error occurred while calling o1.x.\\n: java.io.IOException: disk full\\n\\tat a.b(C.java:1)")
    'IOException: disk full'
    >>> _spark_message("An exception was thrown from the Python worker.\\nTraceback (most recent call last):\\n"
    ...                '  File "w.py", line 1, in f\\nValueError: bad row\\n')
    'ValueError: bad row'
    """
    text = text.split("JVM stacktrace:")[0]
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if any(line.startswith("Traceback") for line in lines):
        raised = [line for line in lines if re.match(r"^[\w.]*(Error|Exception|Exit)\b", line)]
        if raised:
            return raised[-1]
    for line in lines:
        if line.startswith(": "):  # Py4JJavaError: ": org.apache.spark.SparkException: ..."
            return re.sub(r"^(?:[a-z_]\w*\.)+(?=[A-Z]\w*: )", "", line[2:])
    kept = [
        line
        for line in lines
        if not line.startswith(("at ", "File ", "Traceback", "An exception was thrown"))
    ]
    return re.sub(r"^(?:[a-z_]\w*\.)+(?=[A-Z]\w*: )", "", kept[0]) if kept else "Spark failed"


def _one_line(error: BaseException) -> str:
    if isinstance(error, (SparkBertError, OSError)):
        text = str(error) or type(error).__name__
    elif type(error).__module__.startswith(("pyspark", "py4j")):
        text = _spark_message(str(error))
    else:
        text = f"{type(error).__name__}: {error} (run again with --verbose for the traceback)"
    return " ".join(text.split())


def _configure_logging(verbose: bool, quiet: bool) -> None:
    log = logging.getLogger("sparkbert")
    if not any(getattr(h, "_sparkbert_cli", False) for h in log.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(f"{PROG}: %(message)s"))
        handler._sparkbert_cli = True  # type: ignore[attr-defined]
        log.addHandler(handler)
        log.propagate = False
    log.setLevel(logging.INFO if verbose else logging.ERROR if quiet else logging.WARNING)
    if quiet:
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``sparkbert`` command; return its exit status.

    Examples
    --------
    >>> main(["--version"]) == 0
    sparkbert ...
    True
    """
    args_list = list(sys.argv[1:] if argv is None else argv)
    verbose = "-v" in args_list or "--verbose" in args_list
    try:
        args = make_parser().parse_args(args_list)
        if args.version:
            print(f"{PROG} {__version__}")
            return 0
        if args.command is None:
            raise UsageError("a command is needed: embed, demo, convert or info (see 'sparkbert --help')")
        _configure_logging(args.verbose, args.quiet)
        return int(args.run(args))
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except Exception as error:
        if verbose:
            traceback.print_exc()
        print(f"{PROG}: error: {_one_line(error)}", file=sys.stderr)
        return 2 if isinstance(error, (UsageError, InvalidParamError)) else 1


__all__ = [
    "CommandError",
    "UsageError",
    "build_pipeline",
    "check_output",
    "detect_format",
    "find_java",
    "flatten",
    "format_of_name",
    "main",
    "make_parser",
    "model_facts",
    "nearest_in_other_language",
    "parallel_sentences",
    "read_input",
    "start_spark",
]
