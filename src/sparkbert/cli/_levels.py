"""``sparkbert embed --level sentence|document``: one vector per sentence or per text.

The token level (the default) is ``sparkbert.cli._job.build_pipeline``; the other two run
``BertSentenceEmbeddings`` with the model's own sentence pooling
(``--sentence-pooling``, default ``auto``) and write, per input row:

| level | columns |
| --- | --- |
| ``sentence`` | ``id``, ``text``, ``sentences`` (texts), ``vectors`` (one per sentence) |
| ``document`` | ``id``, ``text``, ``vector`` (one per text; empty for an empty text) |

Examples
--------
>>> [type(s).__name__ for s in build_level_pipeline("/models/labse", "document").getStages()]
['DocumentAssembler', 'BertSentenceEmbeddings']
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sparkbert.runtime.sentence_encoder import SENTENCE_STRATEGIES

if TYPE_CHECKING:
    from pyspark.ml import Pipeline
    from pyspark.sql import Column, DataFrame

#: Values of ``--level``.
LEVELS = ("token", "sentence", "document")
#: Values of ``--sentence-pooling`` (``BertSentenceEmbeddings.poolingStrategy``).
SENTENCE_POOLINGS = SENTENCE_STRATEGIES


def build_level_pipeline(
    model_path: str,
    level: str,
    *,
    pooling: str = "auto",
    batch_size: int | None = None,
    max_sentence_length: int | None = None,
    storage_ref: str | None = None,
    device: str = "auto",
) -> Pipeline:
    """Return DocumentAssembler (→ SentenceDetector) → BertSentenceEmbeddings writing ``vectors``.

    Examples
    --------
    >>> [type(s).__name__ for s in build_level_pipeline("/models/m", "sentence").getStages()]
    ['DocumentAssembler', 'SentenceDetector', 'BertSentenceEmbeddings']
    """
    from pyspark.ml import Pipeline

    from sparkbert.stages.standard import sentence_level_stages

    return Pipeline(
        stages=sentence_level_stages(
            model_path,
            level,
            pooling=pooling,
            batch_size=batch_size,
            max_sentence_length=max_sentence_length,
            storage_ref=storage_ref,
            device=device,
        )
    )


def level_table(df: DataFrame, level: str, model_path: str, **params: Any) -> tuple[DataFrame, list[Column]]:
    """Run the level pipeline on ``df``; return the flat table and its metrics (empty rows, vectors, ...).

    Examples
    --------
    >>> level_table.__name__  # needs a model: see tests/sentence/test_cli_level.py
    'level_table'
    """
    from pyspark.sql import functions as F

    table = flatten_level(build_level_pipeline(model_path, level, **params).fit(df).transform(df), level)
    count = F.size("vectors") if level == "sentence" else F.when(F.size("vector") > 0, 1).otherwise(0)
    metrics = [F.sum(F.when(count == 0, 1).otherwise(0)).alias("empty"), F.sum(count).alias("vectors")]
    if level == "sentence":
        metrics.insert(1, F.sum(count).alias("sentences"))
    return table, metrics


def flatten_level(annotated: DataFrame, level: str) -> DataFrame:
    """Turn the level pipeline's output into plain columns (see the module docstring).

    Examples
    --------
    >>> flatten_level.__name__  # needs a model: see tests/sentence/test_cli_level.py
    'flatten_level'
    """
    from pyspark.sql import functions as F

    vectors = F.coalesce(
        F.transform("vectors", lambda a: a["embeddings"]), F.array().cast("array<array<float>>")
    )
    if level == "sentence":
        texts = F.coalesce(F.transform("vectors", lambda a: a["result"]), F.array().cast("array<string>"))
        return annotated.select("id", "text", texts.alias("sentences"), vectors.alias("vectors"))
    first = F.coalesce(F.try_element_at(vectors, F.lit(1)), F.array().cast("array<float>"))
    return annotated.select("id", "text", first.alias("vector"))


__all__ = ["LEVELS", "SENTENCE_POOLINGS", "build_level_pipeline", "flatten_level", "level_table"]
