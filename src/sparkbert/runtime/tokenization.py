"""Word-piece tokenization with the model's own ``tokenizers`` pipeline.

Sentences are encoded whole, exactly as the model was trained (for mBERT cased:
no lower-casing, no accent stripping), without control tokens: the embedder adds
``[CLS]``/``[SEP]`` itself, per window. The tokenizer's added-token table is
emptied of its control tokens, so text a user types such as ``[CLS]`` or ``[MASK]`` is split
like any other punctuation and letters instead of being matched as a control token; words a
fine-tuned checkpoint added to the vocabulary (non-special added tokens) stay whole, as in
transformers.

Three piece schemes are read from ``tokenizer.json`` (``TokenizerScheme``):

| scheme | models | a piece starts a word when | control tokens |
| --- | --- | --- | --- |
| WordPiece | BERT, mBERT, LaBSE | it does not start with ``##`` | ``[CLS]`` ``[SEP]`` ``[PAD]`` ``[UNK]`` |
| SentencePiece (``Metaspace``) | XLM-RoBERTa | it starts with ``▁`` | ``<s>`` ``</s>`` ``<pad>`` ``<unk>`` |
| byte-level BPE (``ByteLevel``) | RoBERTa | it starts with ``Ġ``, or is the text's first | ``<s>`` ``</s>`` ``<pad>`` ``<unk>`` |

A SentencePiece or byte-level piece that begins a word carries the space before it in its
offsets (``▁world`` spans `` world``); ``encode`` moves such a start past the whitespace, so a
piece's span never holds characters of no token and alignment is the same for all three.

Examples
--------
>>> import pathlib
>>> path = pathlib.Path("tests/data/mbert/tokenizer.json")
>>> tok = load_tokenizer(path)
>>> enc = encode(tok, ["Hello [CLS]"])[0]
>>> enc.tokens
['Hello', '[', 'CL', '##S', ']']
>>> enc.starts.tolist(), enc.ends.tolist()
([0, 6, 7, 9, 10], [5, 7, 9, 10, 11])
"""

from __future__ import annotations

import itertools
import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from tokenizers import Tokenizer, normalizers

from sparkbert.errors import ModelIntegrityError
from sparkbert.model.tokenizer_files import normalizer_lowercases

#: A UTF-16 surrogate code point: never valid alone in text, and refused by ``tokenizers``.
_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True)
class PieceEncoding:
    """The word pieces of one sentence: ids, character spans ``[start, end)`` and strings.

    Examples
    --------
    >>> PieceEncoding.empty().ids.shape
    (0,)
    """

    ids: np.ndarray
    starts: np.ndarray
    ends: np.ndarray
    tokens: list[str]

    @classmethod
    def empty(cls) -> PieceEncoding:
        """Return the encoding of a sentence without pieces.

        Examples
        --------
        >>> len(PieceEncoding.empty().tokens)
        0
        """
        z = np.zeros(0, dtype=np.int64)
        return cls(z, z, z, [])

    def __len__(self) -> int:
        return len(self.tokens)


@dataclass(frozen=True)
class SpecialIds:
    """Vocabulary ids of the control tokens the embedder adds.

    Examples
    --------
    >>> SpecialIds(101, 102, 0, 100).cls
    101
    """

    cls: int
    sep: int
    pad: int
    unk: int


