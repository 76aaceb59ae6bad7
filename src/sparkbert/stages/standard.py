"""The standard chains of stages, assembled in one place for the CLI, ``sparkbert.embed`` and benchmarks."""

from __future__ import annotations

from typing import Any

from sparkbert.settings import DEFAULT_BATCH_SIZE
from sparkbert.stages.bert_embeddings import BertEmbeddings
from sparkbert.stages.bert_sentence_embeddings import BertSentenceEmbeddings
from sparkbert.stages.document_assembler import DocumentAssembler
from sparkbert.stages.sentence_detector import SentenceDetector
from sparkbert.stages.sentence_embeddings import SentenceEmbeddings
from sparkbert.stages.tokenizer import Tokenizer


def standard_stages(
    model_path: str,
    *,
    sentence_embeddings: bool = False,
    pooling: str = "first",
    batch_size: int = DEFAULT_BATCH_SIZE,
    max_sentence_length: int | None = None,
    storage_ref: str | None = None,
    **bert_params: Any,
) -> list[Any]:
    """Return DocumentAssembler → SentenceDetector → Tokenizer → BertEmbeddings (→ SentenceEmbeddings).

    Reads column ``text``; writes ``document``, ``sentence``, ``token``, ``embeddings`` (and
    ``sentence_embeddings``). Extra keywords are BertEmbeddings params (``device``, ...).

    Examples
    --------
    >>> [type(s).__name__ for s in standard_stages("/models/m", sentence_embeddings=True)]
    ['DocumentAssembler', 'SentenceDetector', 'Tokenizer', 'BertEmbeddings', 'SentenceEmbeddings']
    """
    stages: list[Any] = [
        DocumentAssembler(inputCol="text", outputCol="document"),
        SentenceDetector(inputCols=["document"], outputCol="sentence"),
        Tokenizer(inputCols=["sentence"], outputCol="token"),
        BertEmbeddings(
            inputCols=["sentence", "token"],
            outputCol="embeddings",
            modelPath=model_path,
            poolingStrategy=pooling,
            batchSize=batch_size,
            maxSentenceLength=max_sentence_length,
            storageRef=storage_ref,
            **bert_params,
        ),
    ]
    if sentence_embeddings:
        stages.append(
            SentenceEmbeddings(inputCols=["sentence", "embeddings"], outputCol="sentence_embeddings")
        )
    return stages


def sentence_level_stages(
    model_path: str,
    level: str,
    *,
    pooling: str = "auto",
    batch_size: int | None = None,
    max_sentence_length: int | None = None,
    storage_ref: str | None = None,
    device: str = "auto",
) -> list[Any]:
    """Return DocumentAssembler (→ SentenceDetector for ``level="sentence"``) → BertSentenceEmbeddings.

    Reads column ``text``; writes one vector per sentence or per text into ``vectors``.

    Examples
    --------
    >>> [type(s).__name__ for s in sentence_level_stages("/models/m", "sentence")]
    ['DocumentAssembler', 'SentenceDetector', 'BertSentenceEmbeddings']
    """
    stages: list[Any] = [DocumentAssembler(inputCol="text", outputCol="document")]
    if level == "sentence":
        stages.append(SentenceDetector(inputCols=["document"], outputCol="sentence"))
    stages.append(
        BertSentenceEmbeddings(
            inputCols=["sentence" if level == "sentence" else "document"],
            outputCol="vectors",
            modelPath=model_path,
            poolingStrategy=pooling,
            batchSize=batch_size,
            maxSentenceLength=max_sentence_length,
            storageRef=storage_ref,
            device=device,
        )
    )
    return stages
