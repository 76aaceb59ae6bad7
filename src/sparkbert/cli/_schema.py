"""The input's columns, read from its files before Spark starts, so a wrong ``--text-column`` fails at once.

| format | where the columns come from |
| --- | --- |
| ``parquet`` | each file's footer (``pyarrow``), up to ``MAX_FILES`` files |
| ``csv``, ``tsv`` | the header row of each file (plain, ``.gz``, ``.bz2`` or ``.xz``) |
| ``jsonl`` | the keys of the records, up to ``MAX_RECORDS`` of them; when a column is not among the keys of a sample that did not cover the whole input, Spark has the last word (it reads every record) |
| ``txt`` | one column, ``text``; remote inputs are left to Spark |

Spark reads these text formats as UTF-8 and drops a UTF-8 byte-order mark at the start of a
file, and so does this module (Excel's "CSV UTF-8" starts with one). A local file that starts
with a UTF-16 or UTF-32 byte-order mark is refused here, naming it, instead of being read as
garbage (``txt``) or failing for a column it seems to lack (``csv``, ``tsv``, ``jsonl``).

Examples
--------
>>> import tempfile
>>> from pathlib import Path
>>> from sparkbert.cli._io import resolve_input
>>> path = Path(tempfile.mkdtemp()) / "in.csv"
>>> _ = path.write_text("id,body\\n1,Hello.\\n")
>>> check_columns(resolve_input(str(path)), text_column="text", id_column=None)
Traceback (most recent call last):
...
sparkbert.cli.CommandError: Input ... has no column 'text' (columns: id, body); check --text-column.
"""

from __future__ import annotations

import bz2
import codecs
import csv
import gzip
import io
import json
import lzma
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from sparkbert.cli._errors import CommandError
from sparkbert.cli._io import COMPRESSED, SEPARATORS, Input, name_list

#: Files whose schema is read, at most.
MAX_FILES = 1000
#: JSON Lines records whose keys are read, at most.
MAX_RECORDS = 10_000
#: The compressions the standard library reads: opener, and the commands that read and write
#: it (for the conversion a refusal suggests). Spark's other ones are left to Spark.
_OPENERS: dict[str, tuple[Any, str, str]] = {
    ".gz": (gzip.open, "zcat", "gzip"),
    ".bz2": (bz2.open, "bzcat", "bzip2"),
    ".xz": (lzma.open, "xzcat", "xz"),
}


#: Byte-order marks of the encodings Spark's readers do not take for UTF-8, UTF-32's first.
_OTHER_BOMS = (
    (codecs.BOM_UTF32_LE, "UTF-32"),
    (codecs.BOM_UTF32_BE, "UTF-32"),
    (codecs.BOM_UTF16_LE, "UTF-16"),
    (codecs.BOM_UTF16_BE, "UTF-16"),
)
#: Stands for NUL while Python 3.10's ``csv`` reads a header (it refuses NUL; 3.11 reads it).
_NUL_STAND_IN = "\ufdd0"


def _open_text(path: Path) -> IO[str] | None:
    """Open a (possibly compressed) UTF-8 text file without its byte-order mark, as Spark reads it.

    None for a compression the standard library lacks; ``CommandError`` for a file that does
    not decompress or starts with a UTF-16 or UTF-32 byte-order mark.
    """
    suffix = path.suffix.lower()
    compressed = _OPENERS.get(suffix)
    if suffix in COMPRESSED and compressed is None:
        return None
    raw = compressed[0](path, "rb") if compressed else path.open("rb")
    try:
        head = raw.peek(4)[:4]
    except (OSError, EOFError, lzma.LZMAError) as err:
        raw.close()
        raise CommandError(f"Input {path} is not a readable {suffix.lstrip('.')} file: {err}") from None
    for bom, encoding in _OTHER_BOMS:
        if head.startswith(bom):
            raw.close()
            convert = f"iconv -f {encoding} -t UTF-8"
            if compressed:
                _, cat, pack = compressed
                convert = f"{cat} {path.name} | {convert} | {pack}"
            else:
                convert = f"{convert} {path.name}"
            raise CommandError(
                f"Input {path} is {encoding} text (it starts with the byte-order mark {bom.hex(' ').upper()}); "
                f"sparkbert reads UTF-8: convert it first, e.g. {convert} > utf8-{path.name}"
            )
    return io.TextIOWrapper(raw, encoding="utf-8-sig", errors="replace", newline="")


def _csv_header(handle: IO[str], separator: str) -> list[str]:
    """The first record of a CSV (or TSV) text, NUL characters included on every Python."""
    if sys.version_info >= (3, 11):
        return next(csv.reader(handle, delimiter=separator), [])
    lines = (line.replace("\0", _NUL_STAND_IN) for line in handle)
    return [name.replace(_NUL_STAND_IN, "\0") for name in next(csv.reader(lines, delimiter=separator), [])]


def _delimited_columns(files: list[Path], separator: str) -> tuple[list[str], bool]:
    names: list[str] = []
    complete = True
    for path in files:
        handle = _open_text(path)
        if handle is None:
            complete = False
            continue
        with handle:
            header = _csv_header(handle, separator)
        names += [n for n in header if n not in names]
    return names, complete


