"""Reading the input and writing the output of ``sparkbert embed``, and the checks made first.

The format of an input comes from its file names (compression suffixes ignored; in a folder,
files starting with ``_`` or ``.`` skipped). Every check here runs before Spark starts.

Examples
--------
>>> format_of_name("part-00000.jsonl.gz"), format_of_name("notes.TXT"), format_of_name("_SUCCESS")
('jsonl', 'txt', None)
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from sparkbert._paths import is_remote, local_path
from sparkbert.cli._errors import CommandError, UsageError

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession

INPUT_FORMATS = ("txt", "jsonl", "csv", "parquet")
OUTPUT_FORMATS = ("parquet", "jsonl")
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
#: Compression suffixes Spark reads (file names ignore them).
COMPRESSED = (".gz", ".bz2", ".zst", ".lz4", ".snappy", ".deflate", ".xz")


def format_of_name(name: str) -> str | None:
    """Return the input format a file name stands for (compression suffixes ignored), or None.

    Examples
    --------
    >>> format_of_name("data.csv.bz2"), format_of_name("part-0.snappy.parquet")
    ('csv', 'parquet')
    """
    lower = name.lower()
    for suffix in COMPRESSED:
        if lower.endswith(suffix):
            lower = lower[: -len(suffix)]
            break
    return _SUFFIXES.get(os.path.splitext(lower)[1])


def _local(path: str) -> Path:
    """The local path of a plain path or ``file:`` URI (see ``sparkbert._paths.local_path``)."""
    return Path(local_path(path) or path).expanduser()


def input_files(path: str) -> list[Path] | None:
    """Return the files Spark reads for a local input (a folder's, sorted, hidden ones skipped); None if remote.

    Examples
    --------
    >>> input_files("s3a://bucket/in/") is None
    True
    """
    if is_remote(path):
        return None
    local = _local(path)
    if local.is_file():
        return [local]
    return sorted(
        p
        for p in local.rglob("*")
        if p.is_file() and not any(part.startswith((".", "_")) for part in p.relative_to(local).parts)
    )


def detect_format(path: str, given: str | None = None) -> str:
    """Return the format of an input file or folder, from ``given`` or its file names.

    Raises
    ------
    CommandError
        No such file or folder, a folder without input files, or names that do not tell.

    Examples
    --------
    >>> detect_format("s3a://bucket/reviews.jsonl"), detect_format("hdfs:///data/in", "parquet")
    ('jsonl', 'parquet')
    >>> detect_format("/nonexistent.txt")
    Traceback (most recent call last):
    ...
    sparkbert.cli.CommandError: Input /nonexistent.txt does not exist.
    """
    known = ", ".join(sorted(_SUFFIXES))
    if is_remote(path):
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
    files = input_files(path) or []
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
    >>> check_output(folder, "/data/in.txt", overwrite=True)  # replaceable: no error
    >>> check_output(folder, "/data/in.txt", overwrite=False)
    Traceback (most recent call last):
    ...
    sparkbert.cli.CommandError: Output ... already exists; pass --overwrite to replace it.
    """
    if is_remote(output):
        return
    out = _local(output).absolute()
    if out.exists() and not overwrite:
        raise CommandError(f"Output {output} already exists; pass --overwrite to replace it.")
    if not is_remote(inputs):
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

    Examples
    --------
    >>> import tempfile
    >>> from pyspark.sql import SparkSession
    >>> spark = SparkSession.builder.master("local[1]").getOrCreate()
    >>> path = Path(tempfile.mkdtemp()) / "in.csv"
    >>> _ = path.write_text('key,body\\n7,"Hello, world."\\n8,\\n')
    >>> read_input(spark, str(path), "csv", text_column="body", id_column="key").collect()
    [Row(id='7', text='Hello, world.'), Row(id='8', text=None)]
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
    text = valid_utf8(F.col(_quoted(text_column)).cast("string")).alias("text")
    if id_column is not None:
        return df.select(F.col(_quoted(id_column)).alias("id"), text)
    return number_rows(df.select(text))


def valid_utf8(text: Column) -> Column:
    """``text`` where it is valid UTF-8, else null (an unreadable text gives an empty result).

    Spark reads bytes that are not UTF-8 as they are. Spark 4 has ``try_validate_utf8``; on
    Spark 3.5 a text is valid exactly when decoding its bytes (malformed ones become U+FFFD)
    and encoding them again gives the same bytes.

    Examples
    --------
    >>> from pyspark.sql import SparkSession
    >>> from pyspark.sql import functions as F
    >>> spark = SparkSession.builder.master("local[1]").getOrCreate()
    >>> df = spark.createDataFrame([(b"caf\\xc3\\xa9",), (b"caf\\xe9",)], "raw binary")
    >>> df.select(valid_utf8(F.col("raw").cast("string")).alias("text")).collect()
    [Row(text='café'), Row(text=None)]
    """
    from pyspark.sql import functions as F

    if hasattr(F, "try_validate_utf8"):  # Spark 4
        return F.try_validate_utf8(text)
    raw = text.cast("binary")
    return F.when(F.encode(F.decode(raw, "UTF-8"), "UTF-8") == raw, text)


def number_rows(df: DataFrame) -> DataFrame:
    """Prepend ``id``: the row's position in ``df`` (0, 1, 2, ...), computed in the JVM.

    ``monotonically_increasing_id`` is ``partition << 33 | row in partition``; one small
    count per partition turns it into a contiguous number, without a Python pass over the data.

    Examples
    --------
    >>> from pyspark.sql import SparkSession
    >>> spark = SparkSession.builder.master("local[1]").getOrCreate()
    >>> df = spark.createDataFrame([("a",), ("b",), ("c",)], "text string")
    >>> number_rows(df).collect()
    [Row(id=0, text='a'), Row(id=1, text='b'), Row(id=2, text='c')]
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


def write_output(table: DataFrame, path: str, fmt: str, *, overwrite: bool) -> None:
    """Write ``table`` to the folder ``path`` as Parquet or JSON Lines (one file per partition).

    Examples
    --------
    >>> import tempfile
    >>> from pyspark.sql import SparkSession
    >>> spark = SparkSession.builder.master("local[1]").getOrCreate()
    >>> out = str(Path(tempfile.mkdtemp()) / "out")
    >>> write_output(spark.createDataFrame([(0, "Hi")], "id long, text string"), out, "jsonl", overwrite=False)
    >>> spark.read.json(out).collect()
    [Row(id=0, text='Hi')]
    """
    writer = table.write.mode("overwrite" if overwrite else "errorifexists")
    if fmt == "parquet":
        writer.parquet(path)
    else:
        writer.json(path)
