"""The built-in registry of pretrained models: ``(name, lang)`` → Hub repo at a pinned commit.

``BertEmbeddings.pretrained(name, lang)`` looks the name up here. Every entry pins a full
commit hash, so a name always means the same weights, and a cached copy can be used offline
without asking the Hub what ``main`` points to today.

========================================  ====  ==============================================
name (aliases)                            lang  Hub repo @ commit
========================================  ====  ==============================================
``bert_base_multilingual_cased``          xx    ``google-bert/bert-base-multilingual-cased``
(``bert_multi_cased``)                          @ ``3f076fdb1ab68d5b2880cb87a0886f315b8146f8``
``bert_base_multilingual_uncased``        xx    ``google-bert/bert-base-multilingual-uncased``
(``bert_multi_uncased``)                        @ ``7cbf9a625e29989f6b9c6c2fa68234c304f7e38f``
``bert_base_cased``                       en    ``google-bert/bert-base-cased``
                                                @ ``cd5ef92a9fb2f889e972770a36d4ed042daf221e``
``bert_base_uncased``                     en    ``google-bert/bert-base-uncased``
                                                @ ``86b5e0934494bd15c9632b12f734a8a67f723594``
``sent_bert_multi_cased``                 xx    mBERT cased (as above), for
                                                ``BertSentenceEmbeddings``: its pooler output
``labse``                                 xx    ``sentence-transformers/LaBSE``
(``sent_labse``)                                @ ``836121a0533e5664b21c7aacc5d22951f2b8b25b``
``paraphrase_multilingual_minilm_l12_v2`` xx    ``sentence-transformers/paraphrase-multilingual-MiniLM-L12-v2``
                                                @ ``e8f8c211226b894fcb81acc59f3b34ba3efd5f42``
========================================  ====  ==============================================

The aliases are the names Spark NLP uses for the same checkpoints. Each commit is the one
that public projects pin for that repo (for mBERT cased: the snapshot with ``model.safetensors``
of 709,388,104 bytes, LFS sha256 ``22b9ecde…``; for LaBSE: ``model.safetensors`` of
1,883,734,344 bytes). The sentence models carry their sentence-transformers configuration
(LaBSE: ``[CLS]`` → Dense with tanh → L2 normalisation), which ``BertSentenceEmbeddings``
follows by default; paraphrase-multilingual-MiniLM-L12-v2 (a 12-layer, 384-wide BERT under
XLM-R's SentencePiece tokenizer, ``<s>``/``</s>``, 50+ languages) carries mean pooling. The
commits are those public projects pin; their file sizes and hashes are checked against the
Hub's own metadata at download time.

Examples
--------
>>> entry = lookup("bert_base_multilingual_cased", "xx")
>>> entry.repo_id, entry.revision[:7]
('google-bert/bert-base-multilingual-cased', '3f076fd')
>>> lookup("bert_multi_cased").repo_id
'google-bert/bert-base-multilingual-cased'
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from sparkbert.errors import ModelNotFoundError
from sparkbert.settings import DEFAULT_LANG


@dataclass(frozen=True)
class RegistryEntry:
    """A pretrained model the registry knows by name.

    Parameters
    ----------
    name : str
        The name users pass to ``pretrained`` (lower-case, underscores).
    lang : str
        Language code; ``"xx"`` for multilingual models (as Spark NLP).
    repo_id : str
        The Hugging Face Hub repo, ``org/name``.
    revision : str
        The pinned 40-hex commit of that repo.
    description : str
        One line for listings.
    aliases : tuple of str
        Other names that mean this entry.

    Examples
    --------
    >>> lookup("bert_base_cased", "en").description
    'BERT-Base cased, English (12 layers, hidden 768)'
    """

    name: str
    lang: str
    repo_id: str
    revision: str
    description: str
    aliases: tuple[str, ...] = ()


_ENTRIES: tuple[RegistryEntry, ...] = (
    RegistryEntry(
        name="bert_base_multilingual_cased",
        lang="xx",
        repo_id="google-bert/bert-base-multilingual-cased",
        revision="3f076fdb1ab68d5b2880cb87a0886f315b8146f8",
        description="mBERT cased, 104 languages (12 layers, hidden 768, 119,547 word pieces)",
        aliases=("bert_multi_cased",),
    ),
    RegistryEntry(
        name="bert_base_multilingual_uncased",
        lang="xx",
        repo_id="google-bert/bert-base-multilingual-uncased",
        revision="7cbf9a625e29989f6b9c6c2fa68234c304f7e38f",
        description="mBERT uncased, 102 languages (12 layers, hidden 768, 105,879 word pieces)",
        aliases=("bert_multi_uncased",),
    ),
    RegistryEntry(
        name="bert_base_cased",
        lang="en",
        repo_id="google-bert/bert-base-cased",
        revision="cd5ef92a9fb2f889e972770a36d4ed042daf221e",
        description="BERT-Base cased, English (12 layers, hidden 768)",
    ),
    RegistryEntry(
        name="bert_base_uncased",
        lang="en",
        repo_id="google-bert/bert-base-uncased",
        revision="86b5e0934494bd15c9632b12f734a8a67f723594",
        description="BERT-Base uncased, English (12 layers, hidden 768)",
    ),
    RegistryEntry(
        name="sent_bert_multi_cased",
        lang="xx",
        repo_id="google-bert/bert-base-multilingual-cased",
        revision="3f076fdb1ab68d5b2880cb87a0886f315b8146f8",
        description="mBERT cased's pooler output as a sentence vector (Spark NLP's sent_bert_multi_cased)",
    ),
    RegistryEntry(
        name="labse",
        lang="xx",
        repo_id="sentence-transformers/LaBSE",
        revision="836121a0533e5664b21c7aacc5d22951f2b8b25b",
        description="LaBSE sentence vectors, 109 languages ([CLS], Dense tanh, normalised; 768)",
        aliases=("sent_labse",),
    ),
    RegistryEntry(
        name="paraphrase_multilingual_minilm_l12_v2",
        lang="xx",
        repo_id="sentence-transformers/paraphrase-multilingual-MiniLM-L12-v2",
        revision="e8f8c211226b894fcb81acc59f3b34ba3efd5f42",
        description="Paraphrase sentence vectors, 50+ languages (12 layers, 384, XLM-R tokenizer, mean)",
    ),
)


def entries() -> Iterator[RegistryEntry]:
    """Iterate over the registry's entries, in listing order.

    Examples
    --------
    >>> [e.name for e in entries()][:2]
    ['bert_base_multilingual_cased', 'bert_base_multilingual_uncased']
    """
    return iter(_ENTRIES)


def names() -> list[str]:
    """Return every ``name (lang)`` the registry knows, aliases included, for messages.

    Examples
    --------
    >>> names()[0]
    "'bert_base_multilingual_cased' (xx)"
    """
    out: list[str] = []
    for entry in _ENTRIES:
        out.append(f"{entry.name!r} ({entry.lang})")
        out.extend(f"{alias!r} ({entry.lang})" for alias in entry.aliases)
    return out


def is_registered(name: str) -> bool:
    """Return True if ``name`` is a registry name or alias, in any language.

    Examples
    --------
    >>> is_registered("bert_base_uncased"), is_registered("google-bert/bert-base-uncased")
    (True, False)
    """
    key = name.strip().lower()
    return any(key == e.name or key in e.aliases for e in _ENTRIES)


def lookup(name: str, lang: str = DEFAULT_LANG) -> RegistryEntry:
    """Return the entry for ``(name, lang)``.

    Parameters
    ----------
    name : str
        A registry name or alias; case and surrounding spaces are ignored.
    lang : str
        Its language code. A name registered under a single language is also found when
        ``lang`` is the default ``"xx"`` (so ``lookup("bert_base_cased")`` works).

    Raises
    ------
    ModelNotFoundError
        No such name, or not in that language; the message lists what the registry holds.

    Examples
    --------
    >>> lookup("bert_base_uncased").lang
    'en'
    >>> try:
    ...     lookup("bert_large_cased", "en")
    ... except FileNotFoundError as e:
    ...     print(str(e)[:62])
    Unknown pretrained model 'bert_large_cased' (lang 'en'). Known
    """
    key = name.strip().lower()
    code = (lang or DEFAULT_LANG).strip().lower()
    matches = [e for e in _ENTRIES if key == e.name or key in e.aliases]
    for entry in matches:
        if entry.lang == code:
            return entry
    if len(matches) == 1 and code == DEFAULT_LANG:
        return matches[0]
    known = ", ".join(names())
    if matches:
        langs = ", ".join(repr(e.lang) for e in matches)
        raise ModelNotFoundError(
            f"Pretrained model {name!r} has no language {lang!r}: it is registered for {langs}. Known models: {known}."
        )
    raise ModelNotFoundError(
        f"Unknown pretrained model {name!r} (lang {lang!r}). Known models: {known}. "
        "You can also pass a Hugging Face repo id 'org/name[@revision]' or a local folder."
    )


__all__ = ["RegistryEntry", "entries", "is_registered", "lookup", "names"]
