"""``sparkbert embed``: embed a file, folder or pattern of texts on Spark and write one row per input row.

Examples
--------
>>> from sparkbert.cli import make_parser
>>> args = make_parser().parse_args(["embed", "--input", "in.txt", "--output", "out", "--format", "jsonl"])
>>> args.run is cmd_embed, args.pooling, args.batch_size
(True, 'first', 8)
"""

from __future__ import annotations

import argparse
import sys
import time

from sparkbert.cli._console import status
from sparkbert.cli._io import check_output, name_list, read_input, resolve_input, write_output
from sparkbert.cli._job import (
    build_pipeline,
    check_runtime,
    find_java,
    flatten,
    load_model,
    model_summary,
    parse_conf,
    start_spark,
)
from sparkbert.cli._levels import level_table
from sparkbert.cli._progress import Progress, default_partitions
from sparkbert.cli._schema import check_columns
from sparkbert.errors import InvalidParamError


def _files(n: int) -> str:
    return f"{n:,} file{'s' if n != 1 else ''}"


def cmd_embed(args: argparse.Namespace) -> int:
    """``sparkbert embed``: embed a file, folder or pattern and write one row per input row.

    Everything a user can get wrong is checked before Spark starts, the cheap checks before
    a model is fetched: the input and its columns (read from the files' schema), the output,
    ``--conf``, ONNX Runtime, Java, then the model and ``--max-sentence-length``. The input is
    split into at least one task per task slot (``default_partitions``,
    or ``--partitions``). Progress goes to stderr (see ``sparkbert.cli._progress``). At the
    end a summary (rows, empty rows, sentences, tokens, seconds, tokens/s, output) goes to
    stdout; the exit status is 0.

    Examples
    --------
    >>> from sparkbert.cli import make_parser
    >>> cmd_embed(make_parser().parse_args(["embed", "--input", "missing.txt", "--output", "out"]))
    Traceback (most recent call last):
    ...
    sparkbert.cli.CommandError: Input missing.txt does not exist.
    """
    source = resolve_input(args.input, args.input_format, args.separator)
    check_columns(source, text_column=args.text_column, id_column=args.id_column)
    check_output(args.output, source, args.overwrite)
    conf = parse_conf(args.conf)
    check_runtime()
    find_java()
    if args.sentence_embeddings and args.level != "token":
        raise InvalidParamError.for_param(
            "--sentence-embeddings",
            True,
            f"only with --level token (--level {args.level} writes one vector per unit)",
        )
    directory = load_model(args.model, args.precision)
    if (args.max_sentence_length or 0) > directory.max_positions:
        raise InvalidParamError.for_param(
            "--max-sentence-length",
            args.max_sentence_length,
            f"an integer from 4 to {directory.max_positions} (the model's max positions)",
        )
    status(args, f"model {directory.path} ({model_summary(directory)})")
    if source.left_out:
        names = name_list([p.name for p in source.left_out], most=3)
        status(
            args,
            f"left out {_files(len(source.left_out))} not named as {source.format} ({names}); "
            f"--input-format {source.format} reads them too",
        )
    files = f"{_files(len(source.files))}, " if source.files is not None and len(source.files) > 1 else ""
    status(
        args,
        f"embedding {args.input} ({files}{source.format}) on {args.master} into {args.output} ({args.format})",
    )
    spark = start_spark(args.master, "sparkbert embed", conf, verbose=args.verbose, quiet=args.quiet)
    try:
        from pyspark.sql import Observation
        from pyspark.sql import functions as F

        df, total = read_input(spark, source, args.text_column, args.id_column)
        if total is None:
            total = df.count()
        slots = spark.sparkContext.defaultParallelism
        partitions = args.partitions or default_partitions(
            slots=slots, partitions=df.rdd.getNumPartitions(), rows=total
        )
        if partitions:
            df = df.repartition(partitions)
        status(args, f"{total:,} rows in {partitions or df.rdd.getNumPartitions()} tasks, {slots} task slots")
        model_path, unit = str(directory.path.absolute()), "tokens" if args.level == "token" else "vectors"
        if args.level == "token":
            pipeline = build_pipeline(
                model_path,
                sentence_embeddings=args.sentence_embeddings,
                pooling=args.pooling,
                batch_size=args.batch_size,
                max_sentence_length=args.max_sentence_length,
                storage_ref=args.model,
                device=args.device,
            )
            table = flatten(pipeline.fit(df).transform(df), sentence_embeddings=args.sentence_embeddings)
            metrics = [
                F.sum(F.when(F.size("tokens") == 0, 1).otherwise(0)).alias("empty"),
                F.sum(F.size("sentences")).alias("sentences"),
                F.sum(F.size("tokens")).alias("tokens"),
            ]
        else:  # one vector per sentence or text: BertSentenceEmbeddings
            table, metrics = level_table(
                df,
                args.level,
                model_path,
                pooling=args.sentence_pooling,
                batch_size=args.batch_size,
                max_sentence_length=args.max_sentence_length,
                storage_ref=args.model,
                device=args.device,
            )
        observation = Observation("sparkbert_embed")
        table = table.observe(observation, F.count(F.lit(1)).alias("rows"), *metrics)
        lines = not args.quiet and args.progress_interval > 0 and not sys.stderr.isatty() and unit == "tokens"
        progress = Progress(spark, total=total, interval=args.progress_interval) if lines else None
        started = time.monotonic()
        if progress is None:
            write_output(table, args.output, args.format, overwrite=args.overwrite)
        else:
            with progress:
                write_output(progress.count(table), args.output, args.format, overwrite=args.overwrite)
        seconds = time.monotonic() - started
        stats = {key: int(value or 0) for key, value in observation.get.items()}
    finally:
        spark.stop()
    rate = stats[unit] / seconds if seconds > 0 else 0.0
    for label, value in (
        ("rows", stats["rows"]),
        ("empty rows", stats["empty"]),
        ("sentences", stats.get("sentences")),
        (unit, stats[unit]),
        ("seconds", f"{seconds:.1f}"),
        (f"{unit}/s", f"{rate:.0f}"),
        ("output", f"{args.output} ({args.format})"),
    ):
        if value is not None:
            print(f"{label + ':':<12}{value}")
    return 0
