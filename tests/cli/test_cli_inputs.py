"""Which files `sparkbert embed` reads: folders at every depth, Hadoop glob patterns, and exactly those files in Spark.

Hadoop's own ``globStatus`` (through the test session's JVM) is the reference for the patterns;
Spark itself reads the resolved files, split into many small partitions, for the row ids.
"""

from __future__ import annotations

import random
import re
from pathlib import Path
from typing import Any

import pytest

from sparkbert.cli import CommandError, Input, UsageError, main, read_input, resolve_input
from sparkbert.cli._glob import escape, expand_braces, has_glob, match
from sparkbert.cli._io import check_output

#: A tree with the names that make globbing hard: dots, spaces, '%', non-ASCII, hidden ones,
#: glob characters inside names, nested folders.
TREE = [
    "a.txt",
    "b.txt",
    "ab.jsonl",
    "x.y.z.txt",
    "with space.txt",
    "p%41.txt",
    "ünï.txt",
    ".hidden.txt",
    "_tmp/u.txt",
    "notes[1].txt",
    "{x}.txt",
    "2025-12/x.txt",
    "2026-01/y.txt",
    "2026-01/deeper/w.txt",
    "2026-02/z.csv",
]
PATTERNS = [
    "*",
    "*.txt",
    "?.txt",
    "[ab].txt",
    "[!a].txt",
    "[^a].txt",
    "[a-b]*",
    "{a,b}.txt",
    "{a.txt,2026-*/*}",
    "20{25,26}-*/*.{txt,csv}",
    "*/*",
    "*/*/*",
    "2026-0[12]/*",
    "2026-*/",
    ".*",
    "_*/*",
    "*.{txt,jsonl}",
    r"notes\[1\].txt",
    r"\{x\}.txt",
    "w*e.txt",
    "*%*",
    "ü*",
    "*/y.txt",
    "nomatch*",
    "2025-12/*.t?t",
    "{2025-12,2026-01}",
    "*/{x,y}.txt",
    "x.y.*",
    "2026-01/{deeper/w,y}.txt",
]


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    for name in TREE:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(f"{name}\n")
    return tmp_path


@pytest.fixture
def txt_tree(tree: Path) -> Path:
    """The tree with text files only (a folder mixing formats needs ``--input-format``)."""
    (tree / "ab.jsonl").unlink()
    (tree / "2026-02" / "z.csv").unlink()
    return tree


def hadoop_glob(spark: Any, pattern: str) -> list[str]:
    """The paths Hadoop's ``FileSystem.globStatus`` gives for ``pattern`` (what Spark reads)."""
    path = spark._jvm.org.apache.hadoop.fs.Path(pattern)
    statuses = path.getFileSystem(spark._jsc.hadoopConfiguration()).globStatus(path)
    return sorted(str(s.getPath().toUri().getPath()) for s in statuses or [])


@pytest.mark.spark
def test_patterns_match_what_hadoop_matches(spark: Any, tree: Path) -> None:
    root = escape(str(tree))
    for pattern in PATTERNS:
        ours = [str(p) for p in match(f"{root}/{pattern}")]
        assert ours == hadoop_glob(spark, f"{root}/{pattern}"), pattern


@pytest.mark.spark
def test_random_patterns_match_what_hadoop_matches(spark: Any, tree: Path) -> None:
    """Names of the tree with characters turned into wildcards, sets and alternatives."""
    rng = random.Random(20261202)
    root = escape(str(tree))
    names = [n for n in TREE if not any(c in n for c in "[]{}")]
    for _ in range(300):
        pattern = ""
        for c in rng.choice(names):
            roll = rng.random()
            if c == "/" or roll < 0.55:
                pattern += c
            elif roll < 0.7:
                pattern += "?"
            elif roll < 0.8:
                pattern += "*"
            elif roll < 0.9:
                pattern += rng.choice(["[", "[!"]) + "".join(sorted({c, rng.choice("ab.t1x_ ")})) + "]"
            else:
                pattern += "{" + c + "," + rng.choice("abxyz.") + "}"
        ours = [str(p) for p in match(f"{root}/{pattern}")]
        assert ours == hadoop_glob(spark, f"{root}/{pattern}"), pattern


