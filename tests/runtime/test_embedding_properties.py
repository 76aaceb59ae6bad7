"""Property tests: random Unicode text through sentences, tokens, alignment and the Embedder.

Text is drawn from every plane and general category, with extra weight on astral characters,
combining marks, white space and format characters, text that looks like control tokens,
emoji sequences and words the vocabulary knows. Lone surrogates are included too: Spark hands
Python UTF-8 text, so they never reach a stage there, but LightPipeline runs the same code on
any Python string. The text goes through the pure functions the stages run (document,
sentences, tokens) and then

* the alignment functions with the model's real word pieces: each token's piece range is
  exactly the pieces overlapping it; windows cover every piece; pooling matches a direct sum;
* the Embedder with the tiny random-weight model: one finite, 32-wide embedding per token,
  its offsets and text the token's, in order, and the same vectors whether rows are embedded
  together or one at a time.
"""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sparkbert.annotation import WORD_EMBEDDINGS, Annotation
from sparkbert.runtime.alignment import (
    POOLING_STRATEGIES,
    assign_windows,
    plan_windows,
    pool,
    token_piece_ranges,
)
from sparkbert.runtime.embedder import Embedder, EmbedderConfig
from sparkbert.runtime.tokenization import encode, load_tokenizer
from sparkbert.text import detect_sentences, tokenize
from sparkbert.text.document import assemble_document

DIM = 32  # hidden size of the tiny model

_LITERALS = st.sampled_from(
    [
        "[CLS]", "[SEP]", "[MASK]", "[PAD]", "[UNK]", "[CLS][SEP]", "##", "##ing",
        "\u200b", "\u200c", "\u200d", "\ufeff", "\u202e", "\u2066", "\u00ad", "\u034f",
        "\r\n", "\r", "\n\n", "\t", "\u3000", "\u00a0", "\u2028", "\x00", "\x85",
        "e\u0301", "\u0301" * 5, "👨‍👩‍👧‍👦", "👍🏽", "🇩🇪", "1️⃣", "\ue000", "\U000f0000",
        "Hello", " wort", "東京", "ภาษาไทย", "Привет", "नमस्ते", "مرحبا", "한국어", "L'homme",
        ". ", "! ", "。", "? ", "...", "U.S.", "3.14",
    ]
)  # fmt: skip
_CHARS = st.one_of(
    st.characters(codec="utf-8"),  # every plane and category, surrogates excepted
    st.characters(min_codepoint=0x10000, codec="utf-8"),  # astral planes
    st.characters(categories=["Mn", "Mc", "Me"]),  # combining marks
    st.characters(categories=["Zs", "Zl", "Zp", "Cc", "Cf"]),  # white space, controls, format
    st.characters(categories=["Cs"]),  # lone surrogates (Python strings only)
)
TEXT = st.lists(st.one_of(_CHARS, _LITERALS), max_size=60).map("".join)


def _annotate(text: str | None) -> tuple[list[Annotation], list[Annotation]]:
    """What DocumentAssembler, SentenceDetector and Tokenizer make of ``text``."""
    sentences = [s for d in assemble_document(text) for s in detect_sentences(d)]
    return sentences, tokenize(sentences)


@pytest.fixture(scope="module")
def tokenizer(tiny_model_dir: Path) -> object:
    return load_tokenizer(tiny_model_dir / "tokenizer.json")


@settings(max_examples=80, deadline=None)
@given(
    texts=st.lists(st.one_of(st.none(), TEXT), min_size=1, max_size=3),
    pooling=st.sampled_from(POOLING_STRATEGIES),
    max_length=st.sampled_from([4, 7, 128]),
    batch_size=st.sampled_from([1, 3, 64]),
)
def test_random_text_gets_one_embedding_per_token(
    tiny_model_dir: Path, texts: list[str | None], pooling: str, max_length: int, batch_size: int
) -> None:
    annotated = [_annotate(t) for t in texts]
    sentence_rows = [s for s, _ in annotated]
    token_rows = [t for _, t in annotated]
    config = EmbedderConfig.for_model(
        str(tiny_model_dir), max_sentence_length=max_length, batch_size=batch_size, pooling=pooling
    )
    embedder = Embedder(config)
    out = embedder.embed(sentence_rows, token_rows)
    assert len(out) == len(texts)  # one output row per input row, none lost or invented
    for text, tokens, embeddings in zip(texts, token_rows, out):
        assert len(embeddings) == len(tokens)
        last_end = -1
        for tok, emb in zip(tokens, embeddings):
            assert emb.annotator_type == WORD_EMBEDDINGS
            assert (emb.begin, emb.end, emb.result) == (tok.begin, tok.end, tok.result)
            assert text is not None and text[emb.begin : emb.end + 1] == emb.result
            assert emb.begin > last_end  # in order, not overlapping
            last_end = emb.end
            assert emb.metadata["sentence"] == tok.metadata["sentence"]
            assert emb.metadata["token"] == tok.result
            vector = np.asarray(emb.embeddings, dtype=np.float32)
            assert vector.shape == (DIM,) and np.isfinite(vector).all()
            no_pieces = emb.metadata["noPieces"] == "true"
            assert no_pieces == (emb.metadata["pieceId"] == "-1")
            if no_pieces:
                assert not vector.any() and emb.metadata["isOOV"] == "false"
            else:
                assert vector.any()
    # each row alone gives the same vectors as all rows together (batching does not matter)
    for r in range(len(texts)):
        alone = embedder.embed([sentence_rows[r]], [token_rows[r]])[0]
        assert [a.metadata for a in alone] == [a.metadata for a in out[r]]
        for a, b in zip(alone, out[r]):
            assert np.allclose(a.embeddings, b.embeddings, atol=1e-5)