@dataclass(frozen=True)
class TokenizerScheme:
    """Control-token ids and word-boundary marks of a tokenizer, read from its ``tokenizer.json``.

    Examples
    --------
    >>> scheme = TokenizerScheme.from_spec(json.load(open("tests/data/mbert/tokenizer.json")))
    >>> scheme.ids, scheme.continuation_prefix, scheme.word_prefix
    (SpecialIds(cls=101, sep=102, pad=0, unk=100), '##', '')
    """

    ids: SpecialIds
    #: WordPiece: a piece starting with this continues the word before it
    continuation_prefix: str = "##"
    #: SentencePiece (``▁``) and byte-level BPE (``Ġ``): a piece starting with this begins a
    #: word ("" for WordPiece)
    word_prefix: str = ""

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> TokenizerScheme:
        """Read the scheme from a parsed ``tokenizer.json``; ModelIntegrityError names what is missing."""
        vocab = _vocabulary(spec)
        model = spec.get("model") or {}
        word_prefix = _metaspace_replacement(spec.get("pre_tokenizer"))
        cls_sep = _post_processor_specials(spec.get("post_processor"))
        if cls_sep is None:
            cls_sep = ("<s>", "</s>") if word_prefix else ("[CLS]", "[SEP]")
        padding = spec.get("padding") or {}
        pad_names = [padding.get("pad_token"), "<pad>" if word_prefix else "[PAD]"]
        unk_name = model.get("unk_token") or ("<unk>" if word_prefix else "[UNK]")
        names = [*cls_sep, next((p for p in pad_names if p in vocab), pad_names[-1]), unk_name]
        ids = [vocab.get(n) if isinstance(n, str) else None for n in names]
        if isinstance(model.get("unk_id"), int):  # Unigram names its unknown piece by id
            ids[3] = model["unk_id"]
        missing = [str(n) for n, i in zip(names, ids) if i is None]
        if missing:
            raise ModelIntegrityError(
                f"tokenizer.json lacks the control token(s) {', '.join(missing)} in its vocabulary."
            )
        prefix = model.get("continuing_subword_prefix") if model.get("type") == "WordPiece" else None
        return cls(
            SpecialIds(*(int(i) for i in ids)),  # type: ignore[arg-type]
            continuation_prefix="" if word_prefix else (prefix or "##"),
            word_prefix=word_prefix,
        )

    def word_starts(self, tokens: Sequence[str]) -> np.ndarray:
        """Return, per piece string, True when the piece begins a word in the model's own scheme.

        Examples
        --------
        >>> TokenizerScheme(SpecialIds(0, 2, 1, 3), "", "▁").word_starts(["▁Hel", "lo", "▁"]).tolist()
        [True, False, True]
        """
        if self.word_prefix:
            marks = (t.startswith(self.word_prefix) for t in tokens)
            return np.fromiter(marks, dtype=bool, count=len(tokens))
        prefix = self.continuation_prefix
        return np.fromiter((not t.startswith(prefix) for t in tokens), dtype=bool, count=len(tokens))


def _vocabulary(spec: dict[str, Any]) -> dict[str, int]:
    """Piece → id of a tokenizer.json model (WordPiece/BPE dict, Unigram list) and its added tokens."""
    model = spec.get("model") or {}
    raw = model.get("vocab")
    vocab: dict[str, int] = {}
    if isinstance(raw, dict):
        vocab = {str(k): int(v) for k, v in raw.items()}
    elif isinstance(raw, list):
        vocab = {str(entry[0]): i for i, entry in enumerate(raw)}
    for added in spec.get("added_tokens") or []:
        if isinstance(added, dict) and isinstance(added.get("content"), str):
            vocab.setdefault(added["content"], int(added.get("id", -1)))
    return vocab


def _metaspace_replacement(pre_tokenizer: Any) -> str:
    """The mark a pre-tokenizer puts on a piece that follows a space, or "" when it has none.

    ``Metaspace`` (SentencePiece): its replacement character, ``▁``; ``ByteLevel`` (GPT-2 and
    RoBERTa's byte-level BPE): ``Ġ``, the byte-level form of a space.
    """
    if not isinstance(pre_tokenizer, dict):
        return ""
    if pre_tokenizer.get("type") == "Metaspace":
        return str(pre_tokenizer.get("replacement", "\u2581"))
    if pre_tokenizer.get("type") == "ByteLevel":
        return "\u0120"
    if pre_tokenizer.get("type") == "Sequence":
        return next((r for r in map(_metaspace_replacement, pre_tokenizer.get("pretokenizers", [])) if r), "")
    return ""


def _post_processor_specials(post: Any) -> tuple[str, str] | None:
    """``(cls, sep)`` token strings of a post-processor (Template, Bert, Roberta), or None."""
    if not isinstance(post, dict):
        return None
    kind = post.get("type")
    if kind in ("BertProcessing", "RobertaProcessing"):
        return str(post["cls"][0]), str(post["sep"][0])
    if kind == "TemplateProcessing":
        specials = [item["SpecialToken"]["id"] for item in post.get("single", []) if "SpecialToken" in item]
        if len(specials) >= 2:
            return str(specials[0]), str(specials[-1])
    if kind == "Sequence":
        return next(
            (p for p in map(_post_processor_specials, post.get("processors", [])) if p is not None), None
        )
    return None