def test_pattern_syntax() -> None:
    assert has_glob("in/*.txt") and has_glob("in/{a,b}") and not has_glob(r"in/\*.txt")
    assert expand_braces("{a,b{c,d}}/{x}") == ["a/x", "bc/x", "bd/x"]
    for bad, what in (("in/{a,b", "'{' without its '}'"), ("in/[ab", "'[' without its ']'")):
        with pytest.raises(UsageError, match=re.escape(what)):
            match(bad)


def test_a_folder_is_read_at_every_depth_without_hidden_files(txt_tree: Path) -> None:
    tree = txt_tree
    (tree / "_tmp" / "v.txt").write_text("in a hidden folder\n")
    (tree / "lang=de").mkdir()
    (tree / "lang=de" / "p.txt").write_text("a partition folder\n")
    (tree / "_part=1").mkdir()
    (tree / "_part=1" / "q.txt").write_text("a partition folder too\n")
    (tree / "copy.txt._COPYING_").write_text("being copied\n")
    (tree / "README").write_text("no format in the name\n")
    source = resolve_input(str(tree))
    read = [p.relative_to(tree).as_posix() for p in source.files or ()]
    assert source.format == "txt"
    assert read == [
        "2025-12/x.txt",
        "2026-01/deeper/w.txt",
        "2026-01/y.txt",
        "_part=1/q.txt",
        "a.txt",
        "b.txt",
        "lang=de/p.txt",
        "notes[1].txt",
        "p%41.txt",
        "with space.txt",
        "x.y.z.txt",
        "{x}.txt",
        "ünï.txt",
    ]
    assert [p.name for p in source.left_out] == ["README"]
    every = resolve_input(str(tree), "txt")
    assert every.left_out == () and len(every.files or ()) == len(read) + 1
    (tree / "more.jsonl").write_text('{"text": "Hi."}\n')
    with pytest.raises(UsageError, match="mixes jsonl, txt; pass --input-format"):
        resolve_input(str(tree))


def test_linked_folders_are_read_once(tmp_path: Path) -> None:
    (tmp_path / "elsewhere" / "sub").mkdir(parents=True)
    (tmp_path / "elsewhere" / "sub" / "a.txt").write_text("linked in\n")
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "b.txt").write_text("here\n")
    (tmp_path / "in" / "linked").symlink_to(tmp_path / "elsewhere")
    (tmp_path / "in" / "loop").symlink_to(tmp_path / "in")  # a cycle ends
    source = resolve_input(str(tmp_path / "in"))
    assert [p.relative_to(tmp_path / "in").as_posix() for p in source.files or ()] == [
        "b.txt",
        "linked/sub/a.txt",
    ]


def test_patterns_resolve_to_their_files(tree: Path) -> None:
    with pytest.raises(UsageError, match="mixes csv, txt; pass --input-format"):
        resolve_input(f"{escape(str(tree))}/2026-0[12]/*")
    (tree / "2026-02" / "z.csv").rename(tree / "2026-02" / "z.data")
    source = resolve_input(f"{escape(str(tree))}/2026-*")
    assert [p.relative_to(tree).as_posix() for p in source.roots] == ["2026-01", "2026-02"]
    assert [p.name for p in source.files or ()] == ["w.txt", "y.txt"] and source.format == "txt"
    assert [p.name for p in source.left_out] == ["z.data"]
    # a matched file named like a hidden one is skipped, as Spark skips it
    assert [p.name for p in resolve_input(f"{escape(str(tree))}/[._]*").files or ()] == ["u.txt"]
    # a name that exists is read as it is, not as a pattern
    assert [p.name for p in resolve_input(str(tree / "notes[1].txt")).files or ()] == ["notes[1].txt"]
    with pytest.raises(CommandError, match="Input pattern .*/nomatch\\* matches no file or folder\\.$"):
        resolve_input(f"{tree}/nomatch*")
    with pytest.raises(CommandError, match="matches no file or folder but 1 that Spark skips"):
        resolve_input(f"{tree}/.*.txt")


