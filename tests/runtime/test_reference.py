"""BertEmbeddings' core against Hugging Face transformers on the UD sentences of 12 languages.

For the same checkpoint, each token's vector must equal ``BertModel(...).last_hidden_state``
at the token's first piece (or the mean of its pieces), max abs difference <= 1e-4.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from tests.conftest import UD_LANGS, load_ud, minilm_checkpoint
from tests.runtime.reference import reference_vectors

from sparkbert.annotation import DOCUMENT, Annotation
from sparkbert.model.convert import convert_checkpoint
from sparkbert.runtime.embedder import Embedder, EmbedderConfig
from sparkbert.text.tokens import tokenize

pytestmark = [pytest.mark.reference, pytest.mark.slow]


def _ud_inputs(limit: int | None = None) -> tuple[list[str], list[list[Annotation]], list[list[Annotation]]]:
    """All 400 UD sentences of each of the 12 languages, each one sentence with its tokens."""
    texts, sentences, tokens = [], [], []
    for lang in UD_LANGS:
        for record in load_ud(lang)[:limit]:
            text = str(record["text"])
            sentence = Annotation(DOCUMENT, 0, len(text) - 1, text, {"sentence": "0"})
            texts.append(text)
            sentences.append([sentence])
            tokens.append(tokenize([sentence]))
    return texts, sentences, tokens


def _compare(
    model_dir: Path, reference_model: object, tokenizer_dir: Path, limit: int | None = None
) -> dict[str, float]:
    """Max abs difference per pooling over the UD sentences (one reference pass for both)."""
    texts, sentences, tokens = _ud_inputs(limit)
    spans = [[(t.begin, t.end + 1) for t in row] for row in tokens]
    ref = reference_vectors(reference_model, tokenizer_dir, texts, spans, ("first", "mean"))
    worst: dict[str, float] = {}
    for pooling in ("first", "mean"):
        config = EmbedderConfig.for_model(
            str(model_dir), max_sentence_length=512, pooling=pooling, batch_size=32
        )
        ours = Embedder(config).embed(sentences, tokens)
        worst[pooling] = 0.0
        for row_ours, row_tokens, row_ref in zip(ours, tokens, ref[pooling]):
            assert len(row_ours) == len(row_tokens)  # every token embedded
            got = np.array([a.embeddings for a in row_ours], dtype=np.float32)
            worst[pooling] = max(worst[pooling], float(np.abs(got - row_ref).max()))
    return worst


@pytest.mark.parametrize("layout", ["hf", "bert"])
def test_random_weight_mbert_tokenizer_matches_transformers(
    layout: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    from tests.helpers.checkpoints import make_random_checkpoint

    root = tmp_path_factory.mktemp(f"ref-{layout}")
    ckpt, model = make_random_checkpoint(root / "ckpt", layout=layout, seed=7)  # type: ignore[arg-type]
    model_dir = convert_checkpoint(ckpt, root / "model").path
    worst = _compare(Path(model_dir), model, ckpt)
    assert max(worst.values()) <= 1e-4, worst


def test_real_minilm_matches_transformers(minilm_model_dir: Path) -> None:
    """The real pretrained weights; the first 100 sentences of each language keep CI inside its budget."""
    from transformers import BertModel

    model = BertModel.from_pretrained(str(minilm_checkpoint())).eval()
    worst = _compare(minilm_model_dir, model, minilm_checkpoint(), limit=100)
    assert max(worst.values()) <= 1e-4, worst
