"""SentencePiece (XLM-R tokenizer) checkpoints: paraphrase-multilingual-MiniLM's shape and XLM-RoBERTa;
and RoBERTa under its byte-level BPE.

The tokenizers are trained at test time on the UD sentences with XLM-R's control tokens; the
weights are random. References: sentence-transformers' ``encode`` for sentence vectors,
transformers' ``last_hidden_state`` for token vectors.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from tests.helpers.checkpoints import ud_sentences
from tests.helpers.sentencepiece import make_sentencepiece_checkpoint

from sparkbert import BertSentenceEmbeddings, embed, encode
from sparkbert.model import registry
from sparkbert.model.convert import convert_checkpoint
from sparkbert.runtime.tokenization import encode as encode_pieces
from sparkbert.runtime.tokenization import load_tokenizer, special_ids, tokenizer_scheme

EDGE_TEXTS = ["", "Hello  world", "  leading and trailing  ", "東京は晴れ。", "naïve café — ok?"]


def fitting(reference_model: Any, texts: list[str]) -> list[str]:
    """The texts sentence-transformers reads whole: it cuts at 128 pieces, sparkbert reads on in windows."""
    return [t for t in texts if len(reference_model.tokenizer(t)["input_ids"]) <= 128]


@pytest.fixture(scope="module", params=["bert", "xlm-roberta", "roberta"])
def sentencepiece_model(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Path, Any]:
    """(checkpoint folder, converted model directory, reference SentenceTransformer)."""
    root = tmp_path_factory.mktemp(f"sp-{request.param}")
    folder, reference = make_sentencepiece_checkpoint(root / "ckpt", architecture=request.param, seed=5)
    return folder, Path(convert_checkpoint(folder, root / "model").path), reference


def test_the_scheme_comes_from_tokenizer_json(sentencepiece_model: tuple[Path, Path, Any]) -> None:
    _, model_dir, _ = sentencepiece_model
    tokenizer = load_tokenizer(model_dir / "tokenizer.json")
    assert special_ids(tokenizer) == special_ids(load_tokenizer(model_dir / "tokenizer.json"))
    ids = special_ids(tokenizer)
    assert (ids.cls, ids.pad, ids.sep, ids.unk) == (0, 1, 2, 3)  # <s> <pad> </s> <unk>, XLM-R's ids
    config = json.loads((model_dir / "config.json").read_text())
    byte_level = config["model_type"] == "roberta"  # RoBERTa's byte-level BPE marks a space with Ġ
    assert tokenizer_scheme(tokenizer).word_prefix == ("\u0120" if byte_level else "\u2581")


@pytest.mark.parametrize("text", ["<s>", "a </s> b", "<pad><unk><mask>", "x<s>y"])
def test_typed_control_tokens_are_text(sentencepiece_model: tuple[Path, Path, Any], text: str) -> None:
    _, model_dir, _ = sentencepiece_model
    enc = encode_pieces(load_tokenizer(model_dir / "tokenizer.json"), [text])[0]
    assert not {0, 1, 2}.intersection(enc.ids.tolist())  # never <s>, <pad>, </s> from text
    covered = {i for s, e in zip(enc.starts, enc.ends) for i in range(s, e)}
    assert all(i in covered for i, ch in enumerate(text) if not ch.isspace())


def test_piece_spans_never_hold_the_space_before_a_word(sentencepiece_model: tuple[Path, Path, Any]) -> None:
    _, model_dir, _ = sentencepiece_model
    tokenizer = load_tokenizer(model_dir / "tokenizer.json")
    texts = ud_sentences(20) + EDGE_TEXTS
    for text, enc in zip(texts, encode_pieces(tokenizer, texts)):
        assert np.all(np.diff(enc.starts) >= 0) and np.all(np.diff(enc.ends) >= 0)
        for token, start, end in zip(enc.tokens, enc.starts.tolist(), enc.ends.tolist()):
            assert start <= end
            if start < end:
                assert not text[start].isspace(), (text, token, start, end)


@pytest.mark.reference
def test_auto_equals_sentence_transformers_in_12_languages(
    sentencepiece_model: tuple[Path, Path, Any],
) -> None:
    _, model_dir, reference_model = sentencepiece_model
    texts = fitting(reference_model, ud_sentences(10) + EDGE_TEXTS)
    assert len(texts) >= 100  # byte-level BPE spells some Thai and Hindi sentences in over 128 pieces
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = reference_model.encode(texts, batch_size=16, convert_to_numpy=True)
    ours = encode(texts, model=str(model_dir), batch_size=16)
    assert ours.shape == reference.shape == (len(texts), 32)
    assert float(np.abs(ours - reference).max()) <= 1e-5


@pytest.mark.reference
@pytest.mark.parametrize("pooling", ["mean_sqrt_len_tokens", "weightedmean", "lasttoken"])
def test_every_sentence_transformers_pooling_mode_equals_its_encode(tmp_path: Path, pooling: str) -> None:
    folder, reference_model = make_sentencepiece_checkpoint(
        tmp_path / "ckpt", architecture="xlm-roberta", seed=7, pooling=pooling
    )
    model_dir = convert_checkpoint(folder, tmp_path / "model").path
    texts = ud_sentences(3) + EDGE_TEXTS
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = reference_model.encode(texts, batch_size=16, convert_to_numpy=True)
    ours = encode(texts, model=str(model_dir), batch_size=16)  # auto: the checkpoint's own mode
    assert float(np.abs(ours - reference).max()) <= 1e-5
    short = {"mean_sqrt_len_tokens": "mean_sqrt_len"}.get(pooling, pooling)
    assert float(np.abs(encode(texts, model=str(model_dir), pooling=short) - ours).max()) <= 1e-6


@pytest.mark.reference
@pytest.mark.parametrize("dense", [False, True], ids=["concatenated", "concatenated-then-dense"])
def test_several_pooling_modes_are_concatenated_as_sentence_transformers_does(
    sentencepiece_model: tuple[Path, Path, Any], tmp_path: Path, dense: bool
) -> None:
    """``pooling_mode`` ("mean", "cls", "max") in that order, and a Dense layer taking all three."""
    import torch

    _, _, reference_model = sentencepiece_model
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from sentence_transformers import SentenceTransformer, models

        modules = [reference_model[0], models.Pooling(32, pooling_mode=("mean", "cls", "max"))]
        if dense:
            torch.manual_seed(3)
            modules.append(models.Dense(96, 16, activation_function=torch.nn.Tanh()))
        concatenating = SentenceTransformer(modules=modules, device="cpu")
        concatenating.save(str(tmp_path / "st"), safe_serialization=True)
        texts = fitting(concatenating, ud_sentences(3) + EDGE_TEXTS)
        reference = concatenating.encode(texts, batch_size=16, convert_to_numpy=True)
    model = convert_checkpoint(tmp_path / "st", tmp_path / "model")
    assert model.manifest["sentence"]["modules"]["pooling"] == "mean+cls+max"
    assert BertSentenceEmbeddings(modelPath=str(model.path)).getDimension() == (16 if dense else 96)
    ours = encode(texts, model=str(model.path), batch_size=16)
    assert ours.shape == reference.shape == (len(texts), 16 if dense else 96)
    assert float(np.abs(ours - reference).max()) <= 1e-5


@pytest.mark.reference
def test_legacy_pooling_keys_concatenate_in_sentence_transformers_order(
    sentencepiece_model: tuple[Path, Path, Any], tmp_path: Path
) -> None:
    """Boolean keys of older releases: cls, max, mean, ... whatever order the file lists them in."""
    import shutil

    folder, _, _ = sentencepiece_model
    shutil.copytree(folder, tmp_path / "st")
    legacy = {
        "pooling_mode_mean_tokens": True,
        "pooling_mode_max_tokens": True,
        "pooling_mode_cls_token": True,
    }
    (tmp_path / "st" / "1_Pooling" / "config.json").write_text(
        json.dumps({"word_embedding_dimension": 32, **legacy})
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from sentence_transformers import SentenceTransformer

        legacy_model = SentenceTransformer(str(tmp_path / "st"), device="cpu")
        texts = fitting(legacy_model, ud_sentences(2) + EDGE_TEXTS)
        reference = legacy_model.encode(texts, convert_to_numpy=True)
    model = convert_checkpoint(tmp_path / "st", tmp_path / "model")
    assert model.manifest["sentence"]["modules"]["pooling"] == "cls+max+mean"
    assert float(np.abs(encode(texts, model=str(model.path)) - reference).max()) <= 1e-5


@pytest.mark.reference
@pytest.mark.parametrize("sentencepiece_model", ["bert"], indirect=True)
def test_a_default_prompt_is_reported_not_applied(
    sentencepiece_model: tuple[Path, Path, Any], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """sentence-transformers prepends ``default_prompt_name``'s prompt; sparkbert says so and leaves it to the user."""
    import logging

    from sparkbert.cli.convert_info import model_facts

    _, _, reference_model = sentencepiece_model
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from sentence_transformers import SentenceTransformer

        prompted = SentenceTransformer(
            modules=list(reference_model),
            prompts={"query": "query: "},
            default_prompt_name="query",
            device="cpu",
        )
        prompted.save(str(tmp_path / "st"), safe_serialization=True)
        texts = fitting(prompted, ud_sentences(2) + EDGE_TEXTS[1:])
        reference = prompted.encode(texts, convert_to_numpy=True)
    with caplog.at_level(logging.WARNING, logger="sparkbert.model.st_modules"):
        model = convert_checkpoint(tmp_path / "st", tmp_path / "model")
    assert "prepends the prompt 'query: '" in caplog.text
    assert model.manifest["sentence"]["modules"]["default_prompt"] == "query: "
    assert "would prepend 'query: '" in model_facts(model)["sentence_vectors"]
    as_given = encode(texts, model=str(model.path))
    prepended = encode([f"query: {t}" for t in texts], model=str(model.path))
    assert float(np.abs(prepended - reference).max()) <= 1e-5  # what the warning advises
    assert float(np.abs(as_given - reference).max()) > 1e-3


