"""The pure core of BertEmbeddings: sentences and tokens in, one vector per token out.

Each sentence is tokenized whole by the model's tokenizer; sentences longer than
``max_sentence_length`` pieces are cut into overlapping windows; all sequences of
a chunk are length-sorted into padded batches under a token budget and run
through ONNX Runtime; each piece takes its vector from the window where it has
the most context, and each token pools the vectors of the pieces overlapping it.
Results do not depend on how rows are batched.

The bookkeeping is columnar (``runtime.assemble``): all tokens, sentences and pieces of
a chunk are flat arrays, each token's vector is written once into one ``(tokens, dim)``
buffer, and the result is an ``AnnotationColumn`` that becomes Arrow without a Python
step per token (and reads as ``list[Annotation]`` rows where objects are wanted).

Examples
--------
>>> EmbedderConfig(model_path="/models/mbert").pooling
'first'
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sparkbert.annotation import WORD_EMBEDDINGS, Annotation
from sparkbert.annotation_column import AnnotationColumn, Codes
from sparkbert.model.directory import open_model_directory
from sparkbert.model.format import INPUT_NAMES, ONNX_NAME, TOKENIZER_NAME
from sparkbert.runtime.alignment import pool_rows, pool_segments
from sparkbert.runtime.assemble import (
    Tokens,
    assign_sentences,
    continuation_table,
    flat_piece_ranges,
    flatten_sentences,
    flatten_tokens,
    piece_columns,
    plan_sequences,
    window_pieces,
)
from sparkbert.runtime.batching import batch_positions, make_batches, pad_batch, pad_windows
from sparkbert.runtime.cpu_turns import cpu_turn, takes_turns
from sparkbert.runtime.layer_graph import combine_layers, run_layers, with_hidden_states
from sparkbert.runtime.prepack import prepacked_model
from sparkbert.runtime.session import SessionOptions, cached, create_session, resolve_device, run_session
from sparkbert.runtime.tokenization import (
    FlatPieces,
    SpecialIds,
    encode,
    encode_flat,
    load_tokenizer,
    special_ids,
)
from sparkbert.settings import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_MAX_SENTENCE_LENGTH,
    DEFAULT_TOKEN_BUDGET,
    MAX_BATCH_PADDING,
)


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
    #: per piece id, whether the piece continues a word (``assemble.continuation_table``)
    continuation: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    #: runs take turns with the machine's other single-thread sessions (``cpu_turns``)
    takes_turns: bool = False


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
        config.layer_pooling,  # with the layers, it decides ModelResources.hidden_size
        config.hidden_size,
    )

    def build() -> ModelResources:
        tokenizer = load_tokenizer(os.path.join(model_dir, TOKENIZER_NAME), lowercase=config.lowercase)
        ids = special_ids(tokenizer)
        onnx_path = os.path.join(model_dir, ONNX_NAME)
        if config.layer_outputs:  # the same graph exporting the hidden states asked for
            graph = with_hidden_states(onnx_path, config.layer_outputs)
            session = create_session(onnx_path, options, graph=graph)
        else:
            if options.share_weights and options.device == "cpu":
                probe = _probe_batch(tokenizer, ids)
                onnx_path = prepacked_model(onnx_path, config.identity, probe) or onnx_path
            session = create_session(onnx_path, options)
        return ModelResources(
            tokenizer,
            session,
            config.hidden_size,
            *ids_tuple(ids),
            continuation_table(tokenizer),
            takes_turns(session),
        )

    return cached(key, build)


def ids_tuple(ids: SpecialIds) -> tuple[int, int, int, int]:
    """``(cls, sep, pad, unk)``, in ``ModelResources``' order."""
    return ids.cls, ids.sep, ids.pad, ids.unk


def hidden_states(
    res: ModelResources, config: EmbedderConfig, ids: np.ndarray, mask: np.ndarray, types: np.ndarray
) -> np.ndarray:
    """Run one padded batch: the last layer, or the configured layers combined (float32)."""
    with cpu_turn() if res.takes_turns else contextlib.nullcontext():
        if not config.layer_outputs:
            return run_session(res.session, ids, mask, types)
        feed = dict(zip(INPUT_NAMES, (ids, mask, types)))
        layers = run_layers(res.session, config.layer_outputs, feed)
    return combine_layers(layers, config.layer_pooling)


