"""The input's columns come from its files before Spark starts: what is certain fails at once, what is not is left to Spark."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sparkbert.cli import CommandError, _schema, resolve_input
from sparkbert.cli._progress import default_partitions, progress_line


def columns(path: Path | str, fmt: str) -> tuple[list[str], bool] | None:
    return _schema.input_columns(resolve_input(str(path), fmt))


def check(path: Path | str, fmt: str, *, text_column: str, id_column: str | None) -> None:
    _schema.check_columns(resolve_input(str(path), fmt), text_column=text_column, id_column=id_column)


def test_gzipped_csv_header_is_read(tmp_path: Path) -> None:
    (tmp_path / "in.csv.gz").write_bytes(gzip.compress(b'key,"the body"\n1,"a, b"\n'))
    assert columns(tmp_path / "in.csv.gz", "csv") == (["key", "the body"], True)
    with pytest.raises(
        CommandError, match=r"no column 'text' \(columns: key, the body\); check --text-column"
    ):
        check(tmp_path / "in.csv.gz", "csv", text_column="text", id_column=None)


def test_parquet_folder_columns_are_the_union_of_its_footers(tmp_path: Path) -> None:
    pq.write_table(pa.table({"id": [1], "text": ["a"]}), tmp_path / "part-0.parquet")
    pq.write_table(pa.table({"id": [2], "lang": ["en"]}), tmp_path / "part-1.parquet")
    (tmp_path / "_SUCCESS").write_text("")
    assert columns(tmp_path, "parquet") == (["id", "text", "lang"], True)
    check(tmp_path, "parquet", text_column="text", id_column="lang")


def test_corrupt_parquet_is_named_before_spark(tmp_path: Path) -> None:
    (tmp_path / "broken.parquet").write_bytes(b"PAR1 not parquet PAR1")
    with pytest.raises(CommandError, match="broken.parquet is not a readable Parquet file"):
        check(tmp_path / "broken.parquet", "parquet", text_column="text", id_column=None)


def test_jsonl_key_beyond_the_sample_is_left_to_spark(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = [{"id": i, "text": "x"} for i in range(5)] + [{"id": 5, "late": "y"}]
    (tmp_path / "in.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    monkeypatch.setattr(_schema, "MAX_RECORDS", 3)
    assert columns(tmp_path / "in.jsonl", "jsonl") == (["id", "text"], False)
    check(tmp_path / "in.jsonl", "jsonl", text_column="late", id_column=None)  # no error
    monkeypatch.setattr(_schema, "MAX_RECORDS", 100)
    with pytest.raises(CommandError, match="no column 'body'"):
        check(tmp_path / "in.jsonl", "jsonl", text_column="body", id_column=None)


def test_a_utf8_byte_order_mark_is_not_part_of_the_first_column(tmp_path: Path) -> None:
    """Excel's "CSV UTF-8" starts with U+FEFF; Spark drops it, and the first column is ``id``."""
    (tmp_path / "in.csv").write_bytes(b"\xef\xbb\xbfid,text\n1,Hi.\n")
    (tmp_path / "in.jsonl").write_bytes(b'\xef\xbb\xbf{"id": 1, "text": "Hi."}\n')
    for name, fmt in (("in.csv", "csv"), ("in.jsonl", "jsonl")):
        assert columns(tmp_path / name, fmt) == (["id", "text"], True)
        check(tmp_path / name, fmt, text_column="text", id_column="id")


@pytest.mark.parametrize("fmt", ["txt", "csv", "tsv", "jsonl"])
@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-32"])
def test_utf16_and_utf32_files_are_refused_naming_the_file_and_a_fix(
    tmp_path: Path, fmt: str, encoding: str
) -> None:
    text = {
        "txt": "Hello.\n",
        "csv": "id,text\n1,Hello.\n",
        "tsv": "id\ttext\n1\tHello.\n",
        "jsonl": '{"text": "Hello."}\n',
    }[fmt]
    data = text.encode(encoding)
    if encoding == "utf-16-be":
        data = b"\xfe\xff" + data  # Python writes no mark for an explicit byte order
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / f"a.{fmt}").write_text(text, encoding="utf-8")
    (folder / f"b.{fmt}.gz").write_bytes(gzip.compress(data))
    family = "UTF-32" if encoding == "utf-32" else "UTF-16"
    with pytest.raises(CommandError) as caught:
        check(folder, fmt, text_column="text", id_column=None)
    message = str(caught.value)
    assert f"b.{fmt}.gz is {family} text (it starts with the byte-order mark" in message, message
    assert f"zcat b.{fmt}.gz | iconv -f {family} -t UTF-8 | gzip > utf8-b.{fmt}.gz" in message
    (folder / f"b.{fmt}.gz").unlink()
    (folder / f"c.{fmt}").write_bytes(data)
    with pytest.raises(CommandError, match=rf"iconv -f {family} -t UTF-8 c\.{fmt} > utf8-c\.{fmt}$"):
        check(folder, fmt, text_column="text", id_column=None)


def test_nul_in_a_csv_header_is_a_character_of_the_name(tmp_path: Path) -> None:
    """Python 3.10's ``csv`` refuses NUL where 3.11 reads it; the error shows the name escaped."""
    (tmp_path / "in.csv").write_bytes(b'id,"te\x00xt"\n1,Hi.\n')
    assert columns(tmp_path / "in.csv", "csv") == (["id", "te\x00xt"], True)
    with pytest.raises(CommandError, match=r"no column 'text' \(columns: id, 'te\\x00xt'\)"):
        check(tmp_path / "in.csv", "csv", text_column="text", id_column=None)


