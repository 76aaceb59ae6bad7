"""TEST-ONLY ORACLE: the embedder's host path as it was before the columnar rewrite.

A verbatim copy of ``Embedder.embed`` (one ``Annotation`` and metadata dict per token),
``annotations_to_arrow`` and ``annotations_from_arrow_fast`` as they stood at commit a83b596.
Never imported by ``src/``; ``tests/runtime/test_host_*.py`` compare the new columnar path
against it, output for output and bit for bit.
"""

# ruff: noqa

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from sparkbert.annotation import ANNOTATION_FIELDS, WORD_EMBEDDINGS, Annotation, annotation_arrow_type
from sparkbert.runtime.alignment import assign_windows, plan_windows, pool, token_piece_ranges
from sparkbert.runtime.batching import make_batches, pad_batch
from sparkbert.runtime.embedder import EmbedderConfig, ModelResources, hidden_states, load_resources
from sparkbert.runtime.tokenization import PieceEncoding, encode


@dataclass
class _Job:
    row: int
    sentence: int
    text: str
    tokens: list[int]


def _sentence_key(sentence: Annotation, position: int) -> str:
    return sentence.metadata.get("sentence", str(position))


def _group_tokens(sentences: Sequence[Annotation], tokens: Sequence[Annotation]) -> list[list[int]]:
    """Assign each token index to a sentence: by metadata ``sentence``, else by offsets."""
    by_key = {_sentence_key(s, i): i for i, s in enumerate(sentences)}
    groups: list[list[int]] = [[] for _ in sentences]
    for t_idx, tok in enumerate(tokens):
        s_idx = by_key.get(tok.metadata.get("sentence", ""), -1)
        if s_idx < 0 or not (sentences[s_idx].begin <= tok.begin and tok.end <= sentences[s_idx].end):
            s_idx = next(
                (i for i, s in enumerate(sentences) if s.begin <= tok.begin and tok.end <= s.end), s_idx
            )
        if s_idx >= 0:
            groups[s_idx].append(t_idx)
    return groups


