"""sparkbert: multilingual BERT embeddings as pyspark.ml annotators, on ONNX Runtime.

Annotation columns use exactly Spark NLP's schema, so pipelines move over unchanged::

    from pyspark.ml import Pipeline
    from sparkbert import DocumentAssembler, SentenceDetector, Tokenizer, BertEmbeddings

    pipeline = Pipeline(stages=[
        DocumentAssembler().setInputCol("text").setOutputCol("document"),
        SentenceDetector().setInputCols("document").setOutputCol("sentence"),
        Tokenizer().setInputCols("sentence").setOutputCol("token"),
        BertEmbeddings.pretrained("bert_base_multilingual_cased", "xx")
            .setInputCols("sentence", "token").setOutputCol("embeddings"),
    ])
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from sparkbert._version import __version__
from sparkbert.annotation import Annotation
from sparkbert.errors import (
    InvalidParamError,
    MissingDependencyError,
    ModelError,
    ModelIntegrityError,
    ModelNotFoundError,
    SchemaError,
    SparkBertError,
    UnsafeModelError,
    UnsupportedStageError,
)

# Stages import pyspark; load them on first use so that `import sparkbert.errors`
# (or the pure text functions) stays light.
_LAZY = {
    "BertEmbeddings": "sparkbert.stages.bert_embeddings",
    "BertSentenceEmbeddings": "sparkbert.stages.bert_sentence_embeddings",
    "DocumentAssembler": "sparkbert.stages.document_assembler",
    "EmbeddingsFinisher": "sparkbert.stages.embeddings_finisher",
    "SentenceDetector": "sparkbert.stages.sentence_detector",
    "SentenceEmbeddings": "sparkbert.stages.sentence_embeddings",
    "Tokenizer": "sparkbert.stages.tokenizer",
    "LightPipeline": "sparkbert.light",
    "embed": "sparkbert.quick",
    "encode": "sparkbert.encoding",
    "load_pipeline": "sparkbert.stages.persistence",
}

if TYPE_CHECKING:
    from sparkbert.encoding import encode
    from sparkbert.light import LightPipeline
    from sparkbert.quick import embed
    from sparkbert.stages.bert_embeddings import BertEmbeddings
    from sparkbert.stages.bert_sentence_embeddings import BertSentenceEmbeddings
    from sparkbert.stages.document_assembler import DocumentAssembler
    from sparkbert.stages.embeddings_finisher import EmbeddingsFinisher
    from sparkbert.stages.persistence import load_pipeline
    from sparkbert.stages.sentence_detector import SentenceDetector
    from sparkbert.stages.sentence_embeddings import SentenceEmbeddings
    from sparkbert.stages.tokenizer import Tokenizer


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'sparkbert' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "Annotation",
    "BertEmbeddings",
    "BertSentenceEmbeddings",
    "DocumentAssembler",
    "EmbeddingsFinisher",
    "InvalidParamError",
    "LightPipeline",
    "MissingDependencyError",
    "ModelError",
    "ModelIntegrityError",
    "ModelNotFoundError",
    "SchemaError",
    "SentenceDetector",
    "SentenceEmbeddings",
    "SparkBertError",
    "Tokenizer",
    "UnsafeModelError",
    "UnsupportedStageError",
    "__version__",
    "embed",
    "encode",
    "load_pipeline",
]
