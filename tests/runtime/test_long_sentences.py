"""Long sentences: every token embedded through overlapping windows, checked against references."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from tests.conftest import load_ud

from sparkbert.annotation import DOCUMENT, Annotation
from sparkbert.model.convert import convert_checkpoint
from sparkbert.runtime.alignment import assign_windows, plan_windows
from sparkbert.runtime.embedder import Embedder, EmbedderConfig
from sparkbert.runtime.tokenization import encode, load_tokenizer
from sparkbert.text.tokens import tokenize

pytestmark = [pytest.mark.reference, pytest.mark.slow]


def _long_sentence(min_pieces: int, tokenizer_json: Path) -> str:
    words: list[str] = []
    tok = load_tokenizer(tokenizer_json)
    for lang in ("de", "ru", "hi", "en", "tr", "fr"):
        for record in load_ud(lang)[:60]:
            words.extend(str(record["text"]).rstrip(".!?。").split())
            text = " ".join(words)
            if len(encode(tok, [text])[0]) >= min_pieces:
                return text
    raise AssertionError("not enough text")


def _embed(
    model_dir: Path, text: str, max_len: int, pooling: str = "first"
) -> tuple[list[Annotation], list[Annotation]]:
    sentence = Annotation(DOCUMENT, 0, len(text) - 1, text, {"sentence": "0"})
    tokens = tokenize([sentence])
    config = EmbedderConfig.for_model(
        str(model_dir), max_sentence_length=max_len, pooling=pooling, batch_size=16
    )
    return tokens, Embedder(config).embed([[sentence]], [tokens])[0]


def test_thousand_piece_sentence_every_token_matches_its_window(tmp_path: Path) -> None:
    import torch
    from tests.helpers.checkpoints import make_random_checkpoint

    ckpt, model = make_random_checkpoint(tmp_path / "ckpt", seed=5, max_position_embeddings=1024)
    model_dir = Path(convert_checkpoint(ckpt, tmp_path / "model").path)
    text = _long_sentence(1000, ckpt / "tokenizer.json")
    enc = encode(load_tokenizer(ckpt / "tokenizer.json"), [text])[0]
    assert len(enc) >= 1000
    tokens, ours = _embed(model_dir, text, max_len=128)
    assert len(ours) == len(tokens) and all(a.metadata["noPieces"] == "false" for a in ours)

    # reference: transformers run once per window ([CLS] + the window's pieces + [SEP])
    windows = plan_windows(len(enc), 126)
    owner = assign_windows(len(enc), windows)
    starts = enc.starts
    worst = 0.0
    with torch.no_grad():
        hidden = [
            model(input_ids=torch.tensor([[101, *enc.ids[s:e].tolist(), 102]]))
            .last_hidden_state[0, 1:-1]
            .numpy()
            for s, e in windows
        ]
    for tok, ann in zip(tokens, ours):
        first = int(np.searchsorted(enc.ends, tok.begin, side="right"))
        assert starts[first] < tok.end + 1
        w = owner[first]
        expected = hidden[w][first - windows[w][0]]
        worst = max(worst, float(np.abs(np.asarray(ann.embeddings) - expected).max()))
    assert worst <= 1e-4

    # a single pass over the whole sentence (the model has 1024 positions) embeds every token too
    _, single = _embed(model_dir, text, max_len=1024)
    with torch.no_grad():
        full = (
            model(input_ids=torch.tensor([[101, *enc.ids.tolist(), 102]])).last_hidden_state[0, 1:-1].numpy()
        )
    for tok, ann in zip(tokens, single):
        first = int(np.searchsorted(enc.ends, tok.begin, side="right"))
        assert np.abs(np.asarray(ann.embeddings) - full[first]).max() <= 1e-4


def test_windows_approach_a_single_pass_on_a_real_model(minilm_model_dir: Path) -> None:
    """On trained weights, wider windows move every token towards its full-context vector.

    Windows cannot equal a single pass on a real model (attention sees less context), so this
    checks the direction: the mean cosine to the single-pass vector rises with the window.
    """
    text = _long_sentence(480, minilm_model_dir / "tokenizer.json")
    tokens, single = _embed(minilm_model_dir, text, max_len=512)
    b = np.array([x.embeddings for x in single])
    means = []
    for length in (64, 128, 256):
        _, windowed = _embed(minilm_model_dir, text, max_len=length)
        assert len(windowed) == len(tokens)
        a = np.array([x.embeddings for x in windowed])
        cosine = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
        means.append(float(cosine.mean()))
    assert means[0] < means[1] < means[2], means
    assert means[2] >= 0.85, means


@pytest.mark.spark
def test_a_model_with_fewer_positions_than_the_default_windows_within_them(
    tmp_path: Path, spark: object
) -> None:
    """Unset, maxSentenceLength is 128 or the model's own limit when smaller: the defaults work."""
    import torch
    from pyspark.ml import PipelineModel
    from tests.helpers.checkpoints import make_random_checkpoint

    import sparkbert
    from sparkbert import BertSentenceEmbeddings, InvalidParamError
    from sparkbert.stages.bert_embeddings import BertEmbeddings
    from sparkbert.stages.standard import standard_stages

    ckpt, model = make_random_checkpoint(tmp_path / "ckpt", seed=9, max_position_embeddings=64)
    model_dir = str(convert_checkpoint(ckpt, tmp_path / "model").path)
    with pytest.raises(InvalidParamError, match="'maxSentenceLength': 128.*from 4 to 64"):
        BertEmbeddings(modelPath=model_dir).setMaxSentenceLength(128)  # set by hand: still refused
    assert BertEmbeddings(modelPath=model_dir).getMaxSentenceLength() == 64
    assert BertSentenceEmbeddings(modelPath=model_dir).getMaxSentenceLength() == 64

    long_text = _long_sentence(150, ckpt / "tokenizer.json")
    short_text = str(load_ud("de")[0]["text"])
    df = spark.createDataFrame([(long_text,), (short_text,)], ["text"])  # type: ignore[attr-defined]
    rows = PipelineModel(stages=standard_stages(model_dir)).transform(df).collect()
    explicit = (
        PipelineModel(stages=standard_stages(model_dir, max_sentence_length=64)).transform(df).collect()
    )
    pieces = encode(load_tokenizer(ckpt / "tokenizer.json"), [s.result for s in rows[0].sentence])
    assert max(len(p) for p in pieces) > 64  # windows were needed
    for row, same in zip(rows, explicit):
        assert len(row.embeddings) == len(row.token)  # every token embedded
        assert [e.embeddings for e in row.embeddings] == [e.embeddings for e in same.embeddings]

    # a sentence that fits one window is what transformers gives
    (sentence,) = rows[1].sentence
    tokens = [(t.begin - sentence.begin, t.end - sentence.begin + 1) for t in rows[1].token]
    enc = encode(load_tokenizer(ckpt / "tokenizer.json"), [sentence.result])[0]
    with torch.no_grad():
        hidden = model(input_ids=torch.tensor([[101, *enc.ids.tolist(), 102]])).last_hidden_state[0, 1:-1]
    for (begin, _), ann in zip(tokens, rows[1].embeddings):
        first = int(np.searchsorted(enc.ends, begin, side="right"))
        assert np.abs(np.asarray(ann.embeddings) - hidden[first].numpy()).max() <= 1e-4

    # one vector per sentence, and the in-process helper, with their defaults
    vectors = (
        BertSentenceEmbeddings(modelPath=model_dir)
        .setInputCols("document")
        .transform(PipelineModel(stages=standard_stages(model_dir)[:1]).transform(df))
    )
    assert [len(r.sentence_embeddings) for r in vectors.collect()] == [1, 1]
    frame = sparkbert.embed([long_text], model_dir)
    assert len(frame) == sum(len(r.token) for r in rows[:1])
