"""Registry entries for sentence vectors: LaBSE and mBERT's pooler, at pinned commits."""

from __future__ import annotations

from sparkbert.model import registry


def test_sentence_models_are_registered_at_pinned_commits() -> None:
    labse = registry.lookup("labse", "xx")
    assert (labse.repo_id, labse.revision) == (
        "sentence-transformers/LaBSE",
        "836121a0533e5664b21c7aacc5d22951f2b8b25b",
    )
    assert registry.lookup("sent_labse") == labse
    pooler = registry.lookup("sent_bert_multi_cased", "xx")
    mbert = registry.lookup("bert_multi_cased", "xx")
    # the same weights (one download, one conversion), used through their pooler
    assert (pooler.repo_id, pooler.revision) == (mbert.repo_id, mbert.revision)


def test_models_the_runtime_cannot_serve_are_not_listed() -> None:
    assert not registry.is_registered("paraphrase_multilingual_minilm_l12_v2")
    assert "SentencePiece" in (registry.__doc__ or "")
