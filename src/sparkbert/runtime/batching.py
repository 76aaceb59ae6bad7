"""Length-sorted batching under a token budget, each batch padded to its own longest row.

Examples
--------
>>> make_batches([5, 100, 7, 6], batch_size=2, token_budget=1000)
[[0, 3], [2, 1]]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def make_batches(
    lengths: Sequence[int], *, batch_size: int, token_budget: int, max_padding: float | None = None
) -> list[list[int]]:
    """Group sequence indices into batches, shortest first.

    A batch holds at most ``batch_size`` sequences and at most ``token_budget``
    padded positions (its longest length times its size); a sequence longer than
    the budget gets a batch of its own. With ``max_padding``, a batch also closes
    before a sequence that would make more than that share of its positions padding
    (sparse lengths, such as the long sentences of a chunk, then get smaller batches
    instead of rows padded to a much longer neighbour).

    Examples
    --------
    >>> make_batches([10, 10, 10], batch_size=8, token_budget=20)
    [[0, 1], [2]]
    >>> make_batches([10, 11, 30, 31], batch_size=4, token_budget=1000, max_padding=0.1)
    [[0, 1], [2, 3]]
    """
    order = np.argsort(np.asarray(lengths, dtype=np.int64), kind="stable")
    batches: list[list[int]] = []
    current: list[int] = []
    real = 0
    for idx in order.tolist():
        longest = lengths[idx]  # sorted ascending: the newcomer is the longest
        padded = longest * (len(current) + 1)
        if current and (
            len(current) >= batch_size
            or padded > token_budget
            or (max_padding is not None and padded - real - longest > max_padding * padded)
        ):
            batches.append(current)
            current = []
            real = 0
        current.append(idx)
        real += longest
    if current:
        batches.append(current)
    return batches


def batch_positions(batches: Sequence[Sequence[int]], n: int) -> tuple[np.ndarray, np.ndarray]:
    """Per sequence ``0..n-1``: the batch it is in and its row there.

    Examples
    --------
    >>> [a.tolist() for a in batch_positions([[0, 3], [2, 1]], 4)]
    [[0, 1, 1, 0], [0, 1, 0, 1]]
    """
    batch = np.zeros(n, dtype=np.int64)
    row = np.zeros(n, dtype=np.int64)
    for b, members in enumerate(batches):
        batch[list(members)] = b
        row[list(members)] = np.arange(len(members))
    return batch, row


def pad_batch(sequences: Sequence[np.ndarray], pad_id: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Right-pad id sequences to the longest: ``(input_ids, attention_mask, token_type_ids)``, int64.

    Examples
    --------
    >>> ids, mask, types = pad_batch([np.array([1, 2, 3]), np.array([4])], pad_id=0)
    >>> ids.tolist(), mask.tolist()
    ([[1, 2, 3], [4, 0, 0]], [[1, 1, 1], [1, 0, 0]])
    """
    width = max(len(s) for s in sequences)
    ids = np.full((len(sequences), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(sequences), width), dtype=np.int64)
    for i, seq in enumerate(sequences):
        ids[i, : len(seq)] = seq
        mask[i, : len(seq)] = 1
    return ids, mask, np.zeros_like(ids)


def pad_windows(
    ids: np.ndarray, starts: np.ndarray, lengths: np.ndarray, *, cls: int, sep: int, pad: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``pad_batch`` of the sequences ``[cls, *ids[start:start + length], sep]``, built without a loop.

    Examples
    --------
    >>> ids, mask, _ = pad_windows(np.array([5, 6, 7]), np.array([0, 2]), np.array([2, 1]), cls=1, sep=2, pad=0)
    >>> ids.tolist(), mask.tolist()
    ([[1, 5, 6, 2], [1, 7, 2, 0]], [[1, 1, 1, 1], [1, 1, 1, 0]])
    """
    n = np.asarray(lengths, dtype=np.int64)
    pos = np.arange(int(n.max()) + 2, dtype=np.int64)[None, :]
    inner = (pos >= 1) & (pos <= n[:, None])
    out = np.full(inner.shape, pad, dtype=np.int64)
    out[inner] = ids[(np.asarray(starts, dtype=np.int64)[:, None] + pos - 1)[inner]]
    out[:, 0] = cls
    out[np.arange(len(n)), n + 1] = sep
    return out, (pos < n[:, None] + 2).astype(np.int64), np.zeros_like(out)