def _txt_columns(files: list[Path]) -> tuple[list[str], bool]:
    for path in files:
        handle = _open_text(path)  # refuses what Spark would misread
        if handle is not None:
            handle.close()
    return ["text"], True


def _records(files: list[Path]) -> Iterator[object]:
    for path in files:
        handle = _open_text(path)
        if handle is None:
            yield None  # unreadable here: the sample is not complete
            continue
        with handle:
            for line in handle:
                if line.strip():
                    try:
                        yield json.loads(line)
                    except ValueError:
                        continue  # Spark reads it as a corrupt record: no column


def _object_paths(record: dict[str, Any], prefix: str = "") -> Iterator[str]:
    """A JSON object's keys, and ``key.inner`` for the keys of objects inside it."""
    for key, value in record.items():
        yield prefix + key
        if isinstance(value, dict):
            yield from _object_paths(value, f"{prefix}{key}.")


def _jsonl_columns(files: list[Path]) -> tuple[list[str], bool]:
    names: dict[str, None] = {}
    for seen, record in enumerate(_records(files)):
        if record is None or seen >= MAX_RECORDS:
            return list(names), False
        # Spark reads a line holding an array as one row per element
        for item in record if isinstance(record, list) else [record]:
            if isinstance(item, dict):
                names.update(dict.fromkeys(_object_paths(item)))
    return list(names), True


def _parquet_columns(files: list[Path]) -> tuple[list[str], bool]:
    import pyarrow.parquet as pq

    names: list[str] = []
    for path in files:
        try:
            schema = pq.read_schema(path)
        except (OSError, ValueError) as err:
            raise CommandError(f"Input {path} is not a readable Parquet file: {err}") from None
        names += [n for n in _field_paths(list(schema)) if n not in names]
    return names, True


def _field_paths(fields: list[Any], prefix: str = "") -> Iterator[str]:
    """Arrow fields' names, and ``name.inner`` for the fields of structs among them."""
    import pyarrow as pa

    for field in fields:
        yield prefix + field.name
        if pa.types.is_struct(field.type):
            inner = [field.type.field(i) for i in range(field.type.num_fields)]
            yield from _field_paths(inner, f"{prefix}{field.name}.")


def input_columns(source: Input) -> tuple[list[str], bool] | None:
    """Return the input's column names and whether they are certain; None when Spark must tell.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from sparkbert.cli._io import resolve_input
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / "a.jsonl").write_text('{"id": 1, "text": "Hi."}\\n{"id": 2, "lang": "en"}\\n')
    >>> input_columns(resolve_input(str(folder)))
    (['id', 'text', 'lang'], True)
    """
    if source.files is None:
        return (["text"], True) if source.format == "txt" else None
    files = list(source.files[:MAX_FILES])
    if source.format in SEPARATORS:
        names, complete = _delimited_columns(files, source.delimiter)
    else:
        readers = {"jsonl": _jsonl_columns, "parquet": _parquet_columns, "txt": _txt_columns}
        names, complete = readers[source.format](files)
    return names, complete and len(source.files) <= MAX_FILES


def check_columns(source: Input, *, text_column: str, id_column: str | None) -> None:
    """Raise ``CommandError`` when ``--text-column`` or ``--id-column`` is not in the input.

    Also when a local text file cannot be read as Spark would read it: it does not
    decompress, or it is UTF-16 or UTF-32 (a byte-order mark says so).

    Examples
    --------
    >>> from sparkbert.cli._io import Input
    >>> check_columns(Input("s3a://bucket/in.jsonl", "jsonl"), text_column="body", id_column=None)  # left to Spark
    """
    found = input_columns(source)
    if found is None or source.format == "txt":  # a .txt input's one column is its text, whatever the options
        return
    names, certain = found
    for option, name in (("--text-column", text_column), ("--id-column", id_column)):
        if name is None or name in names:
            continue
        if not certain:
            return  # a key may appear after the sample: Spark checks when it has read the schema
        raise CommandError(
            f"Input {source.path} has no column {name!r} (columns: {name_list(names)}); check {option}."
            + _hint(source, names)
        )


def _hint(source: Input, names: list[str]) -> str:
    """What an input with these columns probably is, when it is not what the format reads."""
    if source.format == "jsonl" and not names:
        return (
            " No line holds a JSON object: sparkbert reads JSON Lines, one object per line; a "
            "pretty-printed document converts with jq -c '.[]' (an array) or jq -c . (an object)."
        )
    if source.format in SEPARATORS and len(names) == 1:
        for separator in ("\t", ",", ";", "|"):
            if separator == source.delimiter or separator not in names[0]:
                continue
            other = next((f for f, s in SEPARATORS.items() if s == separator), None)
            if other is not None and source.separator is None:
                return (
                    f" The header is one column split by {separator!r}: name the file .{other} or pass "
                    f"--input-format {other}."
                )
            shown = "tab" if separator == "\t" else separator
            return f" The header is one column split by {separator!r}: pass --separator '{shown}'."
    return ""
