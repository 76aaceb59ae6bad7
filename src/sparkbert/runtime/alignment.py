"""Map word pieces to token annotations, plan windows for long sentences, pool vectors.

All pure numpy; nothing here knows about Spark or ONNX Runtime.

Examples
--------
>>> import numpy as np
>>> lo, hi = token_piece_ranges(np.array([[0, 5], [6, 11]]), np.array([0, 3, 6]), np.array([3, 5, 11]))
>>> lo.tolist(), hi.tolist()
([0, 2], [2, 3])
"""

from __future__ import annotations

import numpy as np

from sparkbert.errors import InvalidParamError

POOLING_STRATEGIES = ("first", "mean", "last")


def token_piece_ranges(
    token_spans: np.ndarray, piece_starts: np.ndarray, piece_ends: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Return, per token, the half-open range ``[lo, hi)`` of pieces overlapping it.

    ``token_spans`` is an ``(m, 2)`` array of ``[begin, end)`` character spans and the
    piece spans are sorted, as a tokenizer emits them. A token no piece overlaps
    (only characters the normalizer removes) gets ``lo == hi``.

    Examples
    --------
    >>> import numpy as np
    >>> token_piece_ranges(np.array([[0, 1], [2, 3]]), np.array([0]), np.array([1]))
    (array([0, 1]), array([1, 1]))
    """
    spans = np.asarray(token_spans, dtype=np.int64).reshape(-1, 2)
    if len(piece_starts) == 0:
        zero = np.zeros(len(spans), dtype=np.int64)
        return zero, zero.copy()
    # first piece ending after the token's begin; first piece starting at/after its end
    lo = np.searchsorted(piece_ends, spans[:, 0], side="right")
    hi = np.searchsorted(piece_starts, spans[:, 1], side="left")
    empty = (hi <= lo) | (spans[:, 1] <= spans[:, 0])
    hi = np.where(empty, lo, hi)
    return lo.astype(np.int64), hi.astype(np.int64)


def plan_windows(n_pieces: int, content_length: int) -> list[tuple[int, int]]:
    """Cut ``n_pieces`` into overlapping windows of at most ``content_length`` pieces.

    One window when the sentence fits; otherwise windows advance by half their
    length and the last one ends at the sentence's end, so every piece lies well
    inside at least one window.

    Examples
    --------
    >>> plan_windows(5, 8)
    [(0, 5)]
    >>> plan_windows(20, 8)
    [(0, 8), (4, 12), (8, 16), (12, 20)]
    """
    if content_length < 2:
        raise InvalidParamError.for_param("maxSentenceLength", content_length + 2, "an integer >= 4")
    if n_pieces <= content_length:
        return [(0, n_pieces)]
    stride = content_length // 2
    windows = []
    start = 0
    while start + content_length < n_pieces:
        windows.append((start, start + content_length))
        start += stride
    windows.append((n_pieces - content_length, n_pieces))
    return windows


def assign_windows(n_pieces: int, windows: list[tuple[int, int]]) -> np.ndarray:
    """Return, per piece, the index of the window where it has the most context.

    Context is the smaller of the pieces before and after it inside the window; a
    window edge that is also the sentence's edge counts as unlimited context.

    Examples
    --------
    >>> assign_windows(20, [(0, 8), (4, 12), (8, 16), (12, 20)]).tolist()
    [0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3]
    """
    pieces = np.arange(n_pieces)
    best = np.zeros(n_pieces, dtype=np.int64)
    best_score = np.full(n_pieces, -1, dtype=np.int64)
    big = np.int64(1 << 40)
    for w, (start, end) in enumerate(windows):
        inside = (pieces >= start) & (pieces < end)
        left = np.where(start == 0, big, pieces - start)
        right = np.where(end == n_pieces, big, end - 1 - pieces)
        score = np.where(inside, np.minimum(left, right), -1)
        better = score > best_score
        best = np.where(better, w, best)
        best_score = np.where(better, score, best_score)
    return best


def pool(vectors: np.ndarray, lo: np.ndarray, hi: np.ndarray, strategy: str) -> np.ndarray:
    """Pool piece vectors into one vector per token; tokens with no piece get zeros.

    Examples
    --------
    >>> import numpy as np
    >>> v = np.array([[1.0, 1.0], [3.0, 5.0]], dtype=np.float32)
    >>> pool(v, np.array([0, 2]), np.array([2, 2]), "mean").tolist()
    [[2.0, 3.0], [0.0, 0.0]]
    """
    if strategy not in POOLING_STRATEGIES:
        raise InvalidParamError.for_param("poolingStrategy", strategy, POOLING_STRATEGIES)
    out = np.zeros((len(lo), vectors.shape[1] if vectors.ndim == 2 else 0), dtype=np.float32)
    has = hi > lo
    if not has.any():
        return out
    if strategy == "first":
        out[has] = vectors[lo[has]]
    elif strategy == "last":
        out[has] = vectors[hi[has] - 1]
    else:
        csum = np.concatenate(
            [np.zeros((1, vectors.shape[1]), dtype=np.float64), np.cumsum(vectors, 0, dtype=np.float64)]
        )
        counts = (hi - lo)[has, None]
        out[has] = ((csum[hi[has]] - csum[lo[has]]) / counts).astype(np.float32)
    return out
