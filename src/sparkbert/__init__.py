"""sparkbert: multilingual BERT embeddings as pyspark.ml annotators, on ONNX Runtime."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
