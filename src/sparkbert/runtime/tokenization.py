"""Word-piece tokenization with the model's own ``tokenizers`` pipeline.

Sentences are encoded whole, exactly as the model was trained (for mBERT cased:
no lower-casing, no accent stripping), without control tokens: the embedder adds
``[CLS]``/``[SEP]`` itself, per window. The tokenizer's added-token table is
emptied, so text a user types such as ``[CLS]`` or ``[MASK]`` is split like any
other punctuation and letters instead of being matched as a control token.

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

import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass

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
    spec["added_tokens"] = []
    spec["truncation"] = None
    spec["padding"] = None
    tokenizer = Tokenizer.from_str(json.dumps(spec))
    if lowercase and not normalizer_lowercases(spec.get("normalizer")):
        parts = [tokenizer.normalizer] if tokenizer.normalizer is not None else []
        tokenizer.normalizer = normalizers.Sequence([*parts, normalizers.Lowercase()])
    return tokenizer


def special_ids(tokenizer: Tokenizer) -> SpecialIds:
    """Look up ``[CLS]``, ``[SEP]``, ``[PAD]`` and ``[UNK]`` in the vocabulary.

    Examples
    --------
    >>> special_ids(load_tokenizer("tests/data/mbert/tokenizer.json"))
    SpecialIds(cls=101, sep=102, pad=0, unk=100)
    """
    ids = [tokenizer.token_to_id(t) for t in ("[CLS]", "[SEP]", "[PAD]", "[UNK]")]
    if any(i is None for i in ids):
        raise ModelIntegrityError("tokenizer.json lacks one of [CLS], [SEP], [PAD], [UNK] in its vocabulary.")
    return SpecialIds(*(int(i) for i in ids))  # type: ignore[arg-type]


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
    texts = [t if t.isascii() else _SURROGATE.sub("\ufffd", t) for t in texts]
    out = []
    for enc in tokenizer.encode_batch(texts, add_special_tokens=False):
        if not enc.ids:
            out.append(PieceEncoding.empty())
            continue
        spans = np.asarray(enc.offsets, dtype=np.int64).reshape(-1, 2)
        out.append(
            PieceEncoding(np.asarray(enc.ids, dtype=np.int64), spans[:, 0], spans[:, 1], list(enc.tokens))
        )
    return out