def _probe_batch(tokenizer: Any, ids: SpecialIds) -> dict[str, np.ndarray]:
    """Two padded sentences in several scripts: the check run on a prepacked copy of the weights."""
    texts = ["Spark embeds every token: naïve café, Überraschung!", "Привет, мир. 你好，世界。 مرحبا"]
    rows = [np.array([ids.cls, *e.ids, ids.sep], dtype=np.int64) for e in encode(tokenizer, texts)]
    return dict(zip(INPUT_NAMES, pad_batch(rows, ids.pad)))


class Embedder:
    """Embed the tokens of rows of sentence and token annotations (the batch annotator).

    Called with ``[sentence_rows, token_rows]`` it returns, per row, one
    ``word_embeddings`` annotation per input token, in input order, as an
    ``AnnotationColumn`` (arrays, read as ``list[Annotation]`` rows on demand).

    Examples
    --------
    >>> Embedder(EmbedderConfig(model_path="m")).config.max_sentence_length
    128
    """

    def __init__(self, config: EmbedderConfig) -> None:
        self.config = config

    def __call__(self, columns: Sequence[Sequence[Any]]) -> AnnotationColumn:
        return self.embed(columns[0], columns[1])

    def embed(
        self,
        sentence_rows: Sequence[Sequence[Annotation] | None],
        token_rows: Sequence[Sequence[Annotation] | None],
    ) -> AnnotationColumn:
        """Embed every token of every row; see the module docstring.

        A token outside every sentence, or without word pieces, gets a zero vector and
        ``noPieces`` "true"; its ``sentence`` metadata is then its own.

        Examples
        --------
        >>> list(Embedder(EmbedderConfig(model_path="m")).embed([None], [[]]))
        [[]]
        """
        tokens = flatten_tokens(token_rows)
        n = len(tokens.begins)
        if not n:
            empty = Codes(np.zeros(0, np.int64), ())
            return _column(
                tokens, empty, _piece_defaults(0), np.zeros((0, self.config.hidden_size), np.float32)
            )
        res = load_resources(self.config)
        sentences = flatten_sentences(sentence_rows)
        owner = assign_sentences(sentences, tokens)
        inside = np.nonzero(owner >= 0)[0]
        jobs, text = np.unique(owner[inside], return_inverse=True)
        text = text.reshape(-1)
        pieces = encode_flat(res.tokenizer, [sentences.texts[j] for j in jobs.tolist()])
        begins = tokens.begins[inside] - sentences.begins[owner[inside]]
        ends = tokens.ends[inside] + 1 - sentences.begins[owner[inside]]
        lengths = np.fromiter((len(sentences.texts[j]) for j in jobs.tolist()), np.int64, len(jobs))
        lo, hi = flat_piece_ranges(begins, ends, text, lengths, pieces)
        vectors = np.zeros((n, self.config.hidden_size), dtype=np.float32)
        self._token_vectors(res, pieces, text, lo, hi, vectors, inside)
        columns = piece_columns(pieces, text, lo, hi, begins, res.unk, res.continuation)
        outside = np.nonzero(owner < 0)[0]
        codes = owner.copy()
        codes[outside] = len(sentences.keys) + np.arange(len(outside))
        keys = Codes(codes, sentences.keys + [tokens.keys[t] for t in outside.tolist()])
        full = _piece_defaults(n)  # tokens outside every sentence: no pieces
        for f, c in zip(full, columns):
            f[inside] = c
        return _column(tokens, keys, full, vectors)

    def _token_vectors(
        self,
        res: ModelResources,
        pieces: FlatPieces,
        text: np.ndarray,
        lo: np.ndarray,
        hi: np.ndarray,
        out: np.ndarray,
        targets: np.ndarray,
    ) -> None:
        """Run every sentence (window by window) and write each token's pooled vector to ``out[targets]``.

        Tokens of one-window sentences are pooled batch by batch straight from ONNX Runtime's
        output; sentences cut into windows are assembled piece by piece (each piece from the
        window where it has most context) once all their windows have run.
        """
        pooling = self.config.pooling
        n_pieces = np.diff(pieces.offsets)
        seqs = plan_sequences(n_pieces, self.config.max_sentence_length - 2)
        if not len(seqs.text):
            return
        lengths = (seqs.length + 2).tolist()
        batches = make_batches(
            lengths,
            batch_size=self.config.batch_size,
            token_budget=self.config.token_budget,
            max_padding=MAX_BATCH_PADDING,
        )
        seq_batch, seq_row = batch_positions(batches, len(seqs.text))
        windowed = np.zeros(len(n_pieces), dtype=bool)
        windowed[list(seqs.windows)] = True
        # tokens of one-window sentences: pooled from each batch's output as it comes
        direct = np.nonzero((hi > lo) & ~windowed[text])[0]
        direct = direct[np.argsort(seq_batch[seqs.first[text[direct]]], kind="stable")]
        direct_bounds = np.searchsorted(seq_batch[seqs.first[text[direct]]], np.arange(len(batches) + 1))
        # pieces of windowed sentences: each copied from its best window, pooled at the end
        w_seq, w_pos, w_offsets = window_pieces(seqs, n_pieces)
        w_order = np.argsort(seq_batch[w_seq], kind="stable")
        w_bounds = np.searchsorted(seq_batch[w_seq[w_order]], np.arange(len(batches) + 1))
        w_vectors = np.zeros((len(w_seq), self.config.hidden_size), dtype=np.float32)
        for b, batch in enumerate(batches):
            idx = np.asarray(batch, dtype=np.int64)
            starts = pieces.offsets[seqs.text[idx]] + seqs.start[idx]
            ids, mask, types = pad_windows(
                pieces.ids, starts, seqs.length[idx], cls=res.cls, sep=res.sep, pad=res.pad
            )
            states = np.asarray(hidden_states(res, self.config, ids, mask, types), dtype=np.float32)
            mine = direct[direct_bounds[b] : direct_bounds[b + 1]]
            if len(mine):
                batch_rows = seq_row[seqs.first[text[mine]]]
                out[targets[mine]] = pool_rows(states, batch_rows, lo[mine], hi[mine], pooling)
            owned = w_order[w_bounds[b] : w_bounds[b + 1]]
            w_vectors[owned] = states[seq_row[w_seq[owned]], w_pos[owned]]
        late = np.nonzero((hi > lo) & windowed[text])[0]
        if len(late):
            rank = np.cumsum(windowed) - 1
            out[targets[late]] = pool_segments(
                w_vectors, w_offsets, rank[text[late]], lo[late], hi[late], pooling
            )


def _piece_defaults(n: int) -> list[np.ndarray]:
    """``pieceId``, ``isWordStart``, ``isOOV``, ``noPieces`` of ``n`` tokens without pieces."""
    return [np.full(n, -1, dtype=np.int64), np.zeros(n, bool), np.zeros(n, bool), np.ones(n, bool)]


def _column(
    tokens: Tokens, sentence: Codes, pieces: Sequence[np.ndarray], vectors: np.ndarray
) -> AnnotationColumn:
    """The ``word_embeddings`` column of ``tokens``: their spans, results, metadata columns, vectors."""
    piece_id, word_start, oov, no_pieces = pieces
    metadata = (
        ("sentence", sentence),
        ("token", tokens.results),
        ("pieceId", piece_id),
        ("isWordStart", Codes(word_start.view(np.int8), _BOOL)),
        ("isOOV", Codes(oov.view(np.int8), _BOOL)),
        ("noPieces", Codes(no_pieces.view(np.int8), _BOOL)),
    )
    return AnnotationColumn(
        WORD_EMBEDDINGS, tokens.offsets, tokens.begins, tokens.ends, tokens.results, metadata, vectors
    )


_BOOL = ("false", "true")
