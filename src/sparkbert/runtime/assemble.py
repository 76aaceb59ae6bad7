"""The embedder's bookkeeping as flat arrays: every token and word piece of a chunk in one array each.

Sentences and tokens of all rows are laid end to end (``Sentences``, ``Tokens``: row
offsets, spans, texts, keys); each token is given the sentence it belongs to
(``assign_sentences``); the sentences that own tokens are encoded in one call
(``encode_flat``: ids and character spans of all pieces, with per-sentence offsets); one
``searchsorted`` finds every token's pieces (``flat_piece_ranges``); long sentences become
overlapping windows (``plan_sequences``); the piece metadata of every token comes out as
columns (``piece_columns``). Nothing here knows about Spark or ONNX Runtime.

Examples
--------
>>> from sparkbert.annotation import Annotation
>>> s = [[Annotation("document", 0, 8, "Hi there.", {"sentence": "0"})], None]
>>> t = [[Annotation("token", 0, 1, "Hi", {"sentence": "0"}),
...       Annotation("token", 20, 21, "??", {"sentence": "9"})], None]
>>> assign_sentences(flatten_sentences(s), flatten_tokens(t)).tolist()
[0, -1]
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from sparkbert.annotation import Annotation
from sparkbert.annotation_column import AnnotationColumn, ArrowAnnotations, FlatSpans, metadata_strings
from sparkbert.runtime.alignment import plan_windows
from sparkbert.runtime.tokenization import FlatPieces, tokenizer_scheme


@dataclass(frozen=True)
class Sentences:
    """The sentences of a chunk, flat: row offsets, spans, texts and keys (``sentence`` metadata)."""

    offsets: np.ndarray
    begins: np.ndarray
    ends: np.ndarray
    texts: list[str]
    keys: list[str]


@dataclass(frozen=True)
class Tokens:
    """The tokens of a chunk, flat: row offsets, spans, results and own ``sentence`` metadata."""

    offsets: np.ndarray
    begins: np.ndarray
    ends: np.ndarray
    results: list[str]
    keys: list[str]


def _row_offsets(rows: Sequence[Sequence[Any] | None]) -> np.ndarray:
    """``(rows + 1,)`` offsets of rows laid end to end (``None`` rows are empty)."""
    out = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum([len(r) if r else 0 for r in rows], out=out[1:])
    return out


def _int_column(values: list[int]) -> np.ndarray:
    return np.fromiter(values, dtype=np.int64, count=len(values))


def _flat_spans(rows: Sequence[Sequence[Annotation] | None]) -> FlatSpans | None:
    """Spans, results and ``sentence`` keys of a column held as arrays (``None``: a list of lists)."""
    if isinstance(rows, ArrowAnnotations):
        return rows.flat_spans("sentence")
    if not isinstance(rows, AnnotationColumn):
        return None
    n = len(rows.begins)
    column = dict(rows.metadata).get("sentence")
    values: list[str | None] = metadata_strings(column, 0, n) if column is not None else [None] * n  # type: ignore[assignment]
    present = np.full(n, column is not None)
    return FlatSpans(rows.offsets, rows.begins, rows.ends, list(rows.results), values, present)


def flatten_sentences(rows: Sequence[Sequence[Annotation] | None]) -> Sentences:
    """Lay the sentences of all rows end to end; a sentence's key defaults to its position."""
    spans = _flat_spans(rows)
    if spans is not None:  # already arrays: no objects
        local = np.arange(len(spans.begins)) - np.repeat(spans.offsets[:-1], np.diff(spans.offsets))
        named = [v if p else str(i) for v, p, i in zip(spans.values, spans.present.tolist(), local.tolist())]
        return Sentences(spans.offsets, spans.begins, spans.ends, spans.results, named)  # type: ignore[arg-type]
    flat = list(itertools.chain.from_iterable(r for r in rows if r))
    keys = [s.metadata.get("sentence", str(i)) for r in rows if r for i, s in enumerate(r)]
    return Sentences(
        _row_offsets(rows),
        _int_column([s.begin for s in flat]),
        _int_column([s.end for s in flat]),
        [s.result for s in flat],
        keys,
    )