class Embedder:
    """Embed the tokens of rows of sentence and token annotations (the batch annotator).

    Called with ``[sentence_rows, token_rows]`` it returns, per row, one
    ``word_embeddings`` annotation per input token, in input order.

    Examples
    --------
    >>> Embedder(EmbedderConfig(model_path="m")).config.max_sentence_length
    128
    """

    def __init__(self, config: EmbedderConfig) -> None:
        self.config = config

    def __call__(self, columns: Sequence[Sequence[Any]]) -> list[list[Annotation]]:
        return self.embed(columns[0], columns[1])

    def embed(
        self, sentence_rows: Sequence[Sequence[Annotation]], token_rows: Sequence[Sequence[Annotation]]
    ) -> list[list[Annotation]]:
        """Embed every token of every row; see the module docstring.

        Examples
        --------
        >>> Embedder(EmbedderConfig(model_path="m")).embed([], [])
        []
        """
        if not any(token_rows):
            return [[] for _ in token_rows]
        res = load_resources(self.config)
        jobs: list[_Job] = []
        assigned: list[np.ndarray] = []
        for r, (sentences, tokens) in enumerate(zip(sentence_rows, token_rows)):
            sentences = sentences or []
            tokens = tokens or []
            seen = np.zeros(len(tokens), dtype=bool)
            for s_idx, group in enumerate(_group_tokens(sentences, tokens)):
                if group:
                    jobs.append(_Job(r, s_idx, sentences[s_idx].result, group))
                    seen[group] = True
            assigned.append(seen)
        encodings = encode(res.tokenizer, [j.text for j in jobs])
        vectors = self._piece_vectors(res, encodings)
        out: list[list[Annotation | None]] = [[None] * len(t or []) for t in token_rows]
        for job, enc, vecs in zip(jobs, encodings, vectors):
            sentence = sentence_rows[job.row][job.sentence]
            toks = [token_rows[job.row][i] for i in job.tokens]
            spans = np.array(
                [[t.begin - sentence.begin, t.end + 1 - sentence.begin] for t in toks], dtype=np.int64
            )
            lo, hi = token_piece_ranges(spans, enc.starts, enc.ends)
            pooled = pool(vecs, lo, hi, self.config.pooling)
            s_key = _sentence_key(sentence, job.sentence)
            row_out = out[job.row]
            for k, (t_idx, meta) in enumerate(zip(job.tokens, _piece_metadata(enc, spans, lo, hi, res.unk))):
                tok = toks[k]
                meta = {"sentence": s_key, "token": tok.result, **meta}
                row_out[t_idx] = Annotation(WORD_EMBEDDINGS, tok.begin, tok.end, tok.result, meta, pooled[k])
        zero = np.zeros(res.hidden_size, dtype=np.float32)
        return [
            [a if a is not None else _no_pieces(tok, zero) for a, tok in zip(row, token_rows[r] or [])]
            for r, row in enumerate(out)
        ]

    def _piece_vectors(self, res: ModelResources, encodings: Sequence[PieceEncoding]) -> list[np.ndarray]:
        """Run every sentence (window by window) and return an ``(n_pieces, hidden)`` array each."""
        content = self.config.max_sentence_length - 2
        sequences: list[np.ndarray] = []
        plans: list[tuple[list[tuple[int, int]], list[int]]] = []
        for enc in encodings:
            windows = plan_windows(len(enc), content) if len(enc) else []
            seq_ids = []
            for start, end in windows:
                seq_ids.append(len(sequences))
                sequences.append(np.concatenate([[res.cls], enc.ids[start:end], [res.sep]]).astype(np.int64))
            plans.append((windows, seq_ids))
        hidden: list[np.ndarray | None] = [None] * len(sequences)
        lengths = [len(s) for s in sequences]
        for batch in make_batches(
            lengths, batch_size=self.config.batch_size, token_budget=self.config.token_budget
        ):
            ids, mask, types = pad_batch([sequences[i] for i in batch], res.pad)
            states = hidden_states(res, self.config, ids, mask, types)
            for row, i in enumerate(batch):
                hidden[i] = states[row, 1 : lengths[i] - 1]
        out = []
        for enc, (windows, seq_ids) in zip(encodings, plans):
            n = len(enc)
            vecs = np.zeros((n, res.hidden_size), dtype=np.float32)
            if n:
                owner = assign_windows(n, windows)
                for w, ((start, _end), s) in enumerate(zip(windows, seq_ids)):
                    pieces = np.nonzero(owner == w)[0]
                    vecs[pieces] = hidden[s][pieces - start]  # type: ignore[index]
            out.append(vecs)
        return out


_BOOL = ("false", "true")


def _piece_metadata(
    enc: PieceEncoding, spans: np.ndarray, lo: np.ndarray, hi: np.ndarray, unk: int
) -> list[dict[str, str]]:
    """``pieceId``, ``isWordStart``, ``isOOV``, ``noPieces`` of each token, computed for all at once.

    A token is a word start when its first piece begins inside it and is not a ``##``
    continuation; it is OOV when every one of its pieces is ``[UNK]``.
    """
    has = hi > lo
    if not len(enc):
        return [{"pieceId": "-1", "isWordStart": "false", "isOOV": "false", "noPieces": "true"}] * len(lo)
    first = np.minimum(lo, len(enc) - 1)
    unk_before = np.concatenate([[0], np.cumsum(enc.ids == unk)])
    oov = has & ((unk_before[hi] - unk_before[lo]) == (hi - lo))
    continuation = np.fromiter((t.startswith("##") for t in enc.tokens), dtype=bool, count=len(enc))
    word_start = has & (enc.starts[first] >= spans[:, 0]) & ~continuation[first]
    piece_id = np.where(has, enc.ids[first], -1)
    return [
        {"pieceId": str(p), "isWordStart": _BOOL[w], "isOOV": _BOOL[o], "noPieces": _BOOL[not h]}
        for p, w, o, h in zip(piece_id.tolist(), word_start.tolist(), oov.tolist(), has.tolist())
    ]


def _no_pieces(token: Annotation, zero: np.ndarray) -> Annotation:
    """The annotation of a token outside every sentence, or without word pieces: a zero vector."""
    metadata = {
        "sentence": token.metadata.get("sentence", ""),
        "token": token.result,
        "pieceId": "-1",
        "isWordStart": "false",
        "isOOV": "false",
        "noPieces": "true",
    }
    return Annotation(WORD_EMBEDDINGS, token.begin, token.end, token.result, metadata, zero)