def test_a_delta_table_is_refused_not_read_with_its_old_versions(tmp_path: Path) -> None:
    (tmp_path / "table" / "_delta_log").mkdir(parents=True)
    (tmp_path / "table" / "part-0.parquet").write_bytes(b"")
    with pytest.raises(
        CommandError, match="is a Delta table: its folder also holds the Parquet files of older"
    ):
        resolve_input(str(tmp_path / "table"))


def test_files_spark_cannot_read_are_refused_by_name(tmp_path: Path) -> None:
    (tmp_path / "_notes.txt").write_text("Hi.\n")
    with pytest.raises(CommandError, match="_notes.txt: Spark skips files whose names start with '_' or '.'"):
        resolve_input(str(tmp_path / "_notes.txt"))
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "12:30.txt").write_text("Hi.\n")
    with pytest.raises(CommandError, match="12:30.txt has ':' in its name, which Spark cannot read"):
        resolve_input(str(tmp_path / "in"))


def test_output_may_not_overlap_what_a_pattern_matches(txt_tree: Path) -> None:
    tree = txt_tree
    source = resolve_input(f"{escape(str(tree))}/2026-*")
    for inside in ("2026-01", "2026-01/out", "."):
        with pytest.raises(UsageError, match="overlaps the input"):
            check_output(str(tree / inside), source, overwrite=True)
    check_output(str(tree / "out"), source, overwrite=False)  # beside the matches: fine


def test_an_unquoted_pattern_expanded_by_the_shell_gets_a_hint(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["embed", "--input", "in/a.txt", "in/b.txt", "--output", "out"]) == 2
    assert "quote a pattern so that the shell leaves it to sparkbert" in capsys.readouterr().err


@pytest.mark.spark
def test_spark_reads_exactly_the_files_and_ids_follow_them(spark: Any, txt_tree: Path) -> None:
    """Tiny splits: many partitions, packed by Spark largest first; ids still follow files then lines."""
    (txt_tree / "2026-01" / "big.txt").write_text("".join(f"big line {i}\n" for i in range(300)))
    source = resolve_input(str(txt_tree))
    expected = [line for p in source.files or () for line in p.read_text().splitlines()]
    spark.conf.set("spark.sql.files.maxPartitionBytes", "256")
    spark.conf.set("spark.sql.files.openCostInBytes", "1")
    try:
        df, count = read_input(spark, source, text_column="text", id_column=None)
        assert df.rdd.getNumPartitions() > 10
        rows = sorted(df.collect(), key=lambda r: r.id)
        assert count == len(expected)  # numbering counted them: no second pass needed
    finally:
        spark.conf.unset("spark.sql.files.maxPartitionBytes")
        spark.conf.unset("spark.sql.files.openCostInBytes")
    assert [r.id for r in rows] == list(range(len(expected)))
    assert [r.text for r in rows] == expected
    assert "notes[1].txt" in expected and "{x}.txt" in expected and "p%41.txt" in expected


@pytest.mark.spark
def test_a_path_spark_lists_itself_is_read_at_every_depth_in_the_same_order(
    spark: Any, txt_tree: Path
) -> None:
    """What a remote input gets (Spark lists it, recursively), shown on a local folder."""
    (txt_tree / "README").write_text("no format in the name\n")
    listed_by_spark = Input(str(txt_tree), "txt")
    every = resolve_input(str(txt_tree), "txt")
    expected = [line for p in every.files or () for line in p.read_text().splitlines()]
    df, count = read_input(spark, listed_by_spark, text_column="text", id_column=None)
    rows = sorted(df.collect(), key=lambda r: r.id)
    assert count == len(expected)
    assert [r.text for r in rows] == expected and [r.id for r in rows] == list(range(len(expected)))


PARALLEL = [
    {
        "id": 1,
        "translation": {"de": "Guten Morgen.", "en": "Good morning."},
        "a.b": "literal",
        "a": {"b": "nested"},
    },
    {"id": 2, "translation": {"de": "Danke.", "en": "Thanks."}, "a.b": "literal 2", "a": {"b": "nested 2"}},
]


@pytest.fixture
def nested_inputs(tmp_path: Path) -> dict[str, Path]:
    """The same records as JSON Lines and as Parquet with struct columns (as WMT datasets are)."""
    import json

    import pyarrow as pa
    import pyarrow.parquet as pq

    (tmp_path / "in.jsonl").write_text("".join(json.dumps(r) + "\n" for r in PARALLEL))
    pq.write_table(pa.Table.from_pylist(PARALLEL), tmp_path / "in.parquet")
    return {"jsonl": tmp_path / "in.jsonl", "parquet": tmp_path / "in.parquet"}


