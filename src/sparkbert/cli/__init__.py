"""The ``sparkbert`` command (also ``python -m sparkbert``).

| command | what it does |
| --- | --- |
| ``sparkbert embed --input P --output P`` | embed a ``.txt`` / ``.jsonl`` / ``.csv`` / ``.tsv`` / ``.parquet`` file, folder or glob pattern on Spark, write Parquet or JSON Lines with one vector per token |
| ``sparkbert demo [--model M]`` | embed bundled parallel sentences in 8 languages, print each one's nearest neighbour in another |
| ``sparkbert download NAME_OR_REPO`` | fetch and convert a model into the cache, to copy to machines without network |
| ``sparkbert convert CHECKPOINT OUT`` | convert a Hugging Face checkpoint to a model directory |
| ``sparkbert info MODEL`` | what a model directory holds |

Everything a user can get wrong (a missing input, an unknown model, an output that cannot
be written, no Java, a bad option) is checked before Spark starts and ends with one line on
stderr, ``sparkbert: error: ...``, and exit status 2 (a bad option or value) or 1; nothing
prints a stack trace unless ``--verbose`` asks for it. Spark's own logging is silenced (see
``data/log4j2-cli.properties``); progress shows as Spark's console progress bar when stderr
is a terminal, else as a line every ``--progress-interval`` seconds. Rows whose text is null, empty or unreadable give empty arrays and are
counted as "empty rows" in the summary; they never fail the job.

| module | what it holds |
| --- | --- |
| ``_args`` | the argument parser |
| ``_errors`` | ``CommandError``, ``UsageError``, the one-line message |
| ``_console`` | status lines and logging on stderr |
| ``_io`` | the input's files and format, the checks on input and output, readers, writer |
| ``_glob`` | Hadoop glob patterns, matched locally as Spark matches them |
| ``_job`` | Java, the Spark session, the pipeline, flattening its output |
| ``embed`` | ``sparkbert embed`` |
| ``demo`` | ``sparkbert demo`` and its parallel sentences |
| ``convert_info`` | ``sparkbert convert`` and ``sparkbert info`` |
| ``download`` | ``sparkbert download`` |
| ``_schema`` | the input's columns, read from its files before Spark starts |
| ``_progress`` | progress lines on stderr |

Examples
--------
>>> main(["embed", "--input", "texts.txt"])  # the error line goes to stderr
2
>>> format_of_name("part-00000.jsonl.gz"), format_of_name("notes.TXT"), format_of_name("_SUCCESS")
('jsonl', 'txt', None)
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Sequence

from sparkbert._version import __version__
from sparkbert.cli._args import POOLINGS, make_parser
from sparkbert.cli._console import PROG, configure_logging
from sparkbert.cli._errors import CommandError, UsageError, exit_status, one_line
from sparkbert.cli._io import (
    INPUT_FORMATS,
    OUTPUT_FORMATS,
    Input,
    InputTable,
    check_output,
    format_of_name,
    number_rows,
    read_input,
    resolve_input,
    write_output,
)
from sparkbert.cli._job import MIN_JAVA, build_pipeline, find_java, flatten, start_spark
from sparkbert.cli.convert_info import cmd_convert, cmd_info, model_facts
from sparkbert.cli.demo import cmd_demo, nearest_in_other_language, parallel_sentences
from sparkbert.cli.download import cmd_download
from sparkbert.cli.embed import cmd_embed


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``sparkbert`` command; return its exit status.

    Examples
    --------
    >>> main(["--version"]) == 0
    sparkbert ...
    True
    >>> main(["embed", "--input", "in.txt", "--output", "out", "--batch-size", "0"])  # one line on stderr
    2
    """
    args_list = list(sys.argv[1:] if argv is None else argv)
    verbose = "-v" in args_list or "--verbose" in args_list
    try:
        args, unknown = make_parser().parse_known_args(args_list)
        if unknown:
            where = f"{PROG} {args.command}" if args.command else PROG
            hint = f"see '{where} --help'"
            if args.command == "embed" and not any(a.startswith("-") for a in unknown):
                hint = "--input takes one path; quote a pattern so that the shell leaves it to sparkbert, e.g. --input 'in/*.txt'"
            raise UsageError(f"unrecognized arguments: {' '.join(unknown)} ({hint})")
        if args.version:
            print(f"{PROG} {__version__}")
            return 0
        if args.command is None:
            raise UsageError(
                "a command is needed: embed, demo, download, convert or info (see 'sparkbert --help')"
            )
        configure_logging(args.verbose, args.quiet)
        return int(args.run(args))
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except Exception as error:
        if verbose:
            traceback.print_exc()
        print(f"{PROG}: error: {one_line(error)}", file=sys.stderr)
        return exit_status(error)


__all__ = [
    "INPUT_FORMATS",
    "MIN_JAVA",
    "OUTPUT_FORMATS",
    "POOLINGS",
    "PROG",
    "CommandError",
    "Input",
    "InputTable",
    "UsageError",
    "build_pipeline",
    "check_output",
    "cmd_convert",
    "cmd_demo",
    "cmd_download",
    "cmd_embed",
    "cmd_info",
    "find_java",
    "flatten",
    "format_of_name",
    "main",
    "make_parser",
    "model_facts",
    "nearest_in_other_language",
    "number_rows",
    "parallel_sentences",
    "read_input",
    "resolve_input",
    "start_spark",
    "write_output",
]
