"""The ``sparkbert`` argument parser: every command, its options and its defaults.

A usage error raises ``UsageError`` (one line, exit status 2) instead
of printing argparse's usage and exiting.

Examples
--------
>>> args = make_parser().parse_args(["demo", "--master", "local[2]"])
>>> args.command, args.master, args.model
('demo', 'local[2]', 'bert_base_multilingual_cased')
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any, NoReturn

from sparkbert.cli._console import PROG
from sparkbert.cli._errors import UsageError
from sparkbert.cli._io import INPUT_FORMATS, OUTPUT_FORMATS
from sparkbert.cli._levels import LEVELS, SENTENCE_POOLINGS
from sparkbert.cli.convert_info import cmd_convert, cmd_info
from sparkbert.cli.demo import cmd_demo
from sparkbert.cli.download import cmd_download
from sparkbert.cli.embed import cmd_embed
from sparkbert.settings import DEFAULT_BATCH_SIZE, DEFAULT_MAX_SENTENCE_LENGTH, DEFAULT_MODEL

POOLINGS = ("first", "mean", "last")
PRECISIONS = ("fp32", "int8", "fp16")
DEVICES = ("auto", "cpu", "cuda")
#: Seconds between progress lines when stderr is not a terminal.
DEFAULT_PROGRESS_INTERVAL = 10.0


class _Help(argparse.ArgumentDefaultsHelpFormatter):
    """Each option's help ends with its default, unless it has none (or already says it)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        if action.default in (None, False, []) or action.default is argparse.SUPPRESS:
            return action.help or ""
        return super()._get_help_string(action) or ""


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error raises ``UsageError`` (one line) instead of exiting."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see '{self.prog} --help')")


def _seconds(text: str) -> float:
    """A number of seconds, 0 or more, for argparse's ``type``.

    Examples
    --------
    >>> _seconds("2.5")
    2.5
    """
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds (0 or more), got {text!r}") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a number of seconds (0 or more), got {text!r}")
    return value


def _separator(text: str) -> str:
    """A field separator for argparse's ``type``: one character; ``tab`` or ``\\t`` for a tab.

    Examples
    --------
    >>> _separator(";"), _separator("tab"), _separator("\\t")
    (';', '\\t', '\\t')
    """
    value = "\t" if text in ("tab", "\\t") else text
    if len(value) != 1 or value in '"\r\n':
        raise argparse.ArgumentTypeError(
            f"expected one character other than a quote or a line break (tab: 'tab'), got {text!r}"
        )
    return value


def _positive(text: str) -> int:
    """An ``int`` of at least 1, for argparse's ``type``.

    Examples
    --------
    >>> _positive("8")
    8
    """
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _summary(command: Callable[..., Any]) -> str:
    """The first line of a command's docstring: its ``--help`` description.

    Examples
    --------
    >>> _summary(cmd_info)
    '``sparkbert info``: describe a model directory (or a cached registry / Hub model).'
    """
    return (command.__doc__ or "").strip().splitlines()[0]


def _command(
    sub: Any, name: str, parents: list[argparse.ArgumentParser], help: str, run: Callable[..., Any]
) -> argparse.ArgumentParser:
    """Add subcommand ``name``: its help line, the first paragraph of ``run``'s docstring, defaults shown."""
    parser: argparse.ArgumentParser = sub.add_parser(
        name, parents=parents, help=help, description=_summary(run), formatter_class=_Help
    )
    parser.set_defaults(run=run)
    return parser


