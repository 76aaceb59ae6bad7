"""The tokenizer of a converted model: copied byte-identical, or built from vocab.txt."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from tests.helpers.checkpoints import MBERT_TOKENIZER_DIR, make_numpy_checkpoint, ud_sentences
from tokenizers import Tokenizer

from sparkbert.model.convert import convert_checkpoint
from sparkbert.model.tokenizer_files import build_wordpiece_tokenizer, is_cased

TRICKY = [
    "Héllo WÖRLD, naïve café — ¿qué tal?",
    "東京タワーは1958年に完成した。北京欢迎你！",
    "한국어 문장과 emoji 🙂👍 and ZWJ 👩‍👩‍👧",
    "Control\u0000chars\u200band\ttabs\r\nnew lines",
    "unaffable unbelievable ##not-a-prefix [CLS] [MASK] [UNK]",
    "Ελληνικά, русский, العربية, हिन्दी, ไทย",
    "",
]


def _ids(tokenizer: Tokenizer, texts: list[str]) -> list[list[int]]:
    tokenizer.no_padding()
    tokenizer.no_truncation()
    return [e.ids for e in tokenizer.encode_batch(texts)]


@pytest.fixture(scope="module")
def texts() -> list[str]:
    return ud_sentences(15) + TRICKY


@pytest.mark.parametrize("folder", ["mbert", "minilm"])
def test_built_tokenizer_matches_tokenizer_json(
    folder: str, texts: list[str], request: pytest.FixtureRequest
) -> None:
    source = MBERT_TOKENIZER_DIR if folder == "mbert" else request.getfixturevalue("minilm_dir")
    config = json.loads((source / "tokenizer_config.json").read_text())
    specials = json.loads((source / "special_tokens_map.json").read_text())
    built = build_wordpiece_tokenizer(source / "vocab.txt", config, specials)
    given = Tokenizer.from_file(str(source / "tokenizer.json"))
    assert _ids(built, texts) == _ids(given, texts)
    pair = ("Guten Tag", "Wie geht's?")
    assert built.encode(*pair).type_ids == given.encode(*pair).type_ids


def test_vocab_only_checkpoint_converts_with_an_equivalent_tokenizer(
    tmp_path: Path, texts: list[str]
) -> None:
    folder = make_numpy_checkpoint(
        tmp_path / "ckpt", tokenizer_files=("vocab.txt", "tokenizer_config.json", "special_tokens_map.json")
    )
    assert not (folder / "tokenizer.json").exists()
    directory = convert_checkpoint(folder, tmp_path / "out")
    assert directory.cased
    assert "vocab.txt" in directory.manifest["source_files"]
    built = Tokenizer.from_file(str(directory.tokenizer_path))
    assert _ids(built, texts) == _ids(Tokenizer.from_file(str(MBERT_TOKENIZER_DIR / "tokenizer.json")), texts)


def test_builds_cased_unless_do_lower_case(tmp_path: Path) -> None:
    vocab = tmp_path / "vocab.txt"
    shutil.copyfile(MBERT_TOKENIZER_DIR / "vocab.txt", vocab)
    assert "Berlin" in build_wordpiece_tokenizer(vocab, {}).encode("Berlin").tokens
    lowered = build_wordpiece_tokenizer(vocab, {"do_lower_case": True}).encode("Berlin Café").tokens[1:-1]
    # lower-casing also strips accents, as BERT's does
    assert "".join(t.removeprefix("##") for t in lowered) == "berlincafe"
    kept = build_wordpiece_tokenizer(vocab, {"do_lower_case": True, "strip_accents": False}).encode("Café")
    assert "".join(t.removeprefix("##") for t in kept.tokens[1:-1]) == "café"


def test_tokenizer_json_is_copied_byte_identical(minilm_dir: Path, minilm_fp32: object) -> None:
    copied = minilm_fp32.tokenizer_path  # type: ignore[attr-defined]
    assert copied.read_bytes() == (minilm_dir / "tokenizer.json").read_bytes()  # truncation/padding kept
    assert minilm_fp32.cased is False  # type: ignore[attr-defined]


def test_casing_detection() -> None:
    assert is_cased({"normalizer": {"type": "BertNormalizer", "lowercase": False}}, {"do_lower_case": True})
    assert not is_cased(
        {"normalizer": {"type": "Sequence", "normalizers": [{"type": "NFD"}, {"type": "Lowercase"}]}}
    )
    assert not is_cased({"normalizer": None}, {"do_lower_case": True})
    assert is_cased({"normalizer": None})


def test_a_tokenizer_without_its_control_tokens_fails_at_conversion(tmp_path: Path) -> None:
    """The runtime reads the control tokens from the post-processor; one it cannot find is named now."""
    from sparkbert.errors import ModelIntegrityError

    folder = make_numpy_checkpoint(tmp_path / "ckpt", num_hidden_layers=1)
    spec = json.loads((folder / "tokenizer.json").read_text(encoding="utf-8"))
    spec["post_processor"] = {"type": "RobertaProcessing", "cls": ["<s>", 0], "sep": ["</s>", 2]}
    (folder / "tokenizer.json").write_text(json.dumps(spec), encoding="utf-8")
    with pytest.raises(ModelIntegrityError, match=r"lacks the control token\(s\) <s>, </s>"):
        convert_checkpoint(folder, tmp_path / "out")
    assert not (tmp_path / "out").exists()
