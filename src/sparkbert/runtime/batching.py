"""Length-sorted batching under a token budget, each batch padded to its own longest row.

Examples
--------
>>> make_batches([5, 100, 7, 6], batch_size=2, token_budget=1000)
[[0, 3], [2, 1]]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def make_batches(lengths: Sequence[int], *, batch_size: int, token_budget: int) -> list[list[int]]:
    """Group sequence indices into batches, shortest first.

    A batch holds at most ``batch_size`` sequences and at most ``token_budget``
    padded positions (its longest length times its size); a sequence longer than
    the budget gets a batch of its own.

    Examples
    --------
    >>> make_batches([10, 10, 10], batch_size=8, token_budget=20)
    [[0, 1], [2]]
    """
    order = np.argsort(np.asarray(lengths, dtype=np.int64), kind="stable")
    batches: list[list[int]] = []
    current: list[int] = []
    for idx in order.tolist():
        longest = lengths[idx]  # sorted ascending: the newcomer is the longest
        if current and (len(current) >= batch_size or longest * (len(current) + 1) > token_budget):
            batches.append(current)
            current = []
        current.append(idx)
    if current:
        batches.append(current)
    return batches


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
