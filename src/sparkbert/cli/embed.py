"""``sparkbert embed``: embed a file or folder of texts on Spark and write one row per input row.

Examples
--------
>>> from sparkbert.cli import make_parser
>>> args = make_parser().parse_args(["embed", "--input", "in.txt", "--output", "out", "--format", "jsonl"])
>>> args.run is cmd_embed, args.pooling, args.batch_size
(True, 'first', 8)
"""

from __future__ import annotations

import argparse
import time

from sparkbert.cli._console import status
from sparkbert.cli._io import check_output, detect_format, read_input, write_output
from sparkbert.cli._job import build_pipeline, find_java, flatten, load_model, model_summary, start_spark
from sparkbert.errors import InvalidParamError


def cmd_embed(args: argparse.Namespace) -> int:
    """``sparkbert embed``: embed a file or folder and write one row per input row.

    Everything a user can get wrong is checked before Spark starts: the input, the output,
    Java, the model and ``--max-sentence-length``. At the end a summary (rows, empty rows,
    sentences, tokens, seconds, tokens/s, output) goes to stdout; the exit status is 0.

    Examples
    --------
    >>> from sparkbert.cli import make_parser
    >>> cmd_embed(make_parser().parse_args(["embed", "--input", "missing.txt", "--output", "out"]))
    Traceback (most recent call last):
    ...
    sparkbert.cli.CommandError: Input missing.txt does not exist.
    """
    fmt = detect_format(args.input, args.input_format)
    check_output(args.output, args.input, args.overwrite)
    find_java()
    directory = load_model(args.model, args.precision)
    if args.max_sentence_length > directory.max_positions:
        raise InvalidParamError.for_param(
            "--max-sentence-length",
            args.max_sentence_length,
            f"an integer from 4 to {directory.max_positions} (the model's max positions)",
        )
    status(args, f"model {directory.path} ({model_summary(directory)})")
    status(args, f"embedding {args.input} ({fmt}) on {args.master} into {args.output} ({args.format})")
    spark = start_spark(args.master, "sparkbert embed", args.conf, verbose=args.verbose, quiet=args.quiet)
    try:
        from pyspark.sql import Observation
        from pyspark.sql import functions as F

        df = read_input(spark, args.input, fmt, args.text_column, args.id_column)
        if args.partitions:
            df = df.repartition(args.partitions)
        pipeline = build_pipeline(
            str(directory.path.absolute()),
            sentence_embeddings=args.sentence_embeddings,
            pooling=args.pooling,
            batch_size=args.batch_size,
            max_sentence_length=args.max_sentence_length,
            storage_ref=args.model,
        )
        table = flatten(pipeline.fit(df).transform(df), sentence_embeddings=args.sentence_embeddings)
        observation = Observation("sparkbert_embed")
        table = table.observe(
            observation,
            F.count(F.lit(1)).alias("rows"),
            F.sum(F.when(F.size("tokens") == 0, 1).otherwise(0)).alias("empty"),
            F.sum(F.size("sentences")).alias("sentences"),
            F.sum(F.size("tokens")).alias("tokens"),
        )
        started = time.monotonic()
        write_output(table, args.output, args.format, overwrite=args.overwrite)
        seconds = time.monotonic() - started
        stats = {key: int(value or 0) for key, value in observation.get.items()}
    finally:
        spark.stop()
    rate = stats["tokens"] / seconds if seconds > 0 else 0.0
    for label, value in (
        ("rows", stats["rows"]),
        ("empty rows", stats["empty"]),
        ("sentences", stats["sentences"]),
        ("tokens", stats["tokens"]),
        ("seconds", f"{seconds:.1f}"),
        ("tokens/s", f"{rate:.0f}"),
        ("output", f"{args.output} ({args.format})"),
    ):
        print(f"{label + ':':<12}{value}")
    return 0