@pytest.mark.reference
def test_do_lower_case_lowers_the_text_as_sentence_transformers_does(tmp_path: Path) -> None:
    folder, _ = make_sentencepiece_checkpoint(tmp_path / "ckpt", architecture="bert", seed=9)
    st_config = folder / "sentence_bert_config.json"
    st_config.write_text(json.dumps({**json.loads(st_config.read_text()), "do_lower_case": True}))
    texts = ["Hello World", "BERLIN IST GROSS.", "Ünïcode ÀÉÎ ÇA", *ud_sentences(2), *EDGE_TEXTS]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from sentence_transformers import SentenceTransformer

        reference = SentenceTransformer(str(folder), device="cpu").encode(texts, convert_to_numpy=True)
    model = convert_checkpoint(folder, tmp_path / "model")
    assert model.manifest["cased"] is False
    ours = encode(texts, model=str(model.path))
    assert float(np.abs(ours - reference).max()) <= 1e-5
    lowered = encode([t.lower() for t in texts[:3]], model=str(model.path))
    assert float(np.abs(lowered - ours[:3]).max()) <= 1e-6  # case no longer matters
    frame = embed(["Hello World"], str(model.path))
    assert list(frame.token) == ["Hello", "World"]  # tokens keep the text as written


@pytest.mark.reference
def test_token_vectors_equal_transformers(sentencepiece_model: tuple[Path, Path, Any]) -> None:
    """Each token's mean over the pieces covering its characters, from transformers' hidden states."""
    import torch

    _, model_dir, reference_model = sentencepiece_model
    hf_tokenizer = reference_model[0].tokenizer
    hf_model = reference_model[0].auto_model
    texts = fitting(reference_model, ud_sentences(2))
    frame = embed(texts, str(model_dir), pooling="mean")
    assert len(frame) > 0
    worst = 0.0
    for index, text in enumerate(texts):
        batch = hf_tokenizer(text, return_offsets_mapping=True, return_tensors="pt")
        offsets = batch.pop("offset_mapping")[0, 1:-1].tolist()  # without <s> and </s>
        with torch.no_grad():
            states = hf_model(**batch).last_hidden_state[0, 1:-1].numpy()
        starts = []
        for start, end in offsets:  # a word's first piece carries the space before it
            while start < end and text[start].isspace():
                start += 1
            starts.append(start)
        for row in frame[frame.text_index == index].itertuples():
            begin, end = row.begin, row.end + 1
            covering = [
                i for i, (s, (_, e)) in enumerate(zip(starts, offsets)) if s < end and e > begin and s < e
            ]
            expected = states[covering].mean(axis=0)
            worst = max(worst, float(np.abs(row.vector - expected).max()))
    assert worst <= 1e-4


