"""BertSentenceEmbeddings: one vector per sentence or document, straight from a BERT model.

| input | output |
| --- | --- |
| ``document`` | ``sentence_embeddings`` |
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, ClassVar

from pyspark.ml.param import Param
from pyspark.sql import SparkSession
from pyspark.sql.types import StructType

from sparkbert.annotation import DOCUMENT, SENTENCE_EMBEDDINGS
from sparkbert.errors import InvalidParamError
from sparkbert.model.st_modules import MANIFEST_FIELD, pooling_parts
from sparkbert.params import boolean, choice, integer, param
from sparkbert.runtime.sentence_encoder import (
    MODULES,
    SENTENCE_STRATEGIES,
    SentenceEncoder,
    SentenceEncoderConfig,
    resolve_pooling,
    sentence_window,
)
from sparkbert.stages.bert_embeddings import BertEmbeddings
from sparkbert.stages.steps import BatchAnnotator


class BertSentenceEmbeddings(BertEmbeddings):  # type: ignore[misc]
    """One vector per input annotation (a sentence or a whole document), from a BERT model.

    Takes a ``document`` column (from DocumentAssembler or SentenceDetector) and gives one
    ``sentence_embeddings`` annotation per input annotation, with its begin, end and text,
    and metadata ``sentence``, ``pieces`` (word pieces in the text) and ``windows`` (model
    passes used). Rows are never dropped; a row without annotations gets none.

    The text is tokenized whole; text longer than one window (``maxSentenceLength``) is cut
    into overlapping windows, never truncated: ``mean`` and ``max`` use every piece from the
    window where it has the most context, ``cls`` and ``pooler`` the first window.

    Attributes
    ----------
    inputCols : list of str, default ["sentence"]
    outputCol : str, default "sentence_embeddings"
    poolingStrategy : str, default "auto"
        ``auto``: the checkpoint's own sentence-transformers chain (``modules.json``:
        Pooling → Dense → Normalize) when it has one, else ``pooler`` when it has pooler
        weights (Spark NLP's BertSentenceEmbeddings), else ``cls``. ``cls``: the ``[CLS]``
        vector. ``pooler``: BERT's pooler on it. ``mean`` / ``max``: over every position of
        the attention mask, ``[CLS]`` and ``[SEP]`` included, as sentence-transformers.
    normalize : bool
        L2-normalise the vectors; defaults to the checkpoint's own configuration (a
        ``Normalize`` module), else False.
    maxSentenceLength : int
        Window length in pieces, ``[CLS]``/``[SEP]`` included; defaults to the checkpoint's
        ``max_seq_length`` (sentence-transformers), else 512 (at most the model's limit).
    batchSize, maxTokensPerBatch, caseSensitive, device, intraOpThreads, shareWeights, modelPath : as BertEmbeddings
        As in ``BertEmbeddings``.
    layers, layerPooling : as BertEmbeddings
        As in ``BertEmbeddings``: the hidden states are combined per position before the
        sentence pooling (default: the last layer).

    Examples
    --------
    A document's vector, with the checkpoint's own pooling (here: mean, then L2 norm):

    >>> from pyspark.ml import PipelineModel
    >>> from sparkbert import DocumentAssembler, LightPipeline
    >>> from tests.conftest import minilm_checkpoint
    >>> sent = BertSentenceEmbeddings.pretrained(str(minilm_checkpoint())).setInputCols("document")
    >>> light = LightPipeline(PipelineModel(stages=[DocumentAssembler(), sent]))
    >>> [vector] = light.fullAnnotate("Hello world. Hallo Welt!")[0]["sentence_embeddings"]
    >>> vector.metadata["windows"], vector.embeddings.shape, round(float((vector.embeddings ** 2).sum()), 4)
    ('1', (384,), 1.0)
    >>> sent.getPoolingStrategy(), sent.getNormalize(), sent.getMaxSentenceLength()
    ('auto', True, 256)
    """

    inputAnnotatorTypes = ((DOCUMENT,),)
    outputAnnotatorType = SENTENCE_EMBEDDINGS

    paramDefaults: ClassVar[Mapping[str, Any]] = {
        "inputCols": ["sentence"],
        "outputCol": "sentence_embeddings",
    }

    poolingStrategy: Param[str] = param(
        "poolingStrategy",
        "auto (the checkpoint's own), cls, mean, max, mean_sqrt_len, weightedmean, lasttoken or pooler",
        choice(*SENTENCE_STRATEGIES),
        default="auto",
    )
    normalize: Param[bool] = param(
        "normalize", "L2-normalise the vectors (default: the checkpoint's own configuration)", boolean
    )
    maxSentenceLength: Param[int] = param(
        "maxSentenceLength",
        "window length in pieces incl. [CLS]/[SEP] (default: the checkpoint's max_seq_length, else 512)",
        integer(4),
        default=128,  # checked against the model when unset; the window comes from the getter
    )

    # ---- what the checkpoint says ---------------------------------------------------------------
    def _sentence_info(self) -> dict[str, Any]:
        """The model directory's ``sentence`` manifest field (empty for older conversions)."""
        info = self._model().manifest.get(MANIFEST_FIELD) or {}
        return dict(info)

    def _modules(self) -> dict[str, Any] | None:
        modules = self._sentence_info().get("modules")
        return dict(modules) if modules else None

    def _resolved_pooling(self) -> str:
        """``poolingStrategy`` made concrete for this model; raises naming what the model has."""
        modules = self._modules()
        return resolve_pooling(
            self.getPoolingStrategy(),
            has_pooler=bool(self._sentence_info().get("pooler")),
            modules_pooling=modules["pooling"] if modules else None,
        )

    def getNormalize(self) -> bool:
        """Return whether vectors are L2-normalised (default: the checkpoint's own configuration)."""
        if self.isDefined(self.normalize):
            return bool(self.getOrDefault(self.normalize))
        modules = self._modules()
        return bool(modules and modules.get("normalize"))

    def getMaxSentenceLength(self) -> int:
        """Return the window length (default: the checkpoint's ``max_seq_length``, else 512)."""
        if self.isSet(self.maxSentenceLength):
            return int(self.getOrDefault(self.maxSentenceLength))
        return sentence_window(self._sentence_info(), self._model().max_positions)

    def getDimension(self) -> int:
        """Return the width of the output vectors (the last Dense layer's, when ``auto`` applies one)."""
        width = super().getDimension()
        modules = self._modules() if self._resolved_pooling() == MODULES else None
        if not modules:
            return width
        width *= len(pooling_parts(modules["pooling"]))  # several modes: their vectors concatenated
        if modules.get("dense"):
            takes = int(modules["dense"][0]["in_features"])
            if width != takes:
                raise InvalidParamError.for_param(
                    "layers",
                    self.getLayers(),
                    f"layers whose combined width is {takes}, which the checkpoint's Dense layer takes "
                    "(use layerPooling 'mean' or 'sum', or an explicit poolingStrategy)",
                )
            return int(modules["dense"][-1]["out_features"])
        return width

    # ---- Spark ------------------------------------------------------------------------------
    def transformSchema(self, schema: StructType) -> StructType:
        """Check columns, model settings and the pooling strategy on the driver; return the output schema.

        A strategy the checkpoint cannot serve fails here, naming what it has.
        """
        self._resolved_pooling()
        return super().transformSchema(schema)

    def _annotator(self, schema: StructType | None, spark: SparkSession | None) -> BatchAnnotator:
        self.getDimension()  # a Dense layer that cannot take the chosen layers fails here
        embedder = dataclasses.replace(
            self._config(spark), max_sentence_length=self.getMaxSentenceLength(), pooling="first"
        )
        return SentenceEncoder(
            SentenceEncoderConfig(
                embedder,
                pooling=self._resolved_pooling(),
                normalize=self.getNormalize(),
                head=self._sentence_info(),
            )
        )