@settings(max_examples=150, deadline=None)
@given(text=TEXT)
def test_piece_ranges_are_exactly_the_overlapping_pieces(tokenizer: object, text: str) -> None:
    sentences, tokens = _annotate(text)
    encodings = encode(tokenizer, [s.result for s in sentences])  # type: ignore[arg-type]
    for sentence, enc in zip(sentences, encodings):
        starts, ends = enc.starts, enc.ends
        assert (np.diff(starts) >= 0).all() and (starts <= ends).all()  # as the alignment assumes
        assert all(sentence.result[s:e] for s, e in zip(starts, ends))  # pieces point into the text
        own = [t for t in tokens if t.metadata["sentence"] == sentence.metadata["sentence"]]
        spans = np.array(
            [[t.begin - sentence.begin, t.end + 1 - sentence.begin] for t in own], dtype=np.int64
        )
        lo, hi = token_piece_ranges(spans.reshape(-1, 2), starts, ends)
        assert len(lo) == len(hi) == len(own)
        assert (lo <= hi).all() and (np.diff(lo) >= 0).all() and (np.diff(hi) >= 0).all()
        for k, (begin, end) in enumerate(spans.reshape(-1, 2)):
            overlapping = [p for p in range(len(enc)) if starts[p] < end and ends[p] > begin]
            assert list(range(lo[k], hi[k])) == overlapping, (sentence.result, own[k].result, enc.tokens)


@settings(max_examples=200, deadline=None)
@given(n=st.integers(1, 3000), content=st.integers(2, 510))
def test_windows_cover_every_piece_and_each_piece_has_its_owner(n: int, content: int) -> None:
    windows = plan_windows(n, content)
    assert windows[0][0] == 0 and windows[-1][1] == n
    assert all(0 <= s < e <= n and e - s <= content for s, e in windows)
    assert all(a[0] < b[0] and a[1] < b[1] for a, b in pairwise(windows))  # in order
    assert all(b[0] <= a[1] for a, b in pairwise(windows))  # no gap between windows
    owner = assign_windows(n, windows)
    starts = np.array([windows[w][0] for w in owner])
    ends = np.array([windows[w][1] for w in owner])
    pieces = np.arange(n)
    assert ((starts <= pieces) & (pieces < ends)).all()


@settings(max_examples=200, deadline=None)
@given(
    n_pieces=st.integers(0, 20),
    ranges=st.lists(st.tuples(st.integers(0, 20), st.integers(0, 5)), max_size=10),
    strategy=st.sampled_from(POOLING_STRATEGIES),
    seed=st.integers(0, 2**32 - 1),
)
def test_pooling_matches_a_direct_computation(
    n_pieces: int, ranges: list[tuple[int, int]], strategy: str, seed: int
) -> None:
    vectors = np.random.default_rng(seed).standard_normal((n_pieces, 4)).astype(np.float32)
    lo = np.array([min(a, n_pieces) for a, _ in ranges], dtype=np.int64)
    hi = np.array([min(a + k, n_pieces) for a, k in ranges], dtype=np.int64)
    pooled = pool(vectors, lo, hi, strategy)
    assert pooled.shape == (len(ranges), 4) and pooled.dtype == np.float32
    for row, a, b in zip(pooled, lo, hi):
        if b <= a:
            assert not row.any()
            continue
        expected = {"first": vectors[a], "last": vectors[b - 1], "mean": vectors[a:b].mean(0)}[strategy]
        assert np.allclose(row, expected, atol=1e-6)
