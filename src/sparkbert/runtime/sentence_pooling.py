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


def owners(sentences: Sequence[Annotation], words: Sequence[Annotation]) -> list[int]:
    """Return, per word, the index of the annotation it belongs to (-1: none).

    A word belongs to the annotation whose span contains it, whatever sentence it came
    from: over a whole document every token of the document counts. Only when several
    annotations contain it (overlapping spans) does the ``sentence`` metadata decide.

    Examples
    --------
    >>> from sparkbert.annotation import Annotation
    >>> doc = [Annotation("document", 0, 10, "Hi. Hallo.", {"sentence": "0"})]
    >>> words = [Annotation("word_embeddings", 0, 1, "Hi", {"sentence": "0"}),
    ...          Annotation("word_embeddings", 4, 8, "Hallo", {"sentence": "1"})]
    >>> owners(doc, words)
    [0, 0]
    """
    keys = [s.metadata.get("sentence", str(i)) for i, s in enumerate(sentences)]
    out = []
    for w in words:
        holders = [i for i, s in enumerate(sentences) if s.begin <= w.begin and w.end <= s.end]
        if len(holders) > 1:
            key = w.metadata.get("sentence")
            holders = [i for i in holders if keys[i] == key] or holders
        out.append(holders[0] if holders else -1)
    return out


def pool_sentences(
    sentences: Sequence[Annotation], words: Sequence[Annotation], strategy: str, dimension: int
) -> list[Annotation]:
    """Return one ``sentence_embeddings`` annotation per sentence (or document).

    Each word is pooled into the annotation that contains it (see ``owners``), so a
    document's vector averages every token of the document. Words flagged ``noPieces``
    carry no information and are left out; an annotation without words gets a zero vector.

    Examples
    --------
    >>> from sparkbert.annotation import Annotation
    >>> s = Annotation("document", 0, 1, "Hi", {"sentence": "0"})
    >>> pool_sentences([s], [], "SUM", 3)[0].embeddings.tolist()
    [0.0, 0.0, 0.0]
    """
    if strategy not in SENTENCE_POOLING:
        raise InvalidParamError.for_param("poolingStrategy", strategy, SENTENCE_POOLING)
    groups: list[list[np.ndarray]] = [[] for _ in sentences]
    for w, owner in zip(words, owners(sentences, words)):
        if owner >= 0 and w.metadata.get("noPieces") != "true" and len(w.embeddings):
            groups[owner].append(np.asarray(w.embeddings, dtype=np.float32))
    out = []
    for i, (sentence, vectors) in enumerate(zip(sentences, groups)):
        if vectors:
            stacked = np.stack(vectors).astype(np.float64)
            vector = (stacked.mean(0) if strategy == "AVERAGE" else stacked.sum(0)).astype(np.float32)
        else:
            vector = np.zeros(dimension, dtype=np.float32)
        metadata = {"sentence": sentence.metadata.get("sentence", str(i)), "token_count": str(len(vectors))}
        out.append(
            Annotation(SENTENCE_EMBEDDINGS, sentence.begin, sentence.end, sentence.result, metadata, vector)
        )
    return out
