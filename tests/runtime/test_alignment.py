"""Pure alignment, windowing, pooling and batching: no Spark, no model."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from sparkbert.errors import InvalidParamError
from sparkbert.runtime.alignment import assign_windows, plan_windows, pool, token_piece_ranges
from sparkbert.runtime.batching import make_batches, pad_batch


def test_pieces_map_to_the_tokens_they_overlap() -> None:
    # "l'homme" as tokens "l'" [0,2) "homme" [2,7); pieces "l" "'" "homme"
    lo, hi = token_piece_ranges(np.array([[0, 2], [2, 7]]), np.array([0, 1, 2]), np.array([1, 2, 7]))
    assert lo.tolist() == [0, 2] and hi.tolist() == [2, 3]


def test_a_piece_spanning_two_tokens_belongs_to_both() -> None:
    # one Thai piece [0,6) covering two tokens [0,3) and [3,6)
    lo, hi = token_piece_ranges(np.array([[0, 3], [3, 6]]), np.array([0]), np.array([6]))
    assert lo.tolist() == [0, 0] and hi.tolist() == [1, 1]


def test_token_without_pieces_gets_an_empty_range() -> None:
    # a zero-width-only token at [3,4) between pieces [0,3) and [4,6)
    lo, hi = token_piece_ranges(np.array([[0, 3], [3, 4], [4, 6]]), np.array([0, 4]), np.array([3, 6]))
    assert (hi - lo).tolist() == [1, 0, 1]


@pytest.mark.parametrize("n,length", [(1, 126), (126, 126), (127, 126), (1000, 126), (999, 10), (11, 10)])
def test_windows_cover_every_piece_with_context(n: int, length: int) -> None:
    windows = plan_windows(n, length)
    assert all(0 <= s < e <= n and e - s <= length for s, e in windows)
    assert windows[0][0] == 0 and windows[-1][1] == n
    owner = assign_windows(n, windows)
    for i in range(n):
        start, end = windows[owner[i]]
        assert start <= i < end
        # a piece never sits closer than an eighth of a window to an inner window edge
        if n > length:
            left = i - start if start > 0 else length
            right = end - 1 - i if end < n else length
            assert min(left, right) >= (length // 4 - 1) // 2


@pytest.mark.parametrize("length", [4, 10, 126, 510])
def test_windows_are_the_fewest_that_overlap_by_a_quarter(length: int) -> None:
    overlap = max(1, (length - 2) // 4)
    content = length - 2
    for n in range(content + 1, 6 * content):
        windows = plan_windows(n, content)
        assert all(e - s == content for s, e in windows)
        assert min(a[1] - b[0] for a, b in itertools.pairwise(windows)) >= overlap
        # one window fewer could not keep that overlap: it would have to stride further
        gaps = len(windows) - 1
        assert gaps == 1 or (n - content) / (gaps - 1) > content - overlap


def test_window_length_too_small_is_a_clear_error() -> None:
    with pytest.raises(InvalidParamError, match="maxSentenceLength"):
        plan_windows(10, 1)


def test_pooling_strategies() -> None:
    v = np.arange(12, dtype=np.float32).reshape(4, 3)
    lo, hi = np.array([0, 1, 4]), np.array([1, 4, 4])
    assert pool(v, lo, hi, "first").tolist() == [[0, 1, 2], [3, 4, 5], [0, 0, 0]]
    assert pool(v, lo, hi, "last").tolist() == [[0, 1, 2], [9, 10, 11], [0, 0, 0]]
    assert pool(v, lo, hi, "mean").tolist() == [[0, 1, 2], [6, 7, 8], [0, 0, 0]]
    with pytest.raises(InvalidParamError, match="'first', 'mean', 'last'"):
        pool(v, lo, hi, "max")


def test_batches_respect_size_and_budget_and_keep_every_index() -> None:
    rng = np.random.default_rng(0)
    lengths = rng.integers(3, 130, size=500).tolist()
    batches = make_batches(lengths, batch_size=16, token_budget=1024)
    flat = sorted(i for b in batches for i in b)
    assert flat == list(range(500))
    for b in batches:
        assert len(b) <= 16
        assert len(b) == 1 or max(lengths[i] for i in b) * len(b) <= 1024
    # length-sorted: padding waste stays small
    padded = sum(max(lengths[i] for i in b) * len(b) for b in batches)
    assert padded < 1.1 * sum(lengths)


def test_pad_batch_pads_right_with_mask() -> None:
    ids, mask, types = pad_batch([np.array([101, 5, 102]), np.array([101, 102])], pad_id=0)
    assert ids.dtype == np.int64 and ids.tolist() == [[101, 5, 102], [101, 102, 0]]
    assert mask.tolist() == [[1, 1, 1], [1, 1, 0]]
    assert not types.any()
