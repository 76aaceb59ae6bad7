"""Pool word embeddings into one vector per sentence (the work of SentenceEmbeddings).

Examples
--------
>>> from sparkbert.annotation import Annotation
>>> s = Annotation("document", 0, 4, "Hi yo", {"sentence": "0"})
>>> w = [Annotation("word_embeddings", 0, 1, "Hi", {"sentence": "0"}, [1.0, 3.0]),
...      Annotation("word_embeddings", 3, 4, "yo", {"sentence": "0"}, [3.0, 5.0])]
>>> pool_sentences([s], w, "AVERAGE", 2)[0].embeddings.tolist()
[2.0, 4.0]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from sparkbert.annotation import SENTENCE_EMBEDDINGS, Annotation
from sparkbert.errors import InvalidParamError

SENTENCE_POOLING = ("AVERAGE", "SUM")


def pool_sentences(
    sentences: Sequence[Annotation], words: Sequence[Annotation], strategy: str, dimension: int
) -> list[Annotation]:
    """Return one ``sentence_embeddings`` annotation per sentence.

    A word belongs to the sentence whose span contains it (and whose ``sentence``
    metadata matches, when both carry it). Words flagged ``noPieces`` carry no
    information and are left out; a sentence without words gets a zero vector.

    Examples
    --------
    >>> from sparkbert.annotation import Annotation
    >>> s = Annotation("document", 0, 1, "Hi", {"sentence": "0"})
    >>> pool_sentences([s], [], "SUM", 3)[0].embeddings.tolist()
    [0.0, 0.0, 0.0]
    """
    if strategy not in SENTENCE_POOLING:
        raise InvalidParamError.for_param("poolingStrategy", strategy, SENTENCE_POOLING)
    out = []
    for i, sentence in enumerate(sentences):
        key = sentence.metadata.get("sentence", str(i))
        vectors = [
            np.asarray(w.embeddings, dtype=np.float32)
            for w in words
            if sentence.begin <= w.begin
            and w.end <= sentence.end
            and w.metadata.get("sentence", key) == key
            and w.metadata.get("noPieces") != "true"
            and len(w.embeddings)
        ]
        if vectors:
            stacked = np.stack(vectors).astype(np.float64)
            vector = (stacked.mean(0) if strategy == "AVERAGE" else stacked.sum(0)).astype(np.float32)
        else:
            vector = np.zeros(dimension, dtype=np.float32)
        metadata = {"sentence": key, "token_count": str(len(vectors))}
        out.append(
            Annotation(SENTENCE_EMBEDDINGS, sentence.begin, sentence.end, sentence.result, metadata, vector)
        )
    return out