def make_parser() -> argparse.ArgumentParser:
    """Return the ``sparkbert`` argument parser.

    Each command's namespace has ``run``, the function that runs it.

    Examples
    --------
    >>> make_parser().parse_args(["embed", "--input", "a.txt", "--output", "out"]).master
    'local[*]'
    >>> make_parser().parse_args(["embed", "--input", "a.txt", "--output", "out", "--batch-size", "0"])
    Traceback (most recent call last):
    ...
    sparkbert.cli.UsageError: argument --batch-size: expected a positive integer, got '0' (see ...)
    """
    common = _Parser(add_help=False)
    common.add_argument("-v", "--verbose", action="store_true", help="library and Spark warnings, tracebacks")
    common.add_argument("-q", "--quiet", action="store_true", help="no status lines, no progress")
    spark = _Parser(add_help=False)
    spark.add_argument("--master", default="local[*]", help="Spark master URL")
    spark.add_argument(
        "--conf", action="append", default=[], metavar="KEY=VALUE", help="a Spark setting (repeatable)"
    )
    spark.add_argument(
        "--model",
        default=DEFAULT_MODEL,
        help="registry name, Hub repo id, model directory or checkpoint",
    )
    spark.add_argument(
        "--precision",
        choices=PRECISIONS,
        help="weights (default: a model directory's own, else fp32; fp16: for GPUs)",
    )
    spark.add_argument(
        "--device", choices=DEVICES, default="auto", help="where ONNX Runtime runs, decided on each executor"
    )

    parser = _Parser(prog=PROG, description="Multilingual BERT embeddings on Spark, with ONNX Runtime.")
    parser.add_argument("-V", "--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    embed = _command(sub, "embed", [common, spark], "embed a file, folder or pattern of texts", cmd_embed)
    embed.add_argument(
        "--input",
        required=True,
        help="a .txt (one text per line), .jsonl, .csv, .tsv or .parquet file, a folder (read at every depth) or a quoted pattern ('logs/*.jsonl')",
    )
    embed.add_argument("--output", required=True, help="the folder to write")
    embed.add_argument("--input-format", choices=INPUT_FORMATS, help="when file names do not tell")
    embed.add_argument(
        "--separator",
        type=_separator,
        help="field separator of a .csv or .tsv input, one character: ';' or '|' (default: ',' for .csv, tab for .tsv)",
    )
    embed.add_argument("--format", choices=OUTPUT_FORMATS, default="parquet", help="output format")
    embed.add_argument(
        "--text-column",
        default="text",
        help="column holding the text; a.b: field b of an object or struct column a (translation.de)",
    )
    embed.add_argument(
        "--id-column", help="column holding a row id (default: 'id' if present, else the row number)"
    )
    embed.add_argument(
        "--level", choices=LEVELS, default="token", help="one vector per token, per sentence or per text"
    )
    embed.add_argument("--pooling", choices=POOLINGS, default="first", help="pieces → token vector")
    embed.add_argument(
        "--sentence-pooling",
        choices=SENTENCE_POOLINGS,
        default="auto",
        help="--level sentence/document: the model's own (auto) or a strategy of BertSentenceEmbeddings",
    )
    embed.add_argument(
        "--sentence-embeddings", action="store_true", help="also write one vector per sentence"
    )
    embed.add_argument(
        "--batch-size", type=_positive, default=DEFAULT_BATCH_SIZE, help="sentences per ONNX Runtime call"
    )
    embed.add_argument(
        "--max-sentence-length",
        type=_positive,
        help=f"pieces per window (default: {DEFAULT_MAX_SENTENCE_LENGTH} or the model's max positions when fewer; sentence levels: the model's own)",
    )
    embed.add_argument(
        "--partitions",
        type=_positive,
        help="split the input into N tasks (default: at least one per task slot, at most 2,000 rows each)",
    )
    embed.add_argument(
        "--progress-interval",
        type=_seconds,
        default=DEFAULT_PROGRESS_INTERVAL,
        metavar="SECONDS",
        help="seconds between progress lines on stderr when it is not a terminal (0: none)",
    )
    embed.add_argument("--overwrite", action="store_true", help="replace the output if it exists")

    _command(sub, "demo", [common, spark], "nearest neighbours across languages", cmd_demo)

    download = _command(
        sub,
        "download",
        [common],
        "fetch and convert a model into the cache, for machines without network",
        cmd_download,
    )
    download.add_argument("model", metavar="NAME_OR_REPO", help="a registry name or a Hub repo id org/name")
    download.add_argument("--revision", help="branch, tag or commit (default: the registry's pin, or main)")
    download.add_argument("--precision", choices=PRECISIONS, default="fp32", help="weights")
    download.add_argument("--cache-dir", help="cache root (default: SPARKBERT_HOME, else ~/.cache/sparkbert)")
    download.add_argument("--json", action="store_true", help="print the result as JSON")

    convert = _command(sub, "convert", [common], "checkpoint → model directory", cmd_convert)
    convert.add_argument("checkpoint", help="a Hugging Face BERT checkpoint folder (safetensors)")
    convert.add_argument("out", help="the model directory to create")
    convert.add_argument("--precision", choices=PRECISIONS, default="fp32", help="weights")
    convert.add_argument("--json", action="store_true", help="print the result as JSON")

    info = _command(sub, "info", [common], "describe a model directory", cmd_info)
    info.add_argument("model", help="a model directory, or the name of a cached model")
    info.add_argument("--json", action="store_true", help="print as JSON")
    return parser
