"""Progress of ``sparkbert embed`` where no one watches a terminal (nohup, Airflow, a scheduler).

On a terminal Spark draws its console progress bar. Elsewhere a line goes to stderr every
``--progress-interval`` seconds (default 10)::

    sparkbert: 4,000/10,000 rows (40%), 61,220 tokens, 38 rows/s, 583 tokens/s, ETA 2m38s

Rows and tokens are counted by two Spark accumulators as each task finishes; the input is
split into tasks of at most ``ROWS_PER_TASK`` rows by default (``default_partitions``),
so the count moves while the job runs and every task slot has work.

Examples
--------
>>> progress_line(rows=4000, tokens=61220, total=10000, seconds=105.0)
'4,000/10,000 rows (40%), 61,220 tokens, 38 rows/s, 583 tokens/s, ETA 2m38s'
>>> default_partitions(slots=8, partitions=1, rows=100_000)  # one gzipped file: 50 tasks
50
"""

from __future__ import annotations

import math
import sys
import threading
import time
from types import TracebackType
from typing import IO, TYPE_CHECKING

from sparkbert.cli._console import PROG

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

#: Largest task the input is split into by default, in rows.
ROWS_PER_TASK = 2000


def default_partitions(*, slots: int, partitions: int, rows: int) -> int | None:
    """Return how many tasks to split the input into, or None to keep its partitions.

    At least one task per slot, and tasks of at most ``ROWS_PER_TASK`` rows; an input that
    already has that many partitions is kept as it is (no shuffle).

    Examples
    --------
    >>> default_partitions(slots=2, partitions=1, rows=7), default_partitions(slots=2, partitions=64, rows=7)
    (2, None)
    """
    wanted = max(slots, math.ceil(rows / ROWS_PER_TASK), 1)
    return wanted if partitions < wanted else None


def _duration(seconds: float) -> str:
    """Format a duration for a person.

    Examples
    --------
    >>> _duration(42.4), _duration(158), _duration(3 * 3600 + 120)
    ('42s', '2m38s', '3h02m')
    """
    s = round(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{(s % 3600) // 60:02d}m"


def progress_line(*, rows: int, tokens: int, total: int | None, seconds: float) -> str:
    """Return one progress line: rows and tokens done, rates and the estimated time left.

    Examples
    --------
    >>> progress_line(rows=0, tokens=0, total=500, seconds=10.0)
    '0/500 rows (0%), 0 tokens, 0 rows/s, 0 tokens/s, ETA unknown'
    """
    rate = rows / seconds if seconds > 0 else 0.0
    done = f"{rows:,}/{total:,} rows ({100 * rows / total:.0f}%)" if total else f"{rows:,} rows"
    line = (
        f"{done}, {tokens:,} tokens, {rate:.0f} rows/s, {tokens / seconds if seconds > 0 else 0:.0f} tokens/s"
    )
    if total:
        line += f", ETA {_duration((total - rows) / rate) if rate > 0 else 'unknown'}"
    return line


class Progress:
    """Count rows and tokens of a table as Spark writes it; print a line every ``interval`` seconds.

    Use ``count`` on the table to write, then write it inside ``with progress:``.

    Examples
    --------
    >>> from pyspark.sql import SparkSession
    >>> import io
    >>> spark = SparkSession.builder.master("local[1]").getOrCreate()
    >>> table = spark.createDataFrame([(["Hi", "!"],), (["Bye"],)], "tokens array<string>")
    >>> out = io.StringIO()
    >>> progress = Progress(spark, total=2, interval=0.05, stream=out)
    >>> with progress:
    ...     _ = progress.count(table).collect()
    ...     time.sleep(0.2)
    >>> out.getvalue().splitlines()[-1]
    'sparkbert: 2/2 rows (100%), 3 tokens, ... rows/s, ... tokens/s, ETA 0s'
    """

    def __init__(
        self, spark: SparkSession, *, total: int | None, interval: float, stream: IO[str] | None = None
    ) -> None:
        context = spark.sparkContext
        self._rows = context.accumulator(0)
        self._tokens = context.accumulator(0)
        self.total = total
        self.interval = interval
        self._stream = stream
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._started = time.monotonic()

    def count(self, table: DataFrame) -> DataFrame:
        """Return ``table`` counting its rows and the entries of its ``tokens`` column as they pass."""
        from pyspark.sql import functions as F

        rows, tokens = self._rows, self._tokens

        def tally(n: int) -> bool:
            rows.add(1)
            tokens.add(max(n, 0))
            return True

        tally.__annotations__ = {}  # pyspark 4 would read the hints as an Arrow UDF's signature
        counted = F.udf(tally, "boolean").asNondeterministic()
        return table.filter(counted(F.size("tokens")))

    def line(self) -> str:
        """The progress line now."""
        seconds = time.monotonic() - self._started
        return progress_line(
            rows=int(self._rows.value), tokens=int(self._tokens.value), total=self.total, seconds=seconds
        )

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            print(f"{PROG}: {self.line()}", file=self._stream or sys.stderr, flush=True)

    def __enter__(self) -> Progress:
        self._started = time.monotonic()
        self._thread = threading.Thread(target=self._run, name="sparkbert-progress", daemon=True)
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
