"""Reading the input and writing the output of ``sparkbert embed``, and the checks made first.

An input is a file, a folder (read at every depth) or a Hadoop glob pattern (``_glob``); for a
local one ``resolve_input`` lists the files, skipping those Spark skips, and Spark is handed
exactly that list. The format comes from the file names (compression suffixes ignored). Every
check here runs before Spark starts.

Examples
--------
>>> format_of_name("part-00000.jsonl.gz"), format_of_name("notes.TXT"), format_of_name("_SUCCESS")
('jsonl', 'txt', None)
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple
from urllib.parse import unquote

from sparkbert._paths import is_remote, local_path
from sparkbert.cli._errors import CommandError, UsageError
from sparkbert.cli._glob import escape, has_glob, match

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession
    from pyspark.sql.types import StructType

INPUT_FORMATS = ("txt", "jsonl", "csv", "tsv", "parquet")
#: The field separator of each delimited format; both quote as CSV does (RFC 4180).
SEPARATORS = {"csv": ",", "tsv": "\t"}
OUTPUT_FORMATS = ("parquet", "jsonl")
_SUFFIXES = {
    ".txt": "txt",
    ".text": "txt",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".parquet": "parquet",
    ".pq": "parquet",
}
#: Compression suffixes Spark reads (file names ignore them).
COMPRESSED = (".gz", ".bz2", ".zst", ".lz4", ".snappy", ".deflate", ".xz")


def format_of_name(name: str) -> str | None:
    """Return the input format a file name stands for (compression suffixes ignored), or None.

    Examples
    --------
    >>> format_of_name("data.csv.bz2"), format_of_name("corpus.tab.gz"), format_of_name("part-0.snappy.parquet")
    ('csv', 'tsv', 'parquet')
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


def _hidden(name: str) -> bool:
    """Whether Spark skips a file or folder of this name (it takes it for hidden or temporary)."""
    if name.startswith("_") and "=" in name:
        return False  # a partition folder, ``_key=value``
    return name.startswith((".", "_")) or name.endswith("._COPYING_")


def _folder_files(folder: Path) -> list[Path]:
    """The files in ``folder`` at every depth, hidden ones and those in hidden folders skipped.

    Links are followed (a linked folder is read once, so a link cycle ends), as Hadoop follows them.
    """
    files: list[Path] = []
    seen: set[str] = set()
    for top, folders, names in os.walk(folder, followlinks=True):
        real = os.path.realpath(top)
        if real in seen:
            folders[:] = []
            continue
        seen.add(real)
        folders[:] = [f for f in folders if not _hidden(f)]
        files += [Path(top, n) for n in names if not _hidden(n) and os.path.isfile(os.path.join(top, n))]
    return files


def order_key(path: str) -> tuple[str, ...]:
    """The order of input files (their path components), for local paths and Spark's file URIs alike.

    Examples
    --------
    >>> sorted(["file:/in/b%20c.txt", "file:/in/a/z.txt", "file:/in/a-b.txt"], key=order_key)
    ['file:/in/a/z.txt', 'file:/in/a-b.txt', 'file:/in/b%20c.txt']
    """
    return tuple(unquote(path).split("/"))


@dataclass(frozen=True)
class Input:
    """An input as Spark will read it: its format and, for a local input, exactly which files.

    ``roots`` are what the path or pattern names (files and folders), ``files`` the files read
    (folders at every depth, in ``order_key`` order), ``left_out`` the files of a folder whose
    names do not say the input's format. A remote input has no ``files``: Spark lists it.

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> for name in ("2025/a.txt", "2026/b.txt", "README.md", "_SUCCESS"):
    ...     (folder / name).parent.mkdir(exist_ok=True)
    ...     _ = (folder / name).write_text("Hi.")
    >>> source = resolve_input(str(folder))
    >>> source.format, [p.name for p in source.files], [p.name for p in source.left_out]
    ('txt', ['a.txt', 'b.txt'], ['README.md'])
    >>> Input("s3a://bucket/logs/", "jsonl").files is None  # remote: Spark lists it
    True
    """

    path: str
    format: str
    files: tuple[Path, ...] | None = None
    roots: tuple[Path, ...] = ()
    left_out: tuple[Path, ...] = ()
    #: ``--separator``: the field separator of a CSV or TSV input when not the format's own
    separator: str | None = None

    @property
    def delimiter(self) -> str:
        """The field separator of a CSV or TSV input: ``separator``, else the format's (``SEPARATORS``)."""
        return self.separator or SEPARATORS[self.format]


