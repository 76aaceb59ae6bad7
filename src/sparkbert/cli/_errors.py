"""How the command fails: one line on stderr, ``sparkbert: error: ...``, and an exit status.

Examples
--------
>>> one_line(CommandError("Input reviews.jsonl does not exist."))
'Input reviews.jsonl does not exist.'
>>> exit_status(UsageError("--batch-size: expected a positive integer")), exit_status(OSError())
(2, 1)
"""

from __future__ import annotations

import re

from sparkbert.errors import InvalidParamError, SparkBertError


class CommandError(SparkBertError):
    """Something the command was asked to do cannot be done (a path, Java); exit status 1.

    Examples
    --------
    >>> error = CommandError("Input texts.txt does not exist.")
    >>> one_line(error), exit_status(error)
    ('Input texts.txt does not exist.', 1)
    """

    __module__ = "sparkbert.cli"  # where it is imported from, and what a traceback names


class UsageError(CommandError):
    """A bad option or value on the command line; exit status 2 (argparse's own)."""

    __module__ = "sparkbert.cli"


def exit_status(error: BaseException) -> int:
    """Return the exit status for an error: 2 for a bad option or value, 1 for anything else.

    Examples
    --------
    >>> from sparkbert.errors import InvalidParamError
    >>> exit_status(InvalidParamError("maxSentenceLength")), exit_status(RuntimeError("boom"))
    (2, 1)
    """
    return 2 if isinstance(error, (UsageError, InvalidParamError)) else 1


def one_line(error: BaseException) -> str:
    """Return the one line that says what went wrong, without a stack trace.

    sparkbert's own errors and ``OSError`` give their message; Spark, Py4J and Python-worker
    errors give their informative line; anything else gives its type and message and a hint
    to run again with ``--verbose``.

    Examples
    --------
    >>> one_line(FileNotFoundError(2, "No such file or directory", "in.txt"))
    "[Errno 2] No such file or directory: 'in.txt'"
    >>> one_line(KeyError("text"))
    "KeyError: 'text' (run again with --verbose for the traceback)"
    """
    if isinstance(error, (SparkBertError, OSError)):
        text = str(error) or type(error).__name__
    elif type(error).__module__.startswith(("pyspark", "py4j")):
        text = _spark_message(str(error))
    else:
        text = f"{type(error).__name__}: {error} (run again with --verbose for the traceback)"
    return " ".join(text.split())


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
