"""The runtime's word-piece tokenization equals the mBERT golden ids and offsets."""

from __future__ import annotations

import json

import pytest
from tests.conftest import MBERT

from sparkbert.runtime.tokenization import encode, load_tokenizer, special_ids, tokenizer_lowercases


@pytest.fixture(scope="module")
def tokenizer():  # type: ignore[no-untyped-def]
    return load_tokenizer(MBERT / "tokenizer.json")


def _golden() -> list[dict[str, object]]:
    with open(MBERT / "golden_tokenization.jsonl", encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def test_golden_tokenization_ids_and_offsets(tokenizer) -> None:  # type: ignore[no-untyped-def]
    cases = _golden()
    assert len(cases) == 395
    ids = special_ids(tokenizer)
    encodings = encode(tokenizer, [c["text"] for c in cases])  # type: ignore[misc]
    for case, enc in zip(cases, encodings):
        assert [ids.cls, *enc.ids.tolist(), ids.sep] == case["input_ids"], case["text"]
        assert ["[CLS]", *enc.tokens, "[SEP]"] == case["tokens"]
        spans = [[int(s), int(e)] for s, e in zip(enc.starts, enc.ends)]
        assert spans == case["offsets"][1:-1]  # type: ignore[index]


@pytest.mark.parametrize("text", ["[CLS]", "a [SEP] b", "[MASK][PAD][UNK]", "x[CLS]y"])
def test_typed_control_tokens_are_text(tokenizer, text: str) -> None:  # type: ignore[no-untyped-def]
    enc = encode(tokenizer, [text])[0]
    specials = {101, 102, 103, 0, 100}
    assert not specials.intersection(enc.ids.tolist())
    # every character of the brackets and letters is covered by some piece
    covered = {i for s, e in zip(enc.starts, enc.ends) for i in range(s, e)}
    assert all(i in covered for i, ch in enumerate(text) if not ch.isspace())


def test_no_accent_stripping_and_case_kept(tokenizer) -> None:  # type: ignore[no-untyped-def]
    enc = encode(tokenizer, ["Ünïcödé café"])[0]
    assert "".join(t.removeprefix("##") for t in enc.tokens) == "Ünïcödécafé"
    assert not tokenizer_lowercases(MBERT / "tokenizer.json")


def test_lowercase_option_keeps_offsets(tokenizer) -> None:  # type: ignore[no-untyped-def]
    lower = load_tokenizer(MBERT / "tokenizer.json", lowercase=True)
    text = "İstanbul ÉCOLE"
    enc = encode(lower, [text])[0]
    assert enc.starts[0] == 0 and enc.ends[-1] == len(text)
    assert all(t == t.lower() for t in enc.tokens if t != "[UNK]")