def _roots(path: str) -> list[Path]:
    """What a local path or glob pattern names: the path itself when it exists, else the pattern's matches."""
    local = _local(path)
    if local.exists():
        if local.is_file() and _hidden(local.name):
            raise CommandError(
                f"Input {path}: Spark skips files whose names start with '_' or '.' (it takes them "
                f"for hidden or temporary files), so it would read nothing; rename the file."
            )
        return [local.absolute()]
    if has_glob(str(local)):
        matches = match(str(local))
        roots = [p for p in matches if p.is_dir() or not _hidden(p.name)]
        if not roots:
            skipped = (
                f" but {len(matches):,} that Spark skips (names starting with '_' or '.')" if matches else ""
            )
            raise CommandError(f"Input pattern {path} matches no file or folder{skipped}.")
        return roots
    raise CommandError(f"Input {path} does not exist.")


def _remote(path: str, given: str | None) -> Input:
    found = given or format_of_name(path.rstrip("/"))
    if found is None:
        raise UsageError(f"Cannot tell the format of {path} from its name; pass --input-format.")
    return Input(path, found)


def _with_separator(source: Input, separator: str | None) -> Input:
    """``source`` read with ``--separator``, which only a CSV or TSV input takes."""
    if separator is None:
        return source
    if source.format not in SEPARATORS:
        raise UsageError(
            f"--separator {separator!r} is for CSV and TSV inputs; {source.path} is read as {source.format}."
        )
    return dataclasses.replace(source, separator=separator)


def resolve_input(path: str, given: str | None = None, separator: str | None = None) -> Input:
    """Return the input ``path`` names (a file, a folder or a Hadoop glob pattern), its format from ``given`` or its file names.

    A folder is read at every depth, files starting with ``_`` or ``.`` (and folders so named)
    skipped. Without ``given``, the files of a folder or pattern whose names do not say the
    input's format are left out (``Input.left_out``). ``separator`` (``--separator``) replaces
    the field separator of a CSV or TSV input.

    Raises
    ------
    CommandError
        No such file or folder, a pattern that matches none, no input files, a file Spark cannot read.
    UsageError
        Names that do not tell the format, or that mix formats; a separator for another format.

    Examples
    --------
    >>> resolve_input("s3a://bucket/reviews.jsonl").format, resolve_input("hdfs:///data/in", "parquet").format
    ('jsonl', 'parquet')
    >>> resolve_input("s3a://bucket/export.csv", separator=";").delimiter  # Excel's CSV in some locales
    ';'
    >>> resolve_input("/nonexistent.txt")
    Traceback (most recent call last):
    ...
    sparkbert.cli.CommandError: Input /nonexistent.txt does not exist.
    """
    if is_remote(path):
        return _with_separator(_remote(path, given), separator)
    roots = _roots(path)
    for root in roots:
        if (root / "_delta_log").is_dir():
            raise CommandError(
                f"Input {root} is a Delta table: its folder also holds the Parquet files of older "
                "versions, which a Parquet reader reads too (rows twice); write the table's current "
                "version out as Parquet first, e.g. spark.read.format('delta').load(...).write.parquet(...)."
            )
    files = sorted(
        {f for root in roots for f in (_folder_files(root) if root.is_dir() else [root])},
        key=lambda p: order_key(str(p)),
    )
    known = ", ".join(sorted(_SUFFIXES))
    if len(roots) == 1 and roots[0].is_file():
        fmt = given or format_of_name(roots[0].name)
        if fmt is None:
            raise UsageError(f"Cannot tell the format of {path} (known: {known}); pass --input-format.")
    elif not files:
        raise CommandError(f"Input {'folder' if len(roots) == 1 else 'pattern'} {path} holds no input files.")
    elif given:
        fmt = given
    else:
        formats = {f for f in (format_of_name(p.name) for p in files) if f}
        if len(formats) != 1:
            what = "mixes " + ", ".join(sorted(formats)) if formats else f"has no file named {known}"
            raise UsageError(f"Input {path} {what}; pass --input-format.")
        fmt = formats.pop()
    named = [p for p in files if given or format_of_name(p.name) == fmt]
    for p in named:
        if ":" in p.name:
            raise CommandError(
                f"Input file {p} has ':' in its name, which Spark cannot read (Hadoop takes it for "
                "a URI scheme); rename the file."
            )
    read = set(named)
    left_out = tuple(p for p in files if p not in read)
    return _with_separator(Input(path, fmt, tuple(named), tuple(roots), left_out), separator)