@pytest.mark.reference
@pytest.mark.parametrize("sentencepiece_model", ["bert"], indirect=True)  # the entry's own shape
def test_the_registry_entry_downloads_and_serves_its_mean_pooling(
    sentencepiece_model: tuple[Path, Path, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pinned repo, served by a local Hub: only the files the runtime needs are fetched."""
    from tests.helpers.hub_server import FakeHub

    folder, _, reference_model = sentencepiece_model
    entry = registry.lookup("paraphrase_multilingual_minilm_l12_v2", "xx")
    assert (entry.repo_id, entry.revision) == (
        "sentence-transformers/paraphrase-multilingual-MiniLM-L12-v2",
        "e8f8c211226b894fcb81acc59f3b34ba3efd5f42",
    )
    monkeypatch.setenv("SPARKBERT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    monkeypatch.delenv("SPARKBERT_OFFLINE", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    extra = {"pytorch_model.bin": b"\x80\x04pickle", "sentencepiece.bpe.model": b"\x0a\x0bprotobuf"}
    with FakeHub() as server:
        monkeypatch.setenv("HF_ENDPOINT", server.endpoint)
        server.add_repo(entry.repo_id, folder, extra_files=extra, commit=entry.revision)
        stage = BertSentenceEmbeddings.pretrained("paraphrase_multilingual_minilm_l12_v2", "xx")
        fetched = server.requested_files(entry.repo_id)
    assert {"modules.json", "1_Pooling/config.json", "tokenizer.json", "model.safetensors"} <= set(fetched)
    assert not {"pytorch_model.bin", "sentencepiece.bpe.model"} & set(fetched)
    assert stage.getDimension() == 32
    texts = ud_sentences(1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = reference_model.encode(texts, convert_to_numpy=True)
    assert float(np.abs(encode(texts, model=stage.getModelPath()) - reference).max()) <= 1e-5


def test_flat_encoding_and_word_starts_follow_the_scheme(sentencepiece_model: tuple[Path, Path, Any]) -> None:
    """The embedder's flat path gives the same spans; isWordStart is true where a ▁ (byte-level: Ġ) piece,
    or the text's first piece, begins a token."""
    from sparkbert.annotation import DOCUMENT, Annotation
    from sparkbert.runtime.embedder import Embedder, EmbedderConfig
    from sparkbert.runtime.tokenization import encode_flat
    from sparkbert.text import tokenize

    _, model_dir, _ = sentencepiece_model
    tokenizer = load_tokenizer(model_dir / "tokenizer.json")
    texts = ud_sentences(3) + [t for t in EDGE_TEXTS if t.strip()]
    pieces = encode_pieces(tokenizer, texts)
    flat = encode_flat(tokenizer, texts)
    assert flat.starts.tolist() == [s for p in pieces for s in p.starts.tolist()]
    assert flat.ends.tolist() == [e for p in pieces for e in p.ends.tolist()]
    embedder = Embedder(EmbedderConfig.for_model(str(model_dir)))
    mark = tokenizer_scheme(tokenizer).word_prefix  # ▁, or Ġ for byte-level BPE
    starts_seen = 0
    for text, enc in zip(texts, pieces):
        sentence = Annotation(DOCUMENT, 0, len(text) - 1, text, {"sentence": "0"})
        tokens = tokenize([sentence])
        out = embedder.embed([[sentence]], [tokens])[0]
        assert len(out) == len(tokens)
        for token, annotation in zip(tokens, out):
            first = int(np.searchsorted(enc.ends, token.begin, side="right"))
            covered = first < len(enc) and enc.starts[first] <= token.end
            marked = (
                enc.tokens[first].startswith(mark) or first == 0
            )  # the text's first piece has none in BPE
            expected = covered and marked and enc.starts[first] >= token.begin
            assert annotation.metadata["isWordStart"] == ("true" if expected else "false"), (text, token)
            starts_seen += expected
    assert starts_seen > 20  # most words begin with a marked piece
