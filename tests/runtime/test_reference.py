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
from sparkbert.model.directory import open_model_directory
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
    model_dir: Path,
    reference_model: object,
    tokenizer_dir: Path,
    limit: int | None = None,
    poolings: tuple[str, ...] = ("first", "mean"),
) -> dict[str, float]:
    """Max abs difference per pooling over the UD sentences (one reference pass for all)."""
    texts, sentences, tokens = _ud_inputs(limit)
    spans = [[(t.begin, t.end + 1) for t in row] for row in tokens]
    ref = reference_vectors(reference_model, tokenizer_dir, texts, spans, poolings)
    worst: dict[str, float] = {}
    for pooling in poolings:
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


def test_uncased_tokenizer_matches_transformers(tmp_path: Path) -> None:
    """An uncased checkpoint (as bert-base-multilingual-uncased: lower-cased, accents stripped).

    The normalizer changes the text's length (accents decompose and go), so every piece's
    offsets must still point into the text as written; the first 40 sentences of each language.
    """
    import json
    import shutil

    from tests.helpers.checkpoints import MBERT_TOKENIZER_DIR, make_random_checkpoint

    tokenizer_dir = tmp_path / "tokenizer"
    shutil.copytree(MBERT_TOKENIZER_DIR, tokenizer_dir)
    spec = json.loads((tokenizer_dir / "tokenizer.json").read_text())
    spec["normalizer"].update(lowercase=True, strip_accents=None)  # None: strip when lower-casing
    (tokenizer_dir / "tokenizer.json").write_text(json.dumps(spec))
    config = json.loads((tokenizer_dir / "tokenizer_config.json").read_text())
    (tokenizer_dir / "tokenizer_config.json").write_text(json.dumps({**config, "do_lower_case": True}))
    ckpt, model = make_random_checkpoint(tmp_path / "ckpt", seed=3, tokenizer_dir=tokenizer_dir)
    model_dir = Path(convert_checkpoint(ckpt, tmp_path / "model").path)
    assert not open_model_directory(model_dir).cased
    worst = _compare(model_dir, model, ckpt, limit=40)
    assert max(worst.values()) <= 1e-4, worst


def test_real_minilm_matches_transformers(minilm_model_dir: Path) -> None:
    """The real pretrained weights; the first 100 sentences of each language keep CI inside its budget.

    One pooling: how pieces are pooled does not depend on the weights (both poolings are
    checked above on all 4,800 sentences), and each pass here costs ~17 CPU-s.
    """
    from transformers import BertModel

    model = BertModel.from_pretrained(str(minilm_checkpoint())).eval()
    worst = _compare(minilm_model_dir, model, minilm_checkpoint(), limit=100, poolings=("first",))
    assert max(worst.values()) <= 1e-4, worst


def test_words_added_to_the_vocabulary_stay_whole(tmp_path: Path) -> None:
    """A fine-tuned checkpoint's added (non-special) tokens are single pieces, as in transformers."""
    from tests.helpers.checkpoints import make_random_checkpoint, perturb
    from transformers import AutoTokenizer

    folder, model = make_random_checkpoint(tmp_path / "ckpt", num_hidden_layers=1, seed=4)
    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    tokenizer.add_tokens(["covid19", "sparkbertword"])
    model.resize_token_embeddings(len(tokenizer), mean_resizing=False)
    perturb(model, 4)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    model_dir = convert_checkpoint(folder, tmp_path / "model").path
    texts = [
        "my covid19 test, sparkbertword!",
        "sparkbertword covid19",
        *[str(r["text"]) for r in load_ud("en")[:5]],
    ]
    sentences = [[Annotation(DOCUMENT, 0, len(t) - 1, t, {"sentence": "0"})] for t in texts]
    tokens = [tokenize(s) for s in sentences]
    config = EmbedderConfig.for_model(str(model_dir), max_sentence_length=512, pooling="first")
    ours = Embedder(config).embed(sentences, tokens)
    assert [a.metadata["pieceId"] for a in ours[0][1:2]] == [str(tokenizer.convert_tokens_to_ids("covid19"))]
    spans = [[(t.begin, t.end + 1) for t in row] for row in tokens]
    ref = reference_vectors(model, folder, texts, spans, ("first",))["first"]
    worst = max(float(np.abs(np.array([a.embeddings for a in row]) - r).max()) for row, r in zip(ours, ref))
    assert worst <= 1e-4