def check_output(output: str, source: Input, overwrite: bool) -> None:
    """Refuse an output that exists (without ``overwrite``), overlaps the input, or cannot be written.

    Examples
    --------
    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> source = Input("s3a://bucket/in.txt", "txt")
    >>> check_output(folder, source, overwrite=True)  # replaceable: no error
    >>> check_output(folder, source, overwrite=False)
    Traceback (most recent call last):
    ...
    sparkbert.cli.CommandError: Output ... already exists; pass --overwrite to replace it.
    """
    if is_remote(output):
        return
    out = _local(output).absolute()
    if out.exists() and not overwrite:
        raise CommandError(f"Output {output} already exists; pass --overwrite to replace it.")
    if any(out == root or out in root.parents or root in out.parents for root in source.roots):
        raise UsageError(f"Output {output} overlaps the input {source.path}; choose another folder.")
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


def name_list(names: list[str], most: int = 40) -> str:
    """``names`` (of columns, of files) for a message: the first ``most``, unprintable ones escaped.

    Examples
    --------
    >>> name_list(["id", "te\\x00xt"]), name_list([]), name_list(list("abc"), most=2)
    ("id, 'te\\\\x00xt'", 'none', 'a, b, ... (3 in all)')
    """
    shown = [n if n.isprintable() else ascii(n) for n in names[:most]]
    more = f", ... ({len(names)} in all)" if len(names) > most else ""
    return ", ".join(shown) + more if names else "none"


def _paths(schema: StructType, prefix: str = "") -> list[str]:
    """A Spark schema's column names, and ``name.inner`` for the fields of structs among them."""
    from pyspark.sql.types import StructType

    out = []
    for field in schema.fields:
        out.append(prefix + field.name)
        if isinstance(field.dataType, StructType):
            out += _paths(field.dataType, f"{prefix}{field.name}.")
    return out


def _column(df: DataFrame, name: str) -> Column | None:
    """The column ``name`` of ``df``: a top-level column of that name, else a field inside structs
    (``translation.de``); None when there is neither."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import StructType

    if name in df.columns:
        return F.col(_quoted(name))
    schema: object = df.schema
    for part in name.split("."):
        if not isinstance(schema, StructType) or part not in schema.names:
            return None
        schema = schema[part].dataType
    return F.col(".".join(map(_quoted, name.split("."))))


#: Columns for ``number_rows``: the file and the offset in it of a row's split (Spark's file metadata).
FILE_SPLIT = {"_file": "file_path", "_block": "file_block_start"}


#: Spark lists more root paths than this with a Spark job, one task per path (seconds for a
#: few thousand files), also when the paths are local files.
_LISTING_JOB_THRESHOLD = "spark.sql.sources.parallelPartitionDiscovery.threshold"


@contextmanager
def _session_conf(spark: SparkSession, key: str, value: str) -> Iterator[None]:
    """Set ``key`` to ``value`` in ``spark``'s session while the block runs, then as it was."""
    previous = spark.conf.get(key, None)
    spark.conf.set(key, value)
    try:
        yield
    finally:
        if previous is None:
            spark.conf.unset(key)
        else:
            spark.conf.set(key, previous)


def _read(spark: SparkSession, source: Input) -> DataFrame:
    """The input as Spark's reader for its format gives it: exactly ``source.files``, or a remote path at every depth."""
    listing: AbstractContextManager[None] = nullcontext()
    if source.files is None:
        reader, paths = spark.read.option("recursiveFileLookup", "true"), [source.path]
    else:  # the driver lists local files in a moment
        reader, paths = spark.read, [escape(str(p)) for p in source.files]
        listing = _session_conf(spark, _LISTING_JOB_THRESHOLD, str(2**31 - 1))
    with listing:
        if source.format == "txt":
            return reader.text(paths)
        if source.format == "jsonl":
            return reader.json(paths, mode="PERMISSIVE")
        if source.format in SEPARATORS:
            return reader.csv(
                paths,
                sep=source.delimiter,
                header=True,
                multiLine=True,
                escape='"',
                mode="PERMISSIVE",
            )
        return reader.parquet(*paths)


class InputTable(NamedTuple):
    """What ``read_input`` gives: the table, and its number of rows when reading counted them (else None)."""

    frame: DataFrame
    rows: int | None


