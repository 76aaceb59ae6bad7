"""``sparkbert.encode``: texts in, an ``(n, dim)`` numpy array of sentence vectors out, without Spark.

The in-process twin of ``BertSentenceEmbeddings`` (same defaults, same
vectors), shaped like sentence-transformers' ``encode``: row ``i`` is the vector of
``texts[i]``. (The module is not called ``encode`` so that ``sparkbert.encode`` stays the
function.)

Examples
--------
>>> import numpy as np
>>> from tests.conftest import minilm_checkpoint
>>> vectors = encode(["A cat sits on the mat.", "Eine Katze sitzt auf der Matte.", "Stocks fell."],
...                  model=str(minilm_checkpoint()))
>>> vectors.shape, vectors.dtype
((3, 384), dtype('float32'))
>>> similarity = vectors @ vectors.T   # normalised by the model's own configuration
>>> bool(similarity[0, 1] > similarity[0, 2])
True
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import TYPE_CHECKING

from sparkbert.errors import InvalidParamError
from sparkbert.params import check_choice, check_range
from sparkbert.settings import DEFAULT_BATCH_SIZE, DEFAULT_LANG, DEFAULT_MODEL

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray


def _texts(texts: str | Iterable[str]) -> list[str]:
    if isinstance(texts, str):
        return [texts]
    if isinstance(texts, (bytes, bytearray)):
        raise TypeError("encode takes str or an iterable of str, not bytes; decode the text first.")
    out = []
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise TypeError(
                f"encode takes an iterable of str; texts[{i}] is {t!r} ({type(t).__name__}). "
                "Drop or replace missing texts first (an empty string gets the model's empty-input vector)."
            )
        out.append(t)
    return out


def encode(
    texts: str | Iterable[str],
    model: str | os.PathLike[str] = DEFAULT_MODEL,
    *,
    pooling: str = "auto",
    normalize: bool | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    max_sentence_length: int | None = None,
    lang: str = DEFAULT_LANG,
) -> NDArray[np.float32]:
    """Return one vector per text, as a ``(len(texts), dim)`` float32 array.

    Parameters
    ----------
    texts : str or iterable of str
        One string is one text. Each text is embedded whole (not split into sentences); an
        empty string gets the model's vector of an empty input, as sentence-transformers.
    model : str or os.PathLike, default "bert_base_multilingual_cased"
        Anything ``BertSentenceEmbeddings.pretrained``
        takes. A sentence-transformers checkpoint gives what its own ``encode`` gives.
    pooling : {"auto", "cls", "mean", "max", "mean_sqrt_len", "weightedmean", "lasttoken", "pooler"}, default "auto"
        As ``BertSentenceEmbeddings.poolingStrategy``.
    normalize : bool, optional
        L2-normalise; by default what the checkpoint's configuration says, else False.
    batch_size : int, default 8
        Most sequences per ONNX Runtime call.
    max_sentence_length : int, optional
        Window length in pieces; longer texts use several windows (never truncated).
    lang : str, default "xx"
        Language of a registry name.

    Raises
    ------
    TypeError
        A text is not a string (``None`` included), naming its index.
    InvalidParamError
        A pooling the model cannot serve (naming what it has), or a bad number.

    Examples
    --------
    >>> encode(["ok", None], model="any")
    Traceback (most recent call last):
    ...
    TypeError: encode takes an iterable of str; texts[1] is None (NoneType). Drop or replace missing texts first (an empty string gets the model's empty-input vector).
    """
    import numpy as np

    from sparkbert.model.resolve import resolve_once
    from sparkbert.runtime.sentence_encoder import SENTENCE_STRATEGIES
    from sparkbert.stages.bert_sentence_embeddings import BertSentenceEmbeddings

    items = _texts(texts)
    check_choice("pooling", pooling, SENTENCE_STRATEGIES)
    check_range("batch_size", batch_size, 1)
    if normalize is not None and not isinstance(normalize, bool):
        raise InvalidParamError.for_param("normalize", normalize, "True, False or None")
    stage = BertSentenceEmbeddings(poolingStrategy=pooling, batchSize=batch_size, normalize=normalize)
    stage.setModelPath(resolve_once(os.fspath(model), lang))
    if max_sentence_length is not None:
        stage.setMaxSentenceLength(check_range("max_sentence_length", max_sentence_length, 4))
    stage._resolved_pooling()  # a strategy the model cannot serve fails before any work
    encoder = stage._annotator(None, None)
    if not items:
        return np.zeros((0, stage.getDimension()), dtype=np.float32)
    vectors, _, _ = encoder.encode_texts(items)  # type: ignore[attr-defined]
    return np.asarray(vectors, dtype=np.float32)


__all__ = ["encode"]
