"""The tokenizer of a model directory: copied from a checkpoint, or built from ``vocab.txt``.

A checkpoint's ``tokenizer.json`` is copied byte-identical (the runtime turns its
truncation and padding off). A checkpoint with only ``vocab.txt`` gets the pipeline of
Hugging Face's ``BertTokenizerFast``, with options from ``tokenizer_config.json``:

| step | from |
| --- | --- |
| ``BertNormalizer`` | ``do_lower_case`` (default False: never lower-case unless asked), ``strip_accents``, ``tokenize_chinese_chars`` |
| ``BertPreTokenizer`` | whitespace and punctuation splits |
| ``WordPiece`` | ``vocab.txt``, ``##`` continuation, ``[UNK]`` |
| ``TemplateProcessing`` | ``[CLS] $A [SEP]`` (pairs ``[CLS] $A [SEP] $B:1 [SEP]:1``) |

Examples
--------
>>> is_cased({"normalizer": {"type": "BertNormalizer", "lowercase": True}})
False
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sparkbert.errors import ModelIntegrityError

logger = logging.getLogger(__name__)

TOKENIZER_JSON = "tokenizer.json"
#: The tokenizer files of a Hugging Face checkpoint that conversion reads (any of them may be absent).
TOKENIZER_FILES = (TOKENIZER_JSON, "vocab.txt", "tokenizer_config.json", "special_tokens_map.json")
VOCAB_TXT = "vocab.txt"
TOKENIZER_CONFIG = "tokenizer_config.json"
SPECIAL_TOKENS_MAP = "special_tokens_map.json"
_DEFAULT_SPECIALS = {
    "unk_token": "[UNK]",
    "sep_token": "[SEP]",
    "pad_token": "[PAD]",
    "cls_token": "[CLS]",
    "mask_token": "[MASK]",
}


def _load_optional_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as e:
        raise ModelIntegrityError(f"{path} is not valid JSON: {e}") from None
    return data if isinstance(data, dict) else {}


def normalizer_lowercases(normalizer: Mapping[str, Any] | None) -> bool | None:
    """Return whether a tokenizer.json normalizer lower-cases (None: cannot tell); the one place that decides."""
    if not normalizer:
        return None
    kind = normalizer.get("type")
    if kind == "BertNormalizer":
        return bool(normalizer.get("lowercase", True))
    if kind == "Lowercase":
        return True
    if kind == "Sequence":
        answers = [normalizer_lowercases(n) for n in normalizer.get("normalizers", [])]
        return any(answers) if any(a is not None for a in answers) else None
    return None


def is_cased(tokenizer_json: Mapping[str, Any], tokenizer_config: Mapping[str, Any] | None = None) -> bool:
    """Return False when the tokenizer lower-cases its input.

    The ``tokenizer.json`` normalizer decides; failing that, ``do_lower_case`` in
    ``tokenizer_config.json``; failing both, the tokenizer is taken as cased.

    Examples
    --------
    >>> is_cased({"normalizer": None}, {"do_lower_case": True})
    False
    >>> is_cased({"normalizer": {"type": "BertNormalizer", "lowercase": False}})
    True
    """
    lower = normalizer_lowercases(tokenizer_json.get("normalizer"))
    if lower is None:
        lower = bool((tokenizer_config or {}).get("do_lower_case", False))
    return not lower


def lowercase_first(path: Path) -> None:
    """Make the ``tokenizer.json`` at ``path`` lower-case its input before anything else.

    What sentence-transformers does for ``do_lower_case``: a ``Lowercase`` normalizer ahead of
    the tokenizer's own, unless it already has one. Offsets still point into the original text.

    Examples
    --------
    >>> import tempfile
    >>> from tokenizers import Tokenizer, models, normalizers
    >>> path = Path(tempfile.mkdtemp()) / "tokenizer.json"
    >>> tokenizer = Tokenizer(models.WordLevel({"hi": 0, "[UNK]": 1}, unk_token="[UNK]"))
    >>> tokenizer.normalizer = normalizers.NFC()
    >>> tokenizer.save(str(path))
    >>> lowercase_first(path)
    >>> [n["type"] for n in json.loads(path.read_text())["normalizer"]["normalizers"]]
    ['Lowercase', 'NFC']
    """
    data = json.loads(path.read_text(encoding="utf-8"))
    current = data.get("normalizer")
    inner = current.get("normalizers", []) if current and current.get("type") == "Sequence" else [current]
    if any(n and n.get("type") == "Lowercase" for n in inner):
        return
    data["normalizer"] = {
        "type": "Sequence",
        "normalizers": [{"type": "Lowercase"}, *(n for n in inner if n)],
    }
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")


def _token(value: object, default: str) -> str:
    if isinstance(value, dict):
        value = value.get("content")
    return value if isinstance(value, str) and value else default


def build_wordpiece_tokenizer(
    vocab_path: Path,
    tokenizer_config: Mapping[str, Any],
    special_tokens_map: Mapping[str, Any] | None = None,
) -> Any:
    """Build the ``BertTokenizerFast`` pipeline from ``vocab.txt`` and its config.

    Returns a ``tokenizers.Tokenizer``. Lower-cases only when ``do_lower_case`` is true.

    Examples
    --------
    >>> import tempfile
    >>> vocab = Path(tempfile.mkdtemp()) / "vocab.txt"
    >>> _ = vocab.write_text("[PAD]\\n[UNK]\\n[CLS]\\n[SEP]\\n[MASK]\\nHello\\n##s\\n")
    >>> build_wordpiece_tokenizer(vocab, {}).encode("Hellos").tokens
    ['[CLS]', 'Hello', '##s', '[SEP]']
    """
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    specials = {**_DEFAULT_SPECIALS}
    for source in (special_tokens_map or {}, tokenizer_config):
        for key in _DEFAULT_SPECIALS:
            if key in source:
                specials[key] = _token(source[key], specials[key])
    vocab: dict[str, int] = {}
    with open(vocab_path, encoding="utf-8") as f:
        for index, line in enumerate(f):  # ids are line numbers, as in transformers' load_vocab
            vocab[line.rstrip("\n")] = index
    for key, token in specials.items():
        if token not in vocab:
            raise ModelIntegrityError(f"{vocab_path} lacks the special token {token!r} ({key})")
    lower = bool(tokenizer_config.get("do_lower_case", False))
    strip_accents = tokenizer_config.get("strip_accents")
    tokenizer = Tokenizer(
        models.WordPiece(vocab, unk_token=specials["unk_token"], continuing_subword_prefix="##")
    )
    tokenizer.normalizer = normalizers.BertNormalizer(
        clean_text=True,
        handle_chinese_chars=bool(tokenizer_config.get("tokenize_chinese_chars", True)),
        strip_accents=None if strip_accents is None else bool(strip_accents),
        lowercase=lower,
    )
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    cls, sep = specials["cls_token"], specials["sep_token"]
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{cls}:0 $A:0 {sep}:0",
        pair=f"{cls}:0 $A:0 {sep}:0 $B:1 {sep}:1",
        special_tokens=[(cls, vocab[cls]), (sep, vocab[sep])],
    )
    tokenizer.decoder = decoders.WordPiece(prefix="##")
    tokenizer.add_special_tokens(list(dict.fromkeys(specials.values())))
    return tokenizer


def prepare_tokenizer(checkpoint: Path, dest: Path, *, vocab_size: int) -> tuple[bool, list[str]]:
    """Write ``dest`` (a ``tokenizer.json``) for a checkpoint; return (cased, files used).

    Raises
    ------
    ModelIntegrityError
        No tokenizer files, a tokenizer that does not load, one whose ids reach past the
        model's ``vocab_size``, or one whose control tokens the runtime cannot find.

    Examples
    --------
    >>> import tempfile
    >>> prepare_tokenizer(Path(tempfile.mkdtemp()), Path("tokenizer.json"), vocab_size=10)
    Traceback (most recent call last):
    ...
    sparkbert.errors.ModelIntegrityError: ... has neither tokenizer.json nor vocab.txt
    """
    from tokenizers import Tokenizer

    config = _load_optional_json(checkpoint / TOKENIZER_CONFIG)
    used = [name for name in (TOKENIZER_CONFIG, SPECIAL_TOKENS_MAP) if (checkpoint / name).is_file()]
    if (checkpoint / TOKENIZER_JSON).is_file():
        shutil.copyfile(checkpoint / TOKENIZER_JSON, dest)
        used.append(TOKENIZER_JSON)
    elif (checkpoint / VOCAB_TXT).is_file():
        specials = _load_optional_json(checkpoint / SPECIAL_TOKENS_MAP)
        build_wordpiece_tokenizer(checkpoint / VOCAB_TXT, config, specials).save(str(dest))
        used.append(VOCAB_TXT)
        logger.info("Built %s from %s", dest.name, checkpoint / VOCAB_TXT)
    else:
        raise ModelIntegrityError(f"{checkpoint} has neither {TOKENIZER_JSON} nor {VOCAB_TXT}")
    try:
        tokenizer = Tokenizer.from_file(str(dest))
    except Exception as e:  # tokenizers raises a plain Exception
        raise ModelIntegrityError(f"{checkpoint / TOKENIZER_JSON} does not load: {e}") from e
    size = tokenizer.get_vocab_size(with_added_tokens=True)
    if size > vocab_size:
        raise ModelIntegrityError(
            f"{checkpoint}: the tokenizer has {size} ids but the model only {vocab_size} embeddings"
        )
    from sparkbert.runtime.tokenization import TokenizerScheme

    spec = json.loads(dest.read_text(encoding="utf-8"))
    TokenizerScheme.from_spec(spec)  # what the runtime reads first: fail here, not at the first batch
    return is_cased(spec, config), sorted(used)


__all__ = ["build_wordpiece_tokenizer", "is_cased", "lowercase_first", "prepare_tokenizer"]