def read_input(spark: SparkSession, source: Input, text_column: str, id_column: str | None) -> InputTable:
    """Read ``source`` as two columns, ``id`` and ``text`` (string), and count its rows if that is free.

    A ``.txt`` input gives one row per line. Other formats take ``id`` from ``id_column`` (or
    a column named ``id``); otherwise ``id`` is the row's position in the input, from 0, files
    in ``order_key`` order (see ``number_rows``). A JSON Lines, CSV or TSV record that cannot be
    parsed, or a text that is not valid UTF-8, has a null text, which gives an empty result: it
    does not fail the job. Numbering the rows counts them (``rows``); with ids from a column,
    ``rows`` is None and a caller that needs the number counts (one more pass over the input).

    Examples
    --------
    >>> import tempfile
    >>> from pyspark.sql import SparkSession
    >>> spark = SparkSession.builder.master("local[1]").getOrCreate()
    >>> path = Path(tempfile.mkdtemp()) / "in.csv"
    >>> _ = path.write_text('key,body\\n7,"Hello, world."\\n8,\\n')
    >>> table = read_input(spark, resolve_input(str(path)), text_column="body", id_column="key")
    >>> table.frame.collect(), table.rows
    ([Row(id='7', text='Hello, world.'), Row(id='8', text=None)], None)
    >>> read_input(spark, resolve_input(str(path)), text_column="body", id_column=None).rows
    2
    """
    from pyspark.sql import functions as F

    df = _read(spark, source)
    if source.format == "txt":
        df = df.withColumnRenamed("value", "text")
        text_column, id_column = "text", None
    if id_column is None and "id" in df.columns and source.format != "txt":
        id_column = "id"
    chosen: dict[str, Column] = {}
    for option, name in (("--text-column", text_column), ("--id-column", id_column)):
        column = None if name is None else _column(df, name)
        if column is None and name is not None:
            raise CommandError(
                f"Input {source.path} has no column {name!r} (columns: {name_list(_paths(df.schema))}); "
                f"check {option}."
            )
        if column is not None:
            chosen[option] = column
    text = valid_utf8(chosen["--text-column"].cast("string")).alias("text")
    if "--id-column" in chosen:
        return InputTable(df.select(chosen["--id-column"].alias("id"), text), None)
    split = [F.col(f"_metadata.{field}").alias(name) for name, field in FILE_SPLIT.items()]
    return InputTable(*number_rows(df.select(*split, text)))


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


def number_rows(df: DataFrame) -> tuple[DataFrame, int]:
    """Prepend ``id``: the row's position in ``df`` (0, 1, 2, ...), computed in the JVM; and count the rows.

    For a file input whose ``FILE_SPLIT`` columns ``df`` holds, the position is in the input's files in
    ``order_key`` order, each from its start, whatever the partitioning (Spark packs small files
    largest first); otherwise in partition order. ``monotonically_increasing_id`` is ``partition
    << 33 | row in partition``; one small count per partition and file split gives each split its
    first id, joined back without a Python pass over the data; the counts add up to the number
    of rows, returned with the table. The ``FILE_SPLIT`` columns are dropped.

    Examples
    --------
    >>> from pyspark.sql import SparkSession
    >>> spark = SparkSession.builder.master("local[1]").getOrCreate()
    >>> df = spark.createDataFrame([("a",), ("b",), ("c",)], "text string")
    >>> numbered, count = number_rows(df)
    >>> numbered.collect(), count
    ([Row(id=0, text='a'), Row(id=1, text='b'), Row(id=2, text='c')], 3)
    """
    import pandas as pd
    from pyspark.sql import functions as F

    split = [c for c in df.columns if c in FILE_SPLIT]
    columns = [c for c in df.columns if c not in split]
    keys = ["_part", *split]
    tagged = df.select(
        F.spark_partition_id().alias("_part"), F.monotonically_increasing_id().alias("_row"), *df.columns
    )
    groups = tagged.groupBy(*keys).agg(F.count(F.lit(1)).alias("n"), F.min("_row").alias("first")).collect()
    if split:
        groups.sort(key=lambda g: (order_key(g["_file"]), g["_block"]))
    else:
        groups.sort(key=lambda g: g["_part"])
    shifts, start = [], 0
    for group in groups:
        shifts.append((*(group[k] for k in keys), start - group["first"]))
        start += group["n"]
    spark = df.sparkSession
    schema = tagged.select(*keys).schema.add("_shift", "long")
    # through Arrow: a list of rows would start a Python worker (seconds) to re-pickle them
    with _session_conf(spark, "spark.sql.execution.arrow.pyspark.enabled", "true"):
        table = spark.createDataFrame(pd.DataFrame(shifts, columns=schema.names), schema)
    index = (F.col("_row") + F.col("_shift")).alias("id")
    # a left join: a row that no split counted (it cannot happen) keeps a null id, never vanishes
    return tagged.join(F.broadcast(table), keys, "left").select(index, *columns), start


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
