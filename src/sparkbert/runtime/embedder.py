"""The pure core of BertEmbeddings: sentences and tokens in, one vector per token out.

Each sentence is tokenized whole by the model's tokenizer; sentences longer than
``max_sentence_length`` pieces are cut into overlapping windows; all sequences of
a chunk are length-sorted into padded batches under a token budget and run
through ONNX Runtime; each piece takes its vector from the window where it has
the most context, and each token pools the vectors of the pieces overlapping it.
Results do not depend on how rows are batched.

Examples
--------
>>> EmbedderConfig(model_path="/models/mbert").pooling
'first'
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sparkbert.annotation import WORD_EMBEDDINGS, Annotation
from sparkbert.model.directory import open_model_directory
from sparkbert.model.format import INPUT_NAMES, ONNX_NAME, TOKENIZER_NAME
from sparkbert.runtime.alignment import assign_windows, plan_windows, pool, token_piece_ranges
from sparkbert.runtime.batching import make_batches, pad_batch
from sparkbert.runtime.layer_graph import combine_layers, run_layers, with_hidden_states
from sparkbert.runtime.prepack import prepacked_model
from sparkbert.runtime.session import SessionOptions, cached, create_session, resolve_device, run_session
from sparkbert.runtime.tokenization import PieceEncoding, SpecialIds, encode, load_tokenizer, special_ids
from sparkbert.settings import DEFAULT_BATCH_SIZE, DEFAULT_MAX_SENTENCE_LENGTH, DEFAULT_TOKEN_BUDGET


@dataclass(frozen=True)
class EmbedderConfig:
    """Small, picklable settings of an ``Embedder`` (what travels to executors).

    Examples
    --------
    >>> EmbedderConfig(model_path="m", batch_size=8).batch_size
    8
    """

    model_path: str
    #: the model's identity (sha256 of its manifest) and vector width, read once by the stage
    identity: str = ""
    hidden_size: int = 0
    max_sentence_length: int = DEFAULT_MAX_SENTENCE_LENGTH
    batch_size: int = DEFAULT_BATCH_SIZE
    token_budget: int = DEFAULT_TOKEN_BUDGET
    pooling: str = "first"
    lowercase: bool = False
    session: SessionOptions = field(default_factory=SessionOptions)
    #: name under which the model folder was shipped with ``SparkContext.addFile`` (cluster mode)
    spark_file: str | None = None
    #: hidden states to combine (graph outputs, ``runtime.layer_graph.output_names``); empty: the
    #: last layer. ``hidden_size`` is then the combined width.
    layer_outputs: tuple[str, ...] = ()
    layer_pooling: str = "mean"

    @classmethod
    def for_model(cls, model_dir: str | os.PathLike[str], **settings: Any) -> EmbedderConfig:
        """The config for the model directory at ``model_dir``, its identity and width read from it."""
        model = open_model_directory(model_dir)
        return cls(str(model.path), identity=model.identity, hidden_size=model.hidden_size, **settings)


@dataclass
class _Job:
    row: int
    sentence: int
    text: str
    tokens: list[int]


@dataclass(frozen=True)
class ModelResources:
    """The heavy, per-process objects of one model: tokenizer, session, sizes.

    Examples
    --------
    >>> ModelResources(tokenizer=None, session=None, hidden_size=768, cls=101, sep=102, pad=0, unk=100).hidden_size
    768
    """

    tokenizer: Any
    session: Any
    hidden_size: int
    cls: int
    sep: int
    pad: int
    unk: int


def locate_model(config: EmbedderConfig) -> str:
    """Return the local model directory: the configured path, or the copy Spark shipped.

    Examples
    --------
    >>> locate_model(EmbedderConfig(model_path="."))
    '.'
    """
    if os.path.isdir(config.model_path) or not config.spark_file:
        return config.model_path
    from pyspark import SparkFiles

    return SparkFiles.get(config.spark_file)


def load_resources(config: EmbedderConfig) -> ModelResources:
    """Return this process's tokenizer and ONNX Runtime session for ``config`` (built once).

    The cache key is the model's identity (given by the stage, which read the manifest once),
    its real path, the case setting and the session options with the device decided here, in
    the worker; a folder without the model's files fails naming the file:

    Examples
    --------
    >>> load_resources(EmbedderConfig(model_path="/nonexistent", identity="x", hidden_size=8))
    Traceback (most recent call last):
    ...
    FileNotFoundError: [Errno 2] No such file or directory: '/nonexistent/tokenizer.json'
    """
    if not config.identity or config.hidden_size < 1:
        raise ValueError(
            "EmbedderConfig needs the model's identity and hidden_size: use EmbedderConfig.for_model"
        )
    model_dir = locate_model(config)
    options = resolve_device(config.session)
    key = (
        "bert",
        config.identity,
        os.path.realpath(model_dir),
        config.lowercase,
        options,
        config.layer_outputs,
    )

    def build() -> ModelResources:
        tokenizer = load_tokenizer(os.path.join(model_dir, TOKENIZER_NAME), lowercase=config.lowercase)
        ids = special_ids(tokenizer)
        onnx_path = os.path.join(model_dir, ONNX_NAME)
        if config.layer_outputs:  # the same graph exporting the hidden states asked for
            graph = with_hidden_states(onnx_path, config.layer_outputs)
            return ModelResources(
                tokenizer,
                create_session(onnx_path, options, graph=graph),
                config.hidden_size,
                *ids_tuple(ids),
            )
        if options.share_weights and options.device == "cpu":
            probe = _probe_batch(tokenizer, ids)
            onnx_path = prepacked_model(onnx_path, config.identity, probe) or onnx_path
        session = create_session(onnx_path, options)
        return ModelResources(tokenizer, session, config.hidden_size, ids.cls, ids.sep, ids.pad, ids.unk)

    return cached(key, build)


def ids_tuple(ids: SpecialIds) -> tuple[int, int, int, int]:
    """``(cls, sep, pad, unk)``, in ``ModelResources``' order."""
    return ids.cls, ids.sep, ids.pad, ids.unk


def hidden_states(
    res: ModelResources, config: EmbedderConfig, ids: np.ndarray, mask: np.ndarray, types: np.ndarray
) -> np.ndarray:
    """Run one padded batch: the last layer, or the configured layers combined (float32)."""
    if not config.layer_outputs:
        return run_session(res.session, ids, mask, types)
    feed = dict(zip(INPUT_NAMES, (ids, mask, types)))
    return combine_layers(run_layers(res.session, config.layer_outputs, feed), config.layer_pooling)


def _probe_batch(tokenizer: Any, ids: SpecialIds) -> dict[str, np.ndarray]:
    """Two padded sentences in several scripts: the check run on a prepacked copy of the weights."""
    texts = ["Spark embeds every token: naïve café, Überraschung!", "Привет, мир. 你好，世界。 مرحبا"]
    rows = [np.array([ids.cls, *e.ids, ids.sep], dtype=np.int64) for e in encode(tokenizer, texts)]
    return dict(zip(INPUT_NAMES, pad_batch(rows, ids.pad)))


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