def flatten_tokens(rows: Sequence[Sequence[Annotation] | None]) -> Tokens:
    """Lay the tokens of all rows end to end, with their own ``sentence`` metadata ("" if none)."""
    spans = _flat_spans(rows)
    if spans is not None:  # already arrays: no objects
        keys = [v if p else "" for v, p in zip(spans.values, spans.present.tolist())]
        return Tokens(spans.offsets, spans.begins, spans.ends, spans.results, keys)  # type: ignore[arg-type]
    flat = list(itertools.chain.from_iterable(r for r in rows if r))
    return Tokens(
        _row_offsets(rows),
        _int_column([t.begin for t in flat]),
        _int_column([t.end for t in flat]),
        [t.result for t in flat],
        [t.metadata.get("sentence", "") for t in flat],
    )


def _first_containing(
    s_begins: np.ndarray, s_ends: np.ndarray, t_begins: np.ndarray, t_ends: np.ndarray
) -> np.ndarray:
    """Per token, the first sentence whose span contains it, or -1 (in blocks of bounded memory)."""
    out = np.full(len(t_begins), -1, dtype=np.int64)
    step = max(1, (1 << 22) // max(1, len(s_begins)))
    for a in range(0, len(t_begins), step):
        inside = (s_begins[None, :] <= t_begins[a : a + step, None]) & (
            t_ends[a : a + step, None] <= s_ends[None, :]
        )
        found = inside.any(1)
        out[a : a + step] = np.where(found, inside.argmax(1), -1)
    return out


def _by_key(sentences: Sentences, tokens: Tokens) -> np.ndarray:
    """Per token, the sentence of its row whose key is the token's (the last one of that key), or -1."""
    codes: dict[str, int] = {}
    s_code = np.fromiter((codes.setdefault(k, len(codes)) for k in sentences.keys), np.int64)
    t_code = np.fromiter((codes.get(k, -1) for k in tokens.keys), np.int64, len(tokens.keys))
    width = len(codes) + 1
    s_key = np.repeat(np.arange(len(sentences.offsets) - 1), np.diff(sentences.offsets)) * width + s_code
    t_key = np.repeat(np.arange(len(tokens.offsets) - 1), np.diff(tokens.offsets)) * width + t_code
    order = np.argsort(s_key, kind="stable")
    last = order[np.r_[np.diff(s_key[order]) != 0, True]] if len(order) else order
    at = np.minimum(np.searchsorted(s_key[last], t_key), max(len(last) - 1, 0))
    if not len(last):
        return np.full(len(t_key), -1, dtype=np.int64)
    return np.where((t_code >= 0) & (s_key[last][at] == t_key), last[at], -1)


def assign_sentences(sentences: Sentences, tokens: Tokens) -> np.ndarray:
    """Per token, the (flat) index of its sentence: by ``sentence`` metadata, else by offsets; -1: none.

    A token goes to the sentence of its key when that sentence contains it; otherwise to the
    first sentence of its row that contains it; failing that, still to the sentence of its
    key (if any).
    """
    out = _by_key(sentences, tokens)
    s_off, t_off = sentences.offsets, tokens.offsets
    known = np.maximum(out, 0)
    fits = (out >= 0) & (sentences.begins[known] <= tokens.begins) & (tokens.ends <= sentences.ends[known])
    misfits = np.nonzero(~fits)[0]
    if len(misfits):
        rows = np.searchsorted(t_off, misfits, side="right") - 1
        for r in np.unique(rows).tolist():
            s0, s1 = int(s_off[r]), int(s_off[r + 1])
            if s0 == s1:
                continue
            mine = misfits[rows == r]
            found = _first_containing(
                sentences.begins[s0:s1], sentences.ends[s0:s1], tokens.begins[mine], tokens.ends[mine]
            )
            out[mine] = np.where(found >= 0, found + s0, out[mine])
    return out


def flat_piece_ranges(
    begins: np.ndarray, ends: np.ndarray, text: np.ndarray, text_lengths: np.ndarray, pieces: FlatPieces
) -> tuple[np.ndarray, np.ndarray]:
    """``token_piece_ranges`` of many tokens at once: ``[lo, hi)`` into the pieces of text ``text[i]``.

    ``begins``/``ends`` are ``[begin, end)`` spans relative to each token's text. Texts are
    laid on one axis, each in a slot ``3`` wider than itself, and spans clipped to their
    slot, so one ``searchsorted`` per side gives every token's range.

    Examples
    --------
    >>> p = FlatPieces(np.arange(3), np.array([0, 3, 0]), np.array([3, 5, 2]), np.array([0, 2, 3]))
    >>> lo, hi = flat_piece_ranges(np.array([0, 0, 9]), np.array([5, 2, 12]), np.array([0, 1, 0]),
    ...                            np.array([5, 2]), p)
    >>> lo.tolist(), hi.tolist()
    ([0, 0, 2], [2, 1, 2])
    """
    slot = np.zeros(len(text_lengths) + 1, dtype=np.int64)
    np.cumsum(np.asarray(text_lengths, dtype=np.int64) + 3, out=slot[1:])
    piece_text = np.repeat(np.arange(len(text_lengths)), np.diff(pieces.offsets))
    base = slot[text] + 1
    limit = np.asarray(text_lengths, dtype=np.int64)[text] + 1
    lo = np.searchsorted(pieces.ends + slot[piece_text] + 1, np.clip(begins, -1, limit) + base, side="right")
    hi = np.searchsorted(pieces.starts + slot[piece_text] + 1, np.clip(ends, -1, limit) + base, side="left")
    lo = lo - pieces.offsets[text]
    hi = hi - pieces.offsets[text]
    empty = (hi <= lo) | (ends <= begins)
    return lo.astype(np.int64), np.where(empty, lo, hi).astype(np.int64)


def continuation_mask(tokens: Sequence[str]) -> np.ndarray:
    """Which WordPiece pieces continue a word (a ``##`` prefix).

    Examples
    --------
    >>> continuation_mask(["play", "##ing", "#"]).tolist()
    [False, True, False]
    """
    return np.fromiter((t.startswith("##") for t in tokens), dtype=bool, count=len(tokens))


def continuation_table(tokenizer: Any) -> np.ndarray:
    """Per piece id, whether the piece continues a word in the tokenizer's own scheme (once per model).

    WordPiece: a ``##`` piece; SentencePiece (byte-level BPE): a piece without the ``▁`` (``Ġ``) word mark
    (``tokenization.TokenizerScheme.word_starts`` decides).
    """
    vocab: dict[str, int] = tokenizer.get_vocab()
    table = np.zeros(max(vocab.values(), default=-1) + 1, dtype=bool)
    starts = tokenizer_scheme(tokenizer).word_starts(list(vocab))
    table[np.fromiter(vocab.values(), np.int64, len(vocab))] = ~starts
    return table


def piece_columns(
    pieces: FlatPieces,
    text: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    begins: np.ndarray,
    unk: int,
    continuation: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``pieceId``, ``isWordStart``, ``isOOV``, ``noPieces`` of each token, as arrays.

    A token is a word start when its first piece begins inside it (``begins`` relative to
    its text) and does not continue a word; it is OOV when every one of its pieces is
    ``[UNK]``; a token without pieces has ``pieceId`` -1.
    """
    has = hi > lo
    g_lo = pieces.offsets[text] + lo
    first = np.where(has, g_lo, 0)
    unk_before = np.zeros(len(pieces.ids) + 1, dtype=np.int64)
    np.cumsum(pieces.ids == unk, out=unk_before[1:])
    oov = has & ((unk_before[g_lo + (hi - lo)] - unk_before[g_lo]) == (hi - lo))
    if not len(pieces.ids):
        return np.full(len(lo), -1, dtype=np.int64), has, oov, ~has
    # the text's first piece begins a word even without a mark (byte-level BPE puts none there)
    word_start = has & (pieces.starts[first] >= begins) & (~continuation[pieces.ids[first]] | (lo == 0))
    return np.where(has, pieces.ids[first], -1), word_start, oov, ~has


@dataclass(frozen=True)
class Sequences:
    """What runs through the model: per sequence its text, first piece and piece count.

    Texts with more pieces than fit are cut into windows (``windows[text]``); the others
    are one sequence each; texts without pieces have none.
    """

    text: np.ndarray
    start: np.ndarray
    length: np.ndarray
    first: np.ndarray
    windows: dict[int, list[tuple[int, int]]]


def plan_sequences(n_pieces: np.ndarray, content_length: int) -> Sequences:
    """Per text, one sequence (its pieces fit) or its windows (``alignment.plan_windows``), in order.

    Examples
    --------
    >>> s = plan_sequences(np.array([3, 0, 20]), 8)
    >>> s.text.tolist(), s.start.tolist(), s.length.tolist(), s.first.tolist()
    ([0, 2, 2, 2], [0, 0, 6, 12], [3, 8, 8, 8], [0, 1, 1])
    """
    n_pieces = np.asarray(n_pieces, dtype=np.int64)
    if len(n_pieces) and n_pieces.max() > 0:
        plan_windows(int(n_pieces.max()), content_length)  # the check of maxSentenceLength
    windows = {
        int(t): plan_windows(int(n_pieces[t]), content_length)
        for t in np.nonzero(n_pieces > content_length)[0].tolist()
    }
    counts = np.minimum(n_pieces, 1)
    for t, w in windows.items():
        counts[t] = len(w)
    first = np.zeros(len(n_pieces) + 1, dtype=np.int64)
    np.cumsum(counts, out=first[1:])
    text = np.repeat(np.arange(len(n_pieces)), counts)
    start = np.zeros(len(text), dtype=np.int64)
    length = n_pieces[text].copy()
    for t, w in windows.items():
        span = np.asarray(w, dtype=np.int64)
        start[first[t] : first[t + 1]] = span[:, 0]
        length[first[t] : first[t + 1]] = span[:, 1] - span[:, 0]
    return Sequences(text, start, length, first[:-1], windows)


def window_pieces(seqs: Sequences, n_pieces: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Where each piece of the windowed texts is read: ``(sequence, position in it, text offsets)``.

    Pieces are those of ``seqs.windows``' texts end to end (text offsets: ``(k + 1,)``); each
    is read from the window where it has the most context, as ``alignment.assign_windows``
    decides (ties: the first window); positions count ``[CLS]`` as 0.

    Examples
    --------
    >>> s = plan_sequences(np.array([2, 6]), 4)
    >>> seq, pos, offsets = window_pieces(s, np.array([2, 6]))
    >>> seq.tolist(), pos.tolist(), offsets.tolist()
    ([1, 1, 1, 2, 2, 2], [1, 2, 3, 2, 3, 4], [0, 6])
    """
    texts = np.fromiter(seqs.windows, np.int64, len(seqs.windows))
    n = np.asarray(n_pieces, dtype=np.int64)[texts]
    offsets = np.zeros(len(texts) + 1, dtype=np.int64)
    np.cumsum(n, out=offsets[1:])
    if not len(texts):
        z = np.zeros(0, dtype=np.int64)
        return z, z, offsets
    rank = np.full(len(n_pieces), -1, dtype=np.int64)
    rank[texts] = np.arange(len(texts))
    chosen = np.nonzero(rank[seqs.text] >= 0)[0]
    seq = np.repeat(chosen, seqs.length[chosen])
    ends = np.cumsum(seqs.length[chosen])
    pos = np.arange(len(seq)) - np.repeat(ends - seqs.length[chosen], seqs.length[chosen])
    start, end, size = seqs.start[seq], seqs.start[seq] + seqs.length[seq], n_pieces[seqs.text[seq]]
    big = np.int64(1 << 40)
    piece = start + pos
    score = np.minimum(np.where(start == 0, big, pos), np.where(end == size, big, end - 1 - piece))
    where = offsets[rank[seqs.text[seq]]] + piece
    order = np.lexsort((seq, -score, where))
    best = order[np.r_[0, np.nonzero(np.diff(where[order]))[0] + 1]]
    return seq[best], pos[best] + 1, offsets