def test_fields_inside_structs_are_columns_before_spark(nested_inputs: dict[str, Path]) -> None:
    from sparkbert.cli._schema import check_columns, input_columns

    for fmt, path in nested_inputs.items():
        source = resolve_input(str(path))
        names, certain = input_columns(source) or ([], False)
        assert certain and {"translation.de", "translation.en", "a.b"} <= set(names), fmt
        check_columns(source, text_column="translation.de", id_column="id")
        with pytest.raises(CommandError, match=r"no column 'translation.fr' \(columns: .*translation\.de"):
            check_columns(source, text_column="translation.fr", id_column=None)


@pytest.mark.spark
def test_spark_reads_a_field_inside_a_struct(spark: Any, nested_inputs: dict[str, Path]) -> None:
    for fmt, path in nested_inputs.items():
        source = resolve_input(str(path))
        rows = read_input(spark, source, text_column="translation.de", id_column=None).frame.collect()
        assert [(r.id, r.text) for r in rows] == [(1, "Guten Morgen."), (2, "Danke.")], fmt
        # a top-level column named with a dot comes before a field of that path
        frame, count = read_input(spark, source, text_column="a.b", id_column="translation.en")
        assert count is None  # ids from a column: nothing counted the rows
        rows = frame.collect()
        assert [(r.id, r.text) for r in rows] == [("Good morning.", "literal"), ("Thanks.", "literal 2")], fmt
        with pytest.raises(CommandError, match=r"no column 'translation.fr' \(columns: .*translation\.en"):
            read_input(spark, source, text_column="translation.fr", id_column=None)


@pytest.mark.spark
def test_spark_reads_a_tsv_as_python_csv_reads_it_with_tabs(spark: Any, tmp_path: Path) -> None:
    """Tab-separated, quoted as CSV (what pandas and Python's ``excel-tab`` write): a quoted field
    may hold tabs, newlines and doubled quotes; a UTF-8 byte-order mark is no part of the header."""
    import csv
    import gzip
    import io

    rows = [
        ["id", "text", "lang"],
        ["1", "plain text", "en"],
        ["2", 'a "quoted" word,\tthen a tab', "en"],
        ["3", "two\nlines", "de"],
        ["4", "", "fr"],
    ]
    buffer = io.StringIO()
    csv.writer(buffer, dialect="excel-tab", lineterminator="\n").writerows(rows)
    data = buffer.getvalue().encode()
    assert b'"a ""quoted"" word,\tthen a tab"' in data  # the writer quoted it
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.tsv").write_bytes(b"\xef\xbb\xbf" + data)
    (folder / "b.tsv.gz").write_bytes(gzip.compress(data))
    expected = list(csv.reader(io.StringIO(data.decode()), dialect="excel-tab"))[1:]

    source = resolve_input(str(folder))
    assert source.format == "tsv"
    table = read_input(spark, source, text_column="text", id_column=None)
    got = [(r.id, r.text) for r in table.frame.orderBy("id").collect()]
    # Spark reads the empty field as null (an empty result, no lost row)
    want = [(row[0], row[1] or None) for row in expected] * 2
    assert sorted(got, key=str) == sorted(want, key=str)
    assert table.rows is None  # ids from the 'id' column


@pytest.mark.spark
def test_spark_reads_a_semicolon_csv_with_separator(spark: Any, tmp_path: Path) -> None:
    """Excel's CSV in locales with a decimal comma: fields separated by ';', quoted as CSV."""
    (tmp_path / "export.csv").write_text(
        'nr;text\n1;"Preis: 3,50 €; inkl. MwSt."\n2;Danke\n', encoding="utf-8"
    )
    source = resolve_input(str(tmp_path / "export.csv"), separator=";")
    table = read_input(spark, source, text_column="text", id_column="nr")
    assert [(r.id, r.text) for r in table.frame.collect()] == [
        ("1", "Preis: 3,50 €; inkl. MwSt."),
        ("2", "Danke"),
    ]
