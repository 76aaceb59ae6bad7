"""The pure core of BertSentenceEmbeddings: texts in, one vector per text out.

Each text is tokenized whole and cut into windows exactly as for token vectors
(``plan_windows``), each window wrapped in ``[CLS]`` …
``[SEP]``. The pooling then follows sentence-transformers' ``Pooling``:

| strategy | vector |
| --- | --- |
| ``cls`` | the first window's ``[CLS]`` |
| ``pooler`` | BERT's pooler on it: ``tanh(W · cls + b)`` |
| ``mean`` | mean over every position of the attention mask: ``[CLS]``, each piece (taken from its owner window, ``assign_windows``), ``[SEP]`` |
| ``max`` | element-wise max over the same positions |
| ``mean_sqrt_len`` | their sum divided by the square root of their number |
| ``weightedmean`` | their mean weighted by position, 1 for ``[CLS]`` up to n for ``[SEP]`` |
| ``lasttoken`` | the last window's ``[SEP]`` |

then the checkpoint's ``Dense`` layers (``auto`` only) and an optional L2 normalisation.
A text that fits one window gives what sentence-transformers gives; a longer one is
never truncated.

Examples
--------
>>> import numpy as np
>>> states = [np.array([[1.0, 0.0], [3.0, 2.0], [5.0, 4.0]])]  # [CLS], one piece, [SEP]
>>> pool_sentence(states, [(0, 1)], 1, "mean").tolist()
[3.0, 2.0]
>>> pool_sentence(states, [(0, 1)], 1, "cls").tolist()
[1.0, 0.0]
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from sparkbert.annotation import SENTENCE_EMBEDDINGS, Annotation
from sparkbert.errors import InvalidParamError
from sparkbert.model.st_modules import (
    POOLING_SEPARATOR,
    SENTENCE_HEAD_NAME,
    SUPPORTED_POOLING,
    SentenceHead,
    pooling_parts,
)
from sparkbert.runtime.alignment import assign_windows, plan_windows
from sparkbert.runtime.batching import make_batches, pad_batch
from sparkbert.runtime.embedder import hidden_states, load_resources, locate_model
from sparkbert.runtime.session import cached
from sparkbert.runtime.tokenization import encode
from sparkbert.settings import MAX_BATCH_PADDING

#: Values of ``poolingStrategy``; ``auto`` is resolved on the driver by ``resolve_pooling``.
SENTENCE_STRATEGIES = ("auto", *SUPPORTED_POOLING, "pooler")
#: What ``auto`` may resolve to besides a plain strategy: the checkpoint's own chain.
MODULES = "modules"


def resolve_pooling(requested: str, *, has_pooler: bool, modules_pooling: str | None) -> str:
    """Return the concrete strategy for ``requested`` on a checkpoint, or raise naming what it has.

    ``auto`` is the checkpoint's sentence-transformers chain (``MODULES``) when it has
    one, else ``pooler`` when it has pooler weights (Spark NLP's behaviour), else ``cls``.

    Examples
    --------
    >>> resolve_pooling("auto", has_pooler=True, modules_pooling=None)
    'pooler'
    >>> resolve_pooling("auto", has_pooler=True, modules_pooling="mean")
    'modules'
    >>> resolve_pooling("pooler", has_pooler=False, modules_pooling="mean")
    Traceback (most recent call last):
    ...
    sparkbert.errors.InvalidParamError: Invalid value for param 'poolingStrategy': 'pooler'. Valid values: 'auto', 'cls', 'mean', 'max', 'mean_sqrt_len', 'weightedmean', 'lasttoken' (this model has no pooler weights; its own sentence-transformers pooling is 'mean').
    """
    if requested not in SENTENCE_STRATEGIES:
        raise InvalidParamError.for_param("poolingStrategy", requested, SENTENCE_STRATEGIES)
    if requested == "auto":
        return MODULES if modules_pooling else ("pooler" if has_pooler else "cls")
    if requested == "pooler" and not has_pooler:
        valid = [s for s in SENTENCE_STRATEGIES if s != "pooler"]
        own = (
            f"its own sentence-transformers pooling is {modules_pooling!r}"
            if modules_pooling
            else "it has no sentence-transformers configuration either"
        )
        raise InvalidParamError.for_param(
            "poolingStrategy",
            requested,
            ", ".join(repr(v) for v in valid) + f" (this model has no pooler weights; {own})",
        )
    return requested


def describe_auto(info: Mapping[str, Any]) -> str:
    """Say what ``poolingStrategy="auto"`` gives for a model directory's ``sentence`` manifest field.

    Examples
    --------
    >>> describe_auto({"pooler": False, "modules": {"pooling": "mean", "normalize": True,
    ...     "dense": [{"in_features": 768, "out_features": 512, "activation": "tanh"}]}})
    'mean → Dense 768→512 (tanh) → L2-normalised'
    >>> describe_auto({"pooler": True, "modules": None})
    'pooler (tanh dense on [CLS])'
    """
    modules = info.get("modules") or {}
    strategy = resolve_pooling(
        "auto", has_pooler=bool(info.get("pooler")), modules_pooling=modules.get("pooling")
    )
    if strategy == "pooler":
        return "pooler (tanh dense on [CLS])"
    if strategy != MODULES:
        return "[CLS]"
    steps = [str(modules["pooling"])]
    steps += [
        f"Dense {d['in_features']}→{d['out_features']} ({d['activation']})" for d in modules.get("dense", [])
    ]
    steps += ["L2-normalised"] if modules.get("normalize") else []
    prompt = modules.get("default_prompt")
    unapplied = f" (sentence-transformers would prepend {prompt!r} to each text)" if prompt else ""
    return " → ".join(steps) + unapplied


#: ``BertSentenceEmbeddings``' window when neither the user nor the checkpoint sets one.
DEFAULT_SENTENCE_WINDOW = 512


def sentence_window(info: Mapping[str, Any], max_positions: int) -> int:
    """The window ``BertSentenceEmbeddings`` uses unless ``maxSentenceLength`` is set.

    The checkpoint's sentence-transformers ``max_seq_length``, else 512, never more than the
    model's positions.

    Examples
    --------
    >>> sentence_window({"modules": {"max_seq_length": 8192}}, 8192), sentence_window({}, 514)
    (8192, 512)
    """
    length = (info.get("modules") or {}).get("max_seq_length")
    return min(int(length or DEFAULT_SENTENCE_WINDOW), max_positions)


def window_sequences(
    ids: NDArray[np.int64], content_length: int, cls: int, sep: int
) -> tuple[list[tuple[int, int]], list[NDArray[np.int64]]]:
    """Return the windows of one text and their ``[CLS] … [SEP]`` id sequences.

    An empty text is one window holding only ``[CLS] [SEP]`` (sentence-transformers' vector
    of an empty input).

    Examples
    --------
    >>> windows, seqs = window_sequences(np.arange(5), 4, cls=101, sep=102)
    >>> windows, [s.tolist() for s in seqs]
    ([(0, 4), (1, 5)], [[101, 0, 1, 2, 3, 102], [101, 1, 2, 3, 4, 102]])
    """
    windows = plan_windows(len(ids), content_length)
    seqs = [np.concatenate([[cls], ids[s:e], [sep]]).astype(np.int64) for s, e in windows]
    return windows, seqs


def pool_sentence(
    states: Sequence[NDArray[Any]], windows: Sequence[tuple[int, int]], n_pieces: int, strategy: str
) -> NDArray[np.float64]:
    """Pool one text's window states (each ``(end - start + 2, hidden)``, ``[CLS]``/``[SEP]`` included).

    ``cls`` and ``pooler`` take the first window's ``[CLS]``, ``lasttoken`` the last one's
    ``[SEP]``; the others pool ``[CLS]`` of the first window, every piece from its owner
    window and ``[SEP]`` of the last, so one window gives exactly the positions of its
    attention mask.

    Examples
    --------
    >>> w0 = np.array([[0.0], [1.0], [2.0], [9.0]])   # [CLS] p0 p1 [SEP]
    >>> w1 = np.array([[0.0], [5.0], [6.0], [7.0]])   # [CLS] p1 p2 [SEP]
    >>> pool_sentence([w0, w1], [(0, 2), (1, 3)], 3, "max").tolist()
    [7.0]

    Positions [CLS] p0 p1 p2 [SEP] hold 0, 1, 2, 6, 7 and weigh 1 to 5 in ``weightedmean``:

    >>> pool_sentence([w0, w1], [(0, 2), (1, 3)], 3, "weightedmean").tolist()  # (2+6+24+35) / 15
    [4.466666666666667]

    Several modes joined by ``+`` give their vectors one after the other:

    >>> pool_sentence([w0, w1], [(0, 2), (1, 3)], 3, "cls+max").tolist()
    [0.0, 7.0]
    """
    if POOLING_SEPARATOR in strategy:  # a sentence-transformers Pooling of several modes
        parts = [pool_sentence(states, windows, n_pieces, part) for part in pooling_parts(strategy)]
        return np.concatenate(parts)
    if strategy in ("cls", "pooler"):
        return np.asarray(states[0][0], dtype=np.float64)
    if strategy == "lasttoken":
        return np.asarray(states[-1][-1], dtype=np.float64)
    if strategy not in SUPPORTED_POOLING:  # the rest pool every position
        raise InvalidParamError.for_param("poolingStrategy", strategy, SENTENCE_STRATEGIES)
    width = states[0].shape[1]
    rows = np.empty((n_pieces + 2, width), dtype=np.float64)
    rows[0] = states[0][0]
    rows[-1] = states[-1][-1]
    if n_pieces:
        owner = assign_windows(n_pieces, list(windows))
        for w, (start, _end) in enumerate(windows):
            pieces = np.nonzero(owner == w)[0]
            rows[1 + pieces] = states[w][1 + pieces - start]
    if strategy == "max":
        return np.asarray(rows.max(0), dtype=np.float64)
    if strategy == "mean_sqrt_len":
        return np.asarray(rows.sum(0) / np.sqrt(len(rows)), dtype=np.float64)
    if strategy == "weightedmean":
        weights = np.arange(1, len(rows) + 1, dtype=np.float64)
        return np.asarray(weights @ rows / weights.sum(), dtype=np.float64)
    return np.asarray(rows.mean(0), dtype=np.float64)


def l2_normalize(vectors: NDArray[Any]) -> NDArray[np.float64]:
    """Divide each row by its L2 norm (at least 1e-12), as ``torch.nn.functional.normalize``.

    Examples
    --------
    >>> l2_normalize(np.array([[3.0, 4.0], [0.0, 0.0]])).tolist()
    [[0.6, 0.8], [0.0, 0.0]]
    """
    v = np.asarray(vectors, dtype=np.float64)
    return np.asarray(v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12), dtype=np.float64)


@dataclass(frozen=True)
class SentenceEncoderConfig:
    """Picklable settings of a ``SentenceEncoder`` (what travels to executors).

    ``pooling`` is already resolved (never ``auto``); ``embedder`` carries the model path,
    window length, batch sizes and session options shared with token embeddings.

    Examples
    --------
    >>> from sparkbert.runtime.embedder import EmbedderConfig
    >>> SentenceEncoderConfig(EmbedderConfig(model_path="m"), pooling="cls").normalize
    False
    """

    embedder: Any  # EmbedderConfig (imported lazily: it pulls in the session machinery)
    pooling: str = "cls"
    normalize: bool = False
    #: the model directory's ``sentence`` manifest field, read once on the driver
    head: dict[str, Any] = field(default_factory=dict)


def _load_head(model_dir: str, identity: str, info: dict[str, Any]) -> Any:
    """This process's ``SentenceHead`` of a model directory."""

    def build() -> SentenceHead:
        path = os.path.join(model_dir, SENTENCE_HEAD_NAME)
        tensors: dict[str, Any] = {}
        if os.path.isfile(path):
            from safetensors.numpy import load_file

            tensors = load_file(path)
        return SentenceHead.from_info(info, tensors)

    return cached(("sentence_head", identity, os.path.realpath(model_dir)), build)


class SentenceEncoder:
    """Embed texts, or rows of ``document`` annotations, into one vector each (the batch annotator).

    Called with ``[document_rows]`` it returns, per row, one ``sentence_embeddings``
    annotation per input annotation, with its begin, end and result, and metadata
    ``sentence``, ``pieces`` and ``windows``.

    Examples
    --------
    >>> from sparkbert.runtime.embedder import EmbedderConfig
    >>> SentenceEncoder(SentenceEncoderConfig(EmbedderConfig(model_path="m")))([[None, []]])
    [[], []]
    """

    def __init__(self, config: SentenceEncoderConfig) -> None:
        self.config = config

    def __call__(self, columns: Sequence[Sequence[Any]]) -> list[list[Annotation]]:
        rows = [list(r or []) for r in columns[0]]
        texts = [a.result for row in rows for a in row]
        if not texts:
            return [[] for _ in rows]
        vectors, pieces, windows = self.encode_texts(texts)
        out: list[list[Annotation]] = []
        k = 0
        for row in rows:
            anns = []
            for i, a in enumerate(row):
                metadata = {
                    "sentence": a.metadata.get("sentence", str(i)),
                    "pieces": str(pieces[k]),
                    "windows": str(windows[k]),
                }
                anns.append(Annotation(SENTENCE_EMBEDDINGS, a.begin, a.end, a.result, metadata, vectors[k]))
                k += 1
            out.append(anns)
        return out

    def encode_texts(self, texts: Sequence[str]) -> tuple[NDArray[np.float32], list[int], list[int]]:
        """Return ``(vectors (n, dim) float32, pieces per text, windows per text)``."""
        emb = self.config.embedder
        res = load_resources(emb)
        model_dir = locate_model(emb)
        head = _load_head(model_dir, emb.identity, self.config.head)
        encodings = encode(res.tokenizer, list(texts))
        sequences: list[NDArray[np.int64]] = []
        plans: list[tuple[list[tuple[int, int]], list[int]]] = []
        for enc in encodings:
            windows, seqs = window_sequences(enc.ids, emb.max_sentence_length - 2, res.cls, res.sep)
            plans.append((windows, list(range(len(sequences), len(sequences) + len(seqs)))))
            sequences.extend(seqs)
        lengths = [len(s) for s in sequences]
        states: list[NDArray[np.float32] | None] = [None] * len(sequences)
        batches = make_batches(
            lengths, batch_size=emb.batch_size, token_budget=emb.token_budget, max_padding=MAX_BATCH_PADDING
        )
        for batch in batches:
            ids, mask, types = pad_batch([sequences[i] for i in batch], res.pad)
            hidden = hidden_states(res, emb, ids, mask, types)  # the chosen layers, combined
            for row, i in enumerate(batch):
                states[i] = hidden[row, : lengths[i]]
        strategy = head.modules.pooling if self.config.pooling == MODULES else self.config.pooling
        pooled = np.stack(
            [
                pool_sentence([states[s] for s in seq_ids], windows, len(enc), strategy)  # type: ignore[misc]
                for enc, (windows, seq_ids) in zip(encodings, plans)
            ]
        )
        if self.config.pooling == "pooler":
            pooled = head.apply_pooler(pooled)
        elif self.config.pooling == MODULES:
            for layer in head.modules.dense:
                pooled = layer(pooled)
        if self.config.normalize:
            pooled = l2_normalize(pooled)
        return (
            pooled.astype(np.float32),
            [len(e) for e in encodings],
            [len(w) for w, _ in plans],
        )
