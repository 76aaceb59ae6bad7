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


def plan_windows(n_pieces: int, content_length: int, *, overlap: int | None = None) -> list[tuple[int, int]]:
    """Cut ``n_pieces`` into overlapping windows of at most ``content_length`` pieces.

    One window when the sentence fits; otherwise the fewest windows of ``content_length``
    pieces in which consecutive windows overlap by at least ``overlap`` pieces (default: a
    quarter window, what the embedder uses), spread evenly from the sentence's start to its
    end. With the default each piece lies at least an eighth of a window from an inner window
    edge in the window ``assign_windows`` gives it (15 pieces at the default
    ``maxSentenceLength`` of 128). On a long sentence the windows run about 4/3 as many
    positions as it has pieces; windows advancing by half their length ran twice as many.

    Examples
    --------
    >>> plan_windows(5, 8)
    [(0, 5)]
    >>> plan_windows(20, 8)
    [(0, 8), (6, 14), (12, 20)]

    Without the required overlap 30 pieces need four windows instead of five (evenly spread,
    they still overlap where the span does not divide):

    >>> plan_windows(30, 8)
    [(0, 8), (6, 14), (11, 19), (17, 25), (22, 30)]
    >>> plan_windows(30, 8, overlap=0)
    [(0, 8), (7, 15), (15, 23), (22, 30)]
    """
    if content_length < 2:
        raise InvalidParamError.for_param("maxSentenceLength", content_length + 2, "an integer >= 4")
    if overlap is None:
        overlap = max(1, content_length // 4)
    if not 0 <= overlap < content_length:
        raise ValueError(f"overlap must be in [0, {content_length}) pieces, got {overlap}")
    if n_pieces <= content_length:
        return [(0, n_pieces)]
    stride = content_length - overlap
    span = n_pieces - content_length
    gaps = -(-span // stride)  # windows - 1
    starts = [(i * span + gaps // 2) // gaps for i in range(gaps + 1)]
    return [(start, start + content_length) for start in starts]


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


def pool_rows(
    states: np.ndarray, rows: np.ndarray, lo: np.ndarray, hi: np.ndarray, strategy: str
) -> np.ndarray:
    """``pool`` for tokens of a padded batch: piece ``k`` of row ``r`` is ``states[r, 1 + k]``.

    Every token here has pieces (``hi > lo``). Means take the same float64 running sums as
    ``pool`` (one per row, from the row's first piece), so results are bit for bit equal.

    Examples
    --------
    >>> import numpy as np
    >>> s = np.array([[[0.0], [1.0], [3.0], [0.0]]], dtype=np.float32)
    >>> pool_rows(s, np.array([0, 0]), np.array([0, 1]), np.array([2, 2]), "mean").tolist()
    [[2.0], [3.0]]
    """
    if strategy not in POOLING_STRATEGIES:
        raise InvalidParamError.for_param("poolingStrategy", strategy, POOLING_STRATEGIES)
    if strategy != "mean":
        picked: np.ndarray = states[rows, lo + 1 if strategy == "first" else hi]
        return picked
    out = np.empty((len(rows), states.shape[2]), dtype=np.float32)
    width = states.shape[1] - 2
    step = max(1, (1 << 22) // max(1, (width + 1) * states.shape[2]))  # 32 MiB of sums at a time
    for a in range(0, states.shape[0], step):
        sel = np.nonzero((rows >= a) & (rows < a + step))[0]
        if not len(sel):
            continue
        block = states[a : a + step]
        csum = np.zeros((block.shape[0], width + 1, states.shape[2]), dtype=np.float64)
        np.cumsum(block[:, 1 : width + 1], axis=1, dtype=np.float64, out=csum[:, 1:])
        r, t_lo, t_hi = rows[sel] - a, lo[sel], hi[sel]
        out[sel] = ((csum[r, t_hi] - csum[r, t_lo]) / (t_hi - t_lo)[:, None]).astype(np.float32)
    return out


def pool_segments(
    vectors: np.ndarray,
    offsets: np.ndarray,
    segment: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    strategy: str,
) -> np.ndarray:
    """``pool`` for tokens of many sentences whose piece vectors lie end to end in ``vectors``.

    Sentence ``s`` owns ``vectors[offsets[s]:offsets[s + 1]]``; each token (all with
    ``hi > lo``) names its sentence in ``segment``. Means are laid out as ``pool_rows``
    reads them, a few sentences at a time, so results equal ``pool``'s bit for bit.

    Examples
    --------
    >>> import numpy as np
    >>> v = np.array([[1.0], [3.0], [5.0]], dtype=np.float32)
    >>> pool_segments(v, np.array([0, 1, 3]), np.array([1, 0]), np.array([0, 0]), np.array([2, 1]), "mean").tolist()
    [[4.0], [1.0]]
    """
    if strategy not in POOLING_STRATEGIES:
        raise InvalidParamError.for_param("poolingStrategy", strategy, POOLING_STRATEGIES)
    if strategy != "mean":
        chosen: np.ndarray = vectors[offsets[segment] + (lo if strategy == "first" else hi - 1)]
        return chosen
    out = np.empty((len(lo), vectors.shape[1]), dtype=np.float32)
    sizes = np.diff(offsets)
    budget = max(1, (1 << 23) // max(1, vectors.shape[1]))  # 32 MiB of float32 per block
    used = np.unique(segment)
    a = 0
    while a < len(used):
        b, width = a + 1, int(sizes[used[a]])
        while b < len(used) and (b - a + 1) * (max(width, int(sizes[used[b]])) + 2) <= budget:
            width = max(width, int(sizes[used[b]]))
            b += 1
        block = used[a:b]
        padded = np.zeros((len(block), width + 2, vectors.shape[1]), dtype=np.float32)
        row = np.repeat(np.arange(len(block)), sizes[block])
        pos = np.arange(len(row)) - np.repeat(np.cumsum(sizes[block]) - sizes[block], sizes[block])
        padded[row, pos + 1] = vectors[offsets[block[row]] + pos]
        mine = np.nonzero((segment >= block[0]) & (segment <= block[-1]))[0]
        out[mine] = pool_rows(padded, np.searchsorted(block, segment[mine]), lo[mine], hi[mine], "mean")
        a = b
    return out