def tokenizer_scheme(tokenizer: Tokenizer) -> TokenizerScheme:
    """The ``TokenizerScheme`` of a loaded tokenizer (read once; ``load_tokenizer`` sets it)."""
    scheme = getattr(tokenizer, _SCHEME_ATTR, None)
    if scheme is None:
        scheme = TokenizerScheme.from_spec(json.loads(tokenizer.to_str()))
        setattr(tokenizer, _SCHEME_ATTR, scheme)
    return scheme  # type: ignore[no-any-return]


#: Attribute of a ``tokenizers.Tokenizer`` (which has an instance ``__dict__``) holding its scheme.
_SCHEME_ATTR = "sparkbert_scheme"


def tokenizer_lowercases(path: str | os.PathLike[str]) -> bool:
    """Return True if the ``tokenizer.json`` at ``path`` lower-cases its input (an uncased model).

    Examples
    --------
    >>> tokenizer_lowercases("tests/data/mbert/tokenizer.json")
    False
    """
    with open(path, encoding="utf-8") as f:
        spec = json.load(f)
    return bool(normalizer_lowercases(spec.get("normalizer")))


def load_tokenizer(path: str | os.PathLike[str], *, lowercase: bool = False) -> Tokenizer:
    """Load ``tokenizer.json`` for whole-sentence encoding without control-token matching.

    Truncation and padding saved in the file are switched off. With ``lowercase``,
    input is lower-cased after the model's own normalizer (offsets stay exact,
    accents are kept).

    Examples
    --------
    >>> tok = load_tokenizer("tests/data/mbert/tokenizer.json", lowercase=True)
    >>> encode(tok, ["Émile"])[0].tokens[0]
    'é'
    """
    with open(path, encoding="utf-8") as f:
        spec = json.load(f)
    scheme = TokenizerScheme.from_spec(spec)
    _demote_control_pieces(spec)
    # control tokens typed as text are text; words added to the vocabulary stay whole
    spec["added_tokens"] = [t for t in spec.get("added_tokens") or [] if not t.get("special", True)]
    spec["truncation"] = None
    spec["padding"] = None
    tokenizer = Tokenizer.from_str(json.dumps(spec))
    setattr(tokenizer, _SCHEME_ATTR, scheme)
    if lowercase and not normalizer_lowercases(spec.get("normalizer")):
        parts = [tokenizer.normalizer] if tokenizer.normalizer is not None else []
        tokenizer.normalizer = normalizers.Sequence([*parts, normalizers.Lowercase()])
    return tokenizer


def _demote_control_pieces(spec: dict[str, Any]) -> None:
    """Make a Unigram model's control pieces (``<s>``, ``</s>``...) unreachable from text, in place.

    XLM-R's ``tokenizer.json`` lists them in the Unigram vocabulary (with score 0, the best), so
    without its added-token table a typed ``<s>`` would become the control token. Their strings
    are replaced by noncharacters (U+FDD0 and an index), which text does not carry: a typed
    ``<s>`` is then spelled with ordinary pieces, as ``[CLS]`` is in WordPiece. Ids are unchanged.
    """
    model = spec.get("model") or {}
    vocab = model.get("vocab")
    if model.get("type") != "Unigram" or not isinstance(vocab, list):
        return
    control = {t.get("content") for t in spec.get("added_tokens") or [] if t.get("special")}
    for i, entry in enumerate(vocab):
        if entry[0] in control:
            entry[0] = f"\ufdd0{i}\ufdd0"


def special_ids(tokenizer: Tokenizer) -> SpecialIds:
    """Look up the control tokens (``[CLS]``, ``[SEP]``, ``[PAD]``, ``[UNK]`` or ``<s>``...) of a tokenizer.

    Examples
    --------
    >>> special_ids(load_tokenizer("tests/data/mbert/tokenizer.json"))
    SpecialIds(cls=101, sep=102, pad=0, unk=100)
    """
    return tokenizer_scheme(tokenizer).ids


