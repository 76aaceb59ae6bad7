"""The built-in registry: names users type map to pinned Hub commits."""

from __future__ import annotations

import re

import pytest

from sparkbert.errors import ModelNotFoundError
from sparkbert.model import registry


def test_default_model_is_mbert_cased_at_its_pinned_commit() -> None:
    entry = registry.lookup("bert_base_multilingual_cased", "xx")
    assert entry.repo_id == "google-bert/bert-base-multilingual-cased"
    assert entry.revision == "3f076fdb1ab68d5b2880cb87a0886f315b8146f8"


def test_every_entry_pins_a_full_commit_of_an_org_repo() -> None:
    for entry in registry.entries():
        assert re.fullmatch(r"[0-9a-f]{40}", entry.revision), entry
        assert re.fullmatch(r"[\w.-]+/[\w.-]+", entry.repo_id), entry
        assert registry.lookup(entry.name, entry.lang) == entry
        assert entry.description


def test_spark_nlp_aliases_and_case_are_accepted() -> None:
    assert registry.lookup("bert_multi_cased", "xx") == registry.lookup("bert_base_multilingual_cased", "xx")
    assert registry.lookup("  BERT_Base_Cased ", "EN").repo_id == "google-bert/bert-base-cased"


def test_single_language_name_found_with_default_lang() -> None:
    assert registry.lookup("bert_base_uncased").lang == "en"


def test_unknown_name_lists_every_known_name() -> None:
    with pytest.raises(ModelNotFoundError) as info:
        registry.lookup("bert_large_cased", "en")
    message = str(info.value)
    assert isinstance(info.value, FileNotFoundError)
    assert "'bert_large_cased'" in message
    for entry in registry.entries():
        assert repr(entry.name) in message
    assert "org/name" in message  # says what else can be passed


def test_known_name_in_another_language_says_which_languages_exist() -> None:
    with pytest.raises(ModelNotFoundError, match=r"registered for 'xx'"):
        registry.lookup("bert_base_multilingual_cased", "de")


def test_names_include_aliases() -> None:
    listed = registry.names()
    assert "'bert_multi_cased' (xx)" in listed
    assert registry.is_registered("bert_multi_uncased")
    assert not registry.is_registered("google-bert/bert-base-cased")
