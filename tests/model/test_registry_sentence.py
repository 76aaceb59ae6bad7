"""Registry entries for sentence vectors: LaBSE, mBERT's pooler and paraphrase-multilingual-MiniLM, at pinned commits."""

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


def test_the_multilingual_paraphrase_model_is_pinned() -> None:
    entry = registry.lookup("paraphrase_multilingual_minilm_l12_v2", "xx")
    assert (entry.repo_id, entry.revision) == (
        "sentence-transformers/paraphrase-multilingual-MiniLM-L12-v2",
        "e8f8c211226b894fcb81acc59f3b34ba3efd5f42",
    )