def encode(tokenizer: Tokenizer, texts: Sequence[str]) -> list[PieceEncoding]:
    """Encode whole sentences into word pieces with character spans (no control tokens).

    A lone surrogate (possible in a Python string, never in Spark's UTF-8 text) is read as
    U+FFFD, one character for one, so offsets stay those of the text given.

    Examples
    --------
    >>> tok = load_tokenizer("tests/data/mbert/tokenizer.json")
    >>> encode(tok, ["", "中文"])[1].tokens
    ['中', '文']
    >>> encode(tok, ["a \\ud800 b"])[0].starts.tolist()
    [0, 4]
    """
    if not texts:
        return []
    texts, encodings = _encode_batch(tokenizer, texts)
    word_prefix = tokenizer_scheme(tokenizer).word_prefix
    out = []
    for text, enc in zip(texts, encodings):
        if not enc.ids:
            out.append(PieceEncoding.empty())
            continue
        spans = np.asarray(enc.offsets, dtype=np.int64).reshape(-1, 2)
        tokens = list(enc.tokens)
        starts = spans[:, 0]
        if word_prefix:
            starts = _skip_leading_space(text, tokens, starts, spans[:, 1], word_prefix)
        out.append(PieceEncoding(np.asarray(enc.ids, dtype=np.int64), starts, spans[:, 1], tokens))
    return out


def _encode_batch(tokenizer: Tokenizer, texts: Sequence[str]) -> tuple[list[str], list[Any]]:
    """The texts as encoded (a lone surrogate read as U+FFFD) and their encodings, no control tokens."""
    clean = [t if t.isascii() else _SURROGATE.sub("\ufffd", t) for t in texts]
    return clean, tokenizer.encode_batch(clean, add_special_tokens=False)


def _skip_leading_space(
    text: str, tokens: list[str], starts: np.ndarray, ends: np.ndarray, word_prefix: str
) -> np.ndarray:
    """Move the start of each piece marked as word-initial (``▁``, ``Ġ``) past the whitespace it stands for."""
    starts = starts.copy()
    for i, token in enumerate(tokens):
        if token.startswith(word_prefix):
            s = int(starts[i])
            while s < ends[i] and text[s].isspace():
                s += 1
            starts[i] = s
    return starts


@dataclass(frozen=True)
class FlatPieces:
    """The word pieces of many texts end to end: ids, ``[start, end)`` character spans, text offsets.

    Examples
    --------
    >>> FlatPieces.empty(2).offsets.tolist()
    [0, 0, 0]
    """

    ids: np.ndarray
    starts: np.ndarray
    ends: np.ndarray
    offsets: np.ndarray

    @classmethod
    def empty(cls, n_texts: int) -> FlatPieces:
        """The pieces of ``n_texts`` texts that have none."""
        z = np.zeros(0, dtype=np.int64)
        return cls(z, z, z, np.zeros(n_texts + 1, dtype=np.int64))


def encode_flat(tokenizer: Tokenizer, texts: Sequence[str]) -> FlatPieces:
    """``tokenization.encode`` of ``texts``, flat: the same pieces without one object per text.

    Examples
    --------
    >>> from sparkbert.runtime.tokenization import load_tokenizer
    >>> p = encode_flat(load_tokenizer("tests/data/mbert/tokenizer.json"), ["Hello [CLS]", "", "中文"])
    >>> p.offsets.tolist(), p.starts.tolist()
    ([0, 5, 5, 7], [0, 6, 7, 9, 10, 0, 1])
    """
    if not texts:
        return FlatPieces.empty(0)
    clean, encodings = _encode_batch(tokenizer, texts)
    word_prefix = tokenizer_scheme(tokenizer).word_prefix
    lengths = np.fromiter((len(e) for e in encodings), np.int64, len(encodings))
    offsets = np.zeros(len(encodings) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    total = int(offsets[-1])
    ids = np.fromiter(itertools.chain.from_iterable(e.ids for e in encodings), np.int64, total)
    spans = np.fromiter(
        itertools.chain.from_iterable(itertools.chain.from_iterable(e.offsets for e in encodings)),
        np.int64,
        2 * total,
    ).reshape(-1, 2)
    starts = spans[:, 0]
    if word_prefix:  # ▁ and Ġ: a word's first piece does not start on the space before it
        starts = np.concatenate(
            [
                _skip_leading_space(text, list(e.tokens), starts[a:b], spans[a:b, 1], word_prefix)
                for text, e, a, b in zip(clean, encodings, offsets[:-1].tolist(), offsets[1:].tolist())
            ]
            or [starts]
        )
    return FlatPieces(ids, starts, spans[:, 1], offsets)