@pytest.mark.parametrize("suffix", ["gz", "bz2", "xz"])
def test_a_file_that_does_not_decompress_is_named(tmp_path: Path, suffix: str) -> None:
    (tmp_path / f"in.csv.{suffix}").write_bytes(b"not compressed at all")
    with pytest.raises(CommandError, match=rf"Input .*in\.csv\.{suffix} is not a readable {suffix} file: "):
        check(tmp_path / f"in.csv.{suffix}", "csv", text_column="text", id_column=None)


def test_json_arrays_on_one_line_give_their_objects_keys(tmp_path: Path) -> None:
    """Spark reads a line holding an array as one row per object, so its keys are columns."""
    (tmp_path / "in.json").write_text('[{"id": 1, "text": "Hi."}, {"id": 2, "lang": "en"}]\n')
    assert columns(tmp_path / "in.json", "jsonl") == (["id", "text", "lang"], True)


def test_inputs_in_another_shape_get_a_hint(tmp_path: Path) -> None:
    (tmp_path / "pretty.json").write_text('{\n  "id": 1,\n  "text": "Hi."\n}\n')
    with pytest.raises(CommandError, match=r"\(columns: none\).*No line holds a JSON object.*jq -c '\.\[\]'"):
        check(tmp_path / "pretty.json", "jsonl", text_column="text", id_column=None)
    (tmp_path / "semi.csv").write_text("id;text\n1;Hallo.\n")
    with pytest.raises(
        CommandError, match=r"\(columns: id;text\).*one column split by ';': pass --separator ';'\.$"
    ):
        check(tmp_path / "semi.csv", "csv", text_column="text", id_column=None)
    with pytest.raises(CommandError, match=r"one column split by ';': pass --separator ';'\.$"):
        check(tmp_path / "semi.csv", "tsv", text_column="text", id_column=None)
    (tmp_path / "tab.csv").write_text("id\ttext\n1\tHallo.\n")
    with pytest.raises(
        CommandError, match=r"one column split by '\\t': name the file \.tsv or pass --input-format tsv\.$"
    ):
        check(tmp_path / "tab.csv", "csv", text_column="text", id_column=None)
    (tmp_path / "comma.tsv").write_text("id,text\n1,Hallo.\n")
    with pytest.raises(
        CommandError, match=r"one column split by ',': name the file \.csv or pass --input-format csv\.$"
    ):
        check(tmp_path / "comma.tsv", "tsv", text_column="text", id_column=None)


def test_tsv_header_is_read_with_tabs_and_csv_quoting(tmp_path: Path) -> None:
    (tmp_path / "in.tsv.gz").write_bytes(
        gzip.compress(b'\xef\xbb\xbfkey\t"the\tbody"\tnote, with comma\n1\ta\tb\n')
    )
    (tmp_path / "corpus.tab").write_text("id\ttext\n")
    assert [resolve_input(str(tmp_path / n)).format for n in ("in.tsv.gz", "corpus.tab")] == ["tsv", "tsv"]
    assert columns(tmp_path / "in.tsv.gz", "tsv") == (["key", "the\tbody", "note, with comma"], True)
    check(tmp_path / "in.tsv.gz", "tsv", text_column="the\tbody", id_column="key")


def test_a_separator_is_read_as_given_and_only_for_csv_and_tsv(tmp_path: Path) -> None:
    from sparkbert.cli import UsageError
    from sparkbert.cli._args import _separator

    (tmp_path / "semi.csv").write_text('id;"the;text";lang\n1;Hallo;de\n')
    (tmp_path / "pipe.tsv").write_text("id|text\n1|Hi\n")
    (tmp_path / "in.txt").write_text("Hi\n")
    source = resolve_input(str(tmp_path / "semi.csv"), separator=";")
    assert source.delimiter == ";" and resolve_input(str(tmp_path / "semi.csv")).delimiter == ","
    assert _schema.input_columns(source) == (["id", "the;text", "lang"], True)
    _schema.check_columns(source, text_column="the;text", id_column="id")
    piped = resolve_input(str(tmp_path / "pipe.tsv"), separator="|")
    assert _schema.input_columns(piped) == (["id", "text"], True)
    (tmp_path / "tabs.csv").write_text("id\ttext\n")
    # a separator given by hand that is not the file's: the hint names the one to give, no renaming
    with pytest.raises(CommandError, match=r"one column split by '\\t': pass --separator 'tab'\.$"):
        _schema.check_columns(
            resolve_input(str(tmp_path / "tabs.csv"), separator="|"), text_column="text", id_column=None
        )
    with pytest.raises(
        UsageError, match=r"--separator ';' is for CSV and TSV inputs; .*in\.txt is read as txt\."
    ):
        resolve_input(str(tmp_path / "in.txt"), separator=";")
    with pytest.raises(UsageError, match=r"is read as parquet"):
        resolve_input("s3a://bucket/data.parquet", separator=";")
    assert [_separator(t) for t in (";", "|", "tab", "\\t", "\t")] == [";", "|", "\t", "\t", "\t"]


def test_remote_inputs_are_left_to_spark() -> None:
    assert columns("s3a://bucket/in/", "parquet") is None


@pytest.mark.parametrize(
    ("slots", "partitions", "rows", "expected"),
    [(2, 1, 40, 2), (8, 1, 100_000, 50), (2, 64, 40, None), (4, 3, 0, 4), (2, 200, 100_000, None)],
)
def test_default_partitions(slots: int, partitions: int, rows: int, expected: int | None) -> None:
    assert default_partitions(slots=slots, partitions=partitions, rows=rows) == expected


def test_progress_line_without_a_total_has_no_eta() -> None:
    assert (
        progress_line(rows=10, tokens=150, total=None, seconds=5.0)
        == "10 rows, 150 tokens, 2 rows/s, 30 tokens/s"
    )
