"""``sparkbert.embed``: texts in, a pandas DataFrame of vectors out, in one line, without Spark.

Builds DocumentAssembler → SentenceDetector → Tokenizer → BertEmbeddings
(→ SentenceEmbeddings) and runs it with ``LightPipeline`` in this
Python process: no SparkSession is created or needed and no JVM is started. The vectors
are the ones ``pipeline.transform(df)`` gives for the same settings.

Examples
--------
>>> embed([], model_dir).columns.tolist()
['text_index', 'sentence', 'token', 'begin', 'end', 'vector']
>>> COLUMNS
('text_index', 'sentence', 'token', 'begin', 'end', 'vector')
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from sparkbert.annotation import Annotation
from sparkbert.errors import InvalidParamError
from sparkbert.params import check_choice, check_range
from sparkbert.runtime.alignment import POOLING_STRATEGIES
from sparkbert.settings import DEFAULT_BATCH_SIZE, DEFAULT_LANG, DEFAULT_MODEL

if TYPE_CHECKING:
    import pandas as pd

    from sparkbert.light import LightPipeline

#: The columns of ``embed``'s DataFrame, in order.
COLUMNS = ("text_index", "sentence", "token", "begin", "end", "vector")


def _texts(texts: str | Iterable[str | None]) -> list[str | None]:
    if isinstance(texts, str):
        return [texts]
    if isinstance(texts, (bytes, bytearray)):
        raise TypeError("embed takes str or an iterable of str, not bytes; decode the text first.")
    out: list[str | None] = []
    for t in texts:
        if t is None or (isinstance(t, float) and t != t):  # None, NaN (pandas' missing value)
            out.append(None)
        elif isinstance(t, str):
            out.append(t)
        else:
            raise TypeError(f"embed takes str or an iterable of str (None allowed); got {type(t).__name__}.")
    return out


def light_pipeline(
    model: str | os.PathLike[str] = DEFAULT_MODEL,
    *,
    pooling: str = "first",
    sentence_embeddings: bool = False,
    lang: str = DEFAULT_LANG,
    batch_size: int = DEFAULT_BATCH_SIZE,
    max_sentence_length: int | None = None,
) -> LightPipeline:
    """Return the ``LightPipeline`` that ``embed`` runs.

    Output columns: ``document``, ``sentence``, ``token``, ``embeddings`` and, with
    ``sentence_embeddings``, ``sentence_embeddings``.

    Examples
    --------
    >>> light_pipeline(model_dir).outputCols
    ['document', 'sentence', 'token', 'embeddings']
    """
    from pyspark.ml import PipelineModel

    from sparkbert.light import LightPipeline
    from sparkbert.model.resolve import resolve_once
    from sparkbert.stages.standard import standard_stages

    # check cheap arguments before resolving (maybe downloading) the model
    check_choice("pooling", pooling, POOLING_STRATEGIES)
    check_range("batch_size", batch_size, 1)
    if max_sentence_length is not None:
        check_range("max_sentence_length", max_sentence_length, 4)
    if not isinstance(sentence_embeddings, bool):
        raise InvalidParamError.for_param("sentence_embeddings", sentence_embeddings, "True or False")
    stages = standard_stages(
        resolve_once(os.fspath(model), lang),
        sentence_embeddings=sentence_embeddings,
        pooling=pooling,
        batch_size=batch_size,
        max_sentence_length=max_sentence_length,
        storage_ref=os.fspath(model),
    )
    return LightPipeline(PipelineModel(stages=stages))


def embed(
    texts: str | Iterable[str | None],
    model: str | os.PathLike[str] = DEFAULT_MODEL,
    *,
    pooling: str = "first",
    sentence_embeddings: bool = False,
    lang: str = DEFAULT_LANG,
    batch_size: int = DEFAULT_BATCH_SIZE,
    max_sentence_length: int | None = None,
) -> pd.DataFrame:
    """Embed texts with BERT in this process and return one row per token (or sentence).

    Parameters
    ----------
    texts : str or iterable of str
        The texts (a list, a pandas Series, ...). ``None``, NaN, empty and whitespace-only
        texts give no rows.
    model : str or os.PathLike, default "bert_base_multilingual_cased"
        Anything ``BertEmbeddings.pretrained``
        takes: a registry name, a Hub repo id, a local model directory or checkpoint folder.
        Resolved (and verified) once per process.
    pooling : {"first", "mean", "last"}, default "first"
        How a token's word pieces are pooled into its vector.
    sentence_embeddings : bool, default False
        One row per sentence, its vector the average of its tokens' vectors
        (``SentenceEmbeddings``), instead of one row per token.
    lang : str, default "xx"
        Language of a registry name.
    batch_size : int, default 8
        Most sequences per ONNX Runtime call.
    max_sentence_length : int, optional
        Longest sequence in pieces; longer sentences are embedded in overlapping windows.
        Default: 128, or the model's max positions when it has fewer.

    Returns
    -------
    pandas.DataFrame
        Columns ``text_index`` (position of the text in ``texts``), ``sentence`` (index of the
        sentence in its text), ``token`` (the token's text; with ``sentence_embeddings`` the
        sentence's text), ``begin`` and ``end`` (character offsets in the text, ``end``
        inclusive), ``vector`` (a ``numpy.float32`` array).

    Examples
    --------
    ``model_dir`` is a model directory, checkpoint folder, registry name or Hub id:

    >>> df = embed(["Hello world.", "Hallo Welt. Zweiter Satz!"], model_dir)
    >>> df[["text_index", "sentence", "token"]].head(3)
       text_index  sentence  token
    0           0         0  Hello
    1           0         0  world
    2           0         0      .
    """
    import numpy as np
    import pandas as pd

    items = _texts(texts)
    light = light_pipeline(
        model,
        pooling=pooling,
        sentence_embeddings=sentence_embeddings,
        lang=lang,
        batch_size=batch_size,
        max_sentence_length=max_sentence_length,
    )
    column = "sentence_embeddings" if sentence_embeddings else "embeddings"
    rows: dict[str, list[Any]] = {c: [] for c in COLUMNS}
    for index, result in enumerate(light.fullAnnotate(items)):
        annotations: list[Annotation] = result[column]
        for a in annotations:
            rows["text_index"].append(index)
            rows["sentence"].append(int(a.metadata.get("sentence", "0")))
            rows["token"].append(a.result)
            rows["begin"].append(a.begin)
            rows["end"].append(a.end)
            rows["vector"].append(np.asarray(a.embeddings, dtype=np.float32))
    frame = pd.DataFrame(
        {
            "text_index": pd.Series(rows["text_index"], dtype="int64"),
            "sentence": pd.Series(rows["sentence"], dtype="int64"),
            "token": pd.Series(rows["token"], dtype=object),
            "begin": pd.Series(rows["begin"], dtype="int64"),
            "end": pd.Series(rows["end"], dtype="int64"),
            "vector": pd.Series(rows["vector"], dtype=object),
        }
    )
    return frame