def annotations_to_arrow(rows: Sequence[Sequence[Annotation] | None]) -> Any:
    """Encode one annotation list per row as an Arrow ``list<struct>`` array.

    Vectors are concatenated as float32 numpy arrays, never as Python floats, so
    building a column of embeddings costs one copy of the numbers.

    Examples
    --------
    >>> arr = annotations_to_arrow([[Annotation("token", 0, 0, "a", {}, [1.0, 2.0])], []])
    >>> arr.to_pylist()[0][0]["embeddings"]
    [1.0, 2.0]
    """
    import pyarrow as pa

    offsets = np.zeros(len(rows) + 1, dtype=np.int32)
    flat: list[Annotation] = []
    for i, anns in enumerate(rows):
        if anns:
            flat.extend(anns)
        offsets[i + 1] = len(flat)
    struct_type = annotation_arrow_type()
    n = len(flat)
    emb_offsets = np.zeros(n + 1, dtype=np.int32)
    vectors = []
    total = 0
    for j, a in enumerate(flat):
        total += len(a.embeddings)
        emb_offsets[j + 1] = total
        if len(a.embeddings):
            vectors.append(np.asarray(a.embeddings, dtype=np.float32).reshape(-1))
    values = np.concatenate(vectors) if vectors else np.zeros(0, dtype=np.float32)
    md_offsets = np.zeros(n + 1, dtype=np.int32)
    keys: list[str] = []
    items: list[str] = []
    for j, a in enumerate(flat):
        for k, v in a.metadata.items():
            keys.append(k)
            items.append(v)
        md_offsets[j + 1] = len(keys)
    metadata = pa.MapArray.from_arrays(
        pa.array(md_offsets), pa.array(keys, pa.string()), pa.array(items, pa.string())
    )
    embeddings = pa.ListArray.from_arrays(pa.array(emb_offsets), pa.array(values, pa.float32())).cast(
        struct_type.field("embeddings").type
    )
    structs = pa.StructArray.from_arrays(
        [
            pa.array([a.annotator_type for a in flat], pa.string()),
            pa.array([a.begin for a in flat], pa.int32()),
            pa.array([a.end for a in flat], pa.int32()),
            pa.array([a.result for a in flat], pa.string()),
            metadata,
            embeddings,
        ],
        fields=list(struct_type),
    )
    return pa.ListArray.from_arrays(pa.array(offsets), structs)


def annotations_from_arrow_fast(array: pa.Array | pa.ChunkedArray) -> list[list[Annotation]]:
    """Decode an Arrow annotation column; vectors become float32 numpy views, not lists.

    Examples
    --------
    >>> arr = annotations_to_arrow([[Annotation("token", 0, 0, "a", {}, [1.0])], None])
    >>> out = annotations_from_arrow_fast(arr)
    >>> vector = out[0][0].embeddings
    >>> out[0][0].result, vector.dtype, vector.tolist(), out[1]
    ('a', dtype('float32'), [1.0], [])
    """
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks() if array.num_chunks != 1 else array.chunk(0)
    if len(array) == 0:
        return []
    offsets = array.offsets.to_numpy()
    values = array.values
    start, stop = int(offsets[0]), int(offsets[-1])
    structs = values.slice(start, stop - start)
    fields = dict(zip(ANNOTATION_FIELDS, structs.flatten()))
    types = fields["annotatorType"].to_pylist()
    begins = fields["begin"].to_pylist()
    ends = fields["end"].to_pylist()
    results = fields["result"].to_pylist()
    metas = fields["metadata"].to_pylist()
    emb = fields["embeddings"]
    emb_offsets = emb.offsets.to_numpy()
    emb_values = emb.values.to_numpy(zero_copy_only=False)
    anns = [
        Annotation(
            types[j] or "",
            begins[j],
            ends[j],
            results[j] or "",
            dict(metas[j]) if metas[j] else {},
            emb_values[emb_offsets[j] : emb_offsets[j + 1]],
        )
        for j in range(len(types))
    ]
    valid = array.is_valid().to_numpy(zero_copy_only=False)
    rows: list[list[Annotation]] = []
    rel = offsets - start
    for i in range(len(array)):
        rows.append(anns[rel[i] : rel[i + 1]] if valid[i] else [])
    return rows
