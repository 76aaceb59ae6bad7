"""Embed a text dataset with BERT on a Spark cluster: a plain ``spark-submit`` job.

Reads JSON Lines (``.jsonl``/``.json``) or Parquet with an ``id`` and a ``text`` column, runs
DocumentAssembler → SentenceDetector → Tokenizer → BertEmbeddings, and writes Parquet with one
row per input row: ``id``, ``tokens`` (``array<string>``), ``begins``/``ends`` (character
offsets, ``end`` inclusive) and ``vectors`` (``array<array<float>>``, one vector per token).

The model is resolved once, on the driver (a local model directory or checkpoint folder, a
registry name or a Hub repo id); BertEmbeddings ships the model directory to the executors
itself, so they need neither network access nor a shared filesystem::

    spark-submit --master spark://HOST:7077 \\
        --conf spark.executorEnv.PYSPARK_PYTHON=python3 \\
        examples/embed_job.py --input texts.jsonl --output embeddings.parquet \\
        --model bert_base_multilingual_cased

See docs/cluster.md.
"""

from __future__ import annotations

import argparse
import logging
import time

from pyspark.ml import Pipeline
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from sparkbert import BertEmbeddings, DocumentAssembler, SentenceDetector, Tokenizer


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="embed_job.py", description=__doc__.splitlines()[0])
    parser.add_argument("--input", required=True, help="JSON Lines or Parquet file, folder or glob pattern")
    parser.add_argument("--output", required=True, help="Parquet folder to write (replaced if it exists)")
    parser.add_argument("--model", default="bert_base_multilingual_cased", help="model name or path")
    parser.add_argument("--text-column", default="text")
    parser.add_argument("--id-column", default="id")
    parser.add_argument("--partitions", type=int, default=0, help="repartition the input (0: keep)")
    parser.add_argument(
        "--batch-size",
        type=int,
        default=8,
        help="sentences per ONNX Runtime call (8: best on CPU; raise on a GPU)",
    )
    return parser.parse_args(argv)


def read_input(spark: SparkSession, path: str) -> DataFrame:
    # A folder is read at every depth: Spark alone reads one level of it (partition folders
    # ``key=value`` aside), and a corpus kept in year folders would give no rows at all.
    reader = spark.read.option("recursiveFileLookup", "true")
    if path.rstrip("/").endswith(".parquet"):
        return reader.parquet(path)
    return reader.json(path)


def embed(df: DataFrame, model: str, text_column: str = "text", batch_size: int = 8) -> DataFrame:
    """Return ``df`` with ``tokens``, ``begins``, ``ends`` and ``vectors`` columns added."""
    pipeline = Pipeline(
        stages=[
            DocumentAssembler().setInputCol(text_column).setOutputCol("document"),
            SentenceDetector().setInputCols("document").setOutputCol("sentence"),
            Tokenizer().setInputCols("sentence").setOutputCol("token"),
            BertEmbeddings.pretrained(model)
            .setBatchSize(batch_size)
            .setInputCols("sentence", "token")
            .setOutputCol("embeddings"),
        ]
    )
    out = pipeline.fit(df).transform(df)
    return out.select(
        *df.columns,
        F.transform("embeddings", lambda a: a["result"]).alias("tokens"),
        F.transform("embeddings", lambda a: a["begin"]).alias("begins"),
        F.transform("embeddings", lambda a: a["end"]).alias("ends"),
        F.transform("embeddings", lambda a: a["embeddings"]).alias("vectors"),
    )


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    spark = SparkSession.builder.appName("sparkbert-embed-job").getOrCreate()
    df = read_input(spark, args.input).select(args.id_column, args.text_column)
    if args.partitions:
        df = df.repartition(args.partitions)
    start = time.monotonic()
    embed(df, args.model, args.text_column, args.batch_size).write.mode("overwrite").parquet(args.output)
    logging.getLogger("embed_job").info("wrote %s in %.1fs", args.output, time.monotonic() - start)
    spark.stop()


if __name__ == "__main__":
    main()
