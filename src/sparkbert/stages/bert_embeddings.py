"""BertEmbeddings: one contextual vector per token, from a BERT model on ONNX Runtime.

| input | output |
| --- | --- |
| ``document``, ``token`` | ``word_embeddings`` |
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from pyspark.ml.param import Param
from pyspark.sql import SparkSession
from pyspark.sql.types import StructType

from sparkbert.annotation import ANNOTATOR_TYPE_KEY, DOCUMENT, TOKEN, WORD_EMBEDDINGS
from sparkbert.errors import InvalidParamError, ModelNotFoundError
from sparkbert.model.directory import ModelDirectory, is_model_directory, open_model_directory
from sparkbert.params import HasBatchSize, HasCaseSensitive, boolean, choice, int_list, integer, param, string
from sparkbert.runtime.alignment import POOLING_STRATEGIES
from sparkbert.runtime.embedder import Embedder, EmbedderConfig
from sparkbert.runtime.layer_graph import LAYER_POOLING, absolute_layers, layer_width, output_names
from sparkbert.runtime.session import DEVICES, SessionOptions
from sparkbert.settings import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_LANG,
    DEFAULT_MAX_SENTENCE_LENGTH,
    DEFAULT_MODEL,
    DEFAULT_TOKEN_BUDGET,
)
from sparkbert.stages.base import AnnotatorTransformer
from sparkbert.stages.distribute import configured_task_slots, ship_model
from sparkbert.stages.persistence import ModelDirReadable, ModelDirWritable
from sparkbert.stages.steps import BatchAnnotator


class BertEmbeddings(  # type: ignore[misc]
    ModelDirReadable, ModelDirWritable, AnnotatorTransformer, HasBatchSize, HasCaseSensitive
):
    """Contextual word embeddings from a BERT model (default: multilingual cased mBERT).

    Each sentence is tokenized whole by the model's own WordPiece tokenizer (no
    accent stripping, no lower-casing for cased models, ``[CLS]`` typed by a user is
    text), word pieces are aligned back to the input tokens by character offsets,
    and every input token gets exactly one annotation with its vector. Sentences
    longer than ``maxSentenceLength`` pieces are embedded in overlapping windows;
    nothing is dropped. Inference runs with ONNX Runtime, one session per Python
    worker process, on length-sorted batches padded to their own longest sentence,
    so results do not depend on batching.

    Output metadata per token: ``sentence``, ``token``, ``pieceId`` (first piece's
    id), ``isWordStart``, ``isOOV`` (all pieces ``[UNK]``), ``noPieces`` (the token
    produced no piece at all; its vector is zeros).

    Attributes
    ----------
    inputCols : list of str, default ["sentence", "token"]
    outputCol : str, default "embeddings"
    modelPath : str
        A model directory (see ``sparkbert.model.directory``); set by ``pretrained``.
    maxSentenceLength : int, default 128
        Longest sequence in pieces, ``[CLS]`` and ``[SEP]`` included, up to the model's limit
        (unset on a model with fewer than 128 positions: all of them).
    batchSize : int, default 8
        Most sequences per ONNX Runtime call. An int8 model quantizes activations per call,
        so its vectors depend slightly on their batch; 1 makes them the sentence's own.
    maxTokensPerBatch : int, default 8192
        Most padded pieces per ONNX Runtime call.
    poolingStrategy : str, default "first"
        ``first``, ``mean`` or ``last`` over a token's pieces.
    caseSensitive : bool
        Defaults to the model's own setting; ``False`` on a cased model lower-cases input.
    device : str, default "auto"
        ``auto`` (CUDA when onnxruntime-gpu sees a GPU), ``cpu`` or ``cuda``.
    intraOpThreads : int, default 0
        ONNX Runtime threads per worker; 0 divides the cores by the concurrent tasks.
    shareWeights : bool, default True
        On CPU, every Python worker of a machine maps one prepacked copy of the weights
        (made once per machine under ``SPARKBERT_HOME/prepacked``, checked against the
        model) instead of holding its own; ``False`` packs a private copy per worker.
    layers : list of int, default [-1]
        Hidden states to use, indexed as transformers' ``hidden_states``: ``-1`` the last
        layer, ``-(L+1)`` or ``0`` the embedding output. Only those are exported by the graph.
    layerPooling : str, default "mean"
        ``mean``, ``sum`` or ``concat`` of the chosen layers (concat multiplies the width).

    Examples
    --------
    >>> emb = BertEmbeddings().setPoolingStrategy("mean").setMaxSentenceLength(256)
    >>> emb.getPoolingStrategy(), emb.getInputCols(), emb.getOutputCol()
    ('mean', ['sentence', 'token'], 'embeddings')
    """

    inputAnnotatorTypes: ClassVar[tuple[tuple[str, ...], ...]] = ((DOCUMENT,), (TOKEN,))
    outputAnnotatorType = WORD_EMBEDDINGS
    chunkRows = 1024

    paramDefaults: ClassVar[Mapping[str, Any]] = {
        "inputCols": ["sentence", "token"],
        "outputCol": "embeddings",
        "batchSize": DEFAULT_BATCH_SIZE,
    }

    modelPath: Param[str] = param("modelPath", "model directory", string)
    maxSentenceLength: Param[int] = param(
        "maxSentenceLength",
        "longest sequence in pieces incl. [CLS]/[SEP], up to the model's limit (unset: 128 or the model's limit)",
        integer(4),
        default=DEFAULT_MAX_SENTENCE_LENGTH,
    )
    maxTokensPerBatch: Param[int] = param(
        "maxTokensPerBatch",
        "most padded pieces per ONNX Runtime call",
        integer(1),
        default=DEFAULT_TOKEN_BUDGET,
    )
    poolingStrategy: Param[str] = param(
        "poolingStrategy",
        "first, mean or last over a token's pieces",
        choice(*POOLING_STRATEGIES),
        default="first",
    )
    device: Param[str] = param("device", "auto, cpu or cuda", choice(*DEVICES), default="auto")
    intraOpThreads: Param[int] = param(
        "intraOpThreads", "ONNX Runtime threads per worker (0: auto)", integer(0), default=0
    )
    shareWeights: Param[bool] = param(
        "shareWeights", "CPU: map one prepacked copy of the weights per machine", boolean, default=True
    )
    storageRef: Param[str] = param("storageRef", "name of the embeddings, in column metadata", string)
    layers: Param[list[int]] = param(
        "layers",
        "hidden states to use, as transformers' (-1: last layer, 0: embeddings)",
        int_list,
        default=[-1],
    )
    layerPooling: Param[str] = param(
        "layerPooling", "mean, sum or concat of the chosen layers", choice(*LAYER_POOLING), default="mean"
    )

    # ---- pretrained -------------------------------------------------------------------------
    @classmethod
    def pretrained(
        cls,
        name: str = DEFAULT_MODEL,
        lang: str = DEFAULT_LANG,
        remote_loc: str | None = None,
        *,
        revision: str | None = None,
        precision: str | None = None,
        cache_dir: str | None = None,
        local_files_only: bool | None = None,
    ) -> BertEmbeddings:
        """Return a BertEmbeddings stage for a registry name, a Hub repo id or a local folder.

        ``name`` may be a built-in registry name (``"bert_base_multilingual_cased"``),
        a Hub repo id (``"org/name"`` or ``"org/name@revision"``), a local Hugging Face
        checkpoint folder (converted once and cached) or a model directory. The model
        is resolved on the driver; executors never download anything. ``precision``
        (``"fp32"``, ``"int8"``, ``"fp16"``) defaults to a model directory's own, else fp32.

        Examples
        --------
        ``model_dir`` is a converted model directory (a small random BERT with mBERT's
        tokenizer here); ``"bert_base_multilingual_cased"`` resolves the same way, from the
        cache or the Hub:

        >>> emb = BertEmbeddings.pretrained(model_dir).setInputCols("sentence", "token")
        >>> emb.getDimension(), emb.getMaxSentenceLength(), emb.getCaseSensitive()
        (32, 128, True)
        >>> emb.setMaxSentenceLength(1024)
        Traceback (most recent call last):
        ...
        sparkbert.errors.InvalidParamError: Invalid value for param 'maxSentenceLength': 1024. Valid values: an integer from 4 to 512 (the model's max positions).
        """
        del remote_loc  # Spark NLP's S3 location has no meaning here; kept for signature parity
        from sparkbert.model.resolve import resolve_model

        directory = resolve_model(
            name,
            lang,
            revision=revision,
            precision=precision,
            cache_dir=cache_dir,
            local_files_only=local_files_only,
        )
        return cls(modelPath=str(directory.path), storageRef=name)

    def getModelPath(self) -> str:
        """Return the model directory; raises ModelNotFoundError naming the fix if none was set."""
        if not self.isDefined(self.modelPath):
            raise ModelNotFoundError(
                f"{type(self).__name__} has no model: call {type(self).__name__}.pretrained(name_or_path) "
                "or set param 'modelPath' to a model directory."
            )
        return str(self.getOrDefault(self.modelPath))

    def getStorageRef(self) -> str:
        """Return the embeddings' name in column metadata (the model's source unless set)."""
        if self.isDefined(self.storageRef):
            return str(self.getOrDefault(self.storageRef))
        return self._model().source

    def getCaseSensitive(self) -> bool:
        """Return whether case is kept; defaults to the model's own setting."""
        if self.isDefined(self.caseSensitive):
            return bool(self.getOrDefault(self.caseSensitive))
        return self._model().cased

    def getDimension(self) -> int:
        """Return the width of the output vectors (the chosen layers combined), from the model directory."""
        return layer_width(self._model().hidden_size, len(self.getLayers()), self.getLayerPooling())

    # ---- checks on every path -------------------------------------------------------------------
    def _set(self, **kwargs: Any) -> BertEmbeddings:
        """Set params through their converters, then check them against the model when one is set."""
        super()._set(**kwargs)
        if kwargs.keys() & {"maxSentenceLength", "caseSensitive", "modelPath", "layers"}:
            self._check_against_model(strict=False)
        return self

    def _model(self) -> ModelDirectory:
        """The model directory, read once per path and manifest (see ``open_model_directory``)."""
        path = self.getModelPath()
        try:
            return open_model_directory(path)
        except ModelNotFoundError:
            raise ModelNotFoundError(
                f"Param 'modelPath' of {type(self).__name__} is {path!r}, which is not a model directory. "
                f"Use {type(self).__name__}.pretrained(name_or_path) to convert a checkpoint, or "
                "`sparkbert convert CHECKPOINT OUT`."
            ) from None

    def _has_model(self) -> bool:
        """Whether ``modelPath`` is set and names a model directory."""
        return self.isDefined(self.modelPath) and is_model_directory(self.getModelPath())

    def getMaxSentenceLength(self) -> int:
        """Return the window length: the value set, else 128 or the model's max positions when fewer."""
        length = int(self.getOrDefault(self.maxSentenceLength))
        if self.isSet(self.maxSentenceLength) or not self._has_model():
            return length
        return min(length, self._model().max_positions)

    def _check_against_model(self, *, strict: bool) -> ModelDirectory | None:
        """Raise if a param exceeds what the model allows; without ``strict``, skip a missing model."""
        if not strict and not self._has_model():
            return None
        model = self._model()
        length = self.getOrDefault(self.maxSentenceLength)
        if self.isSet(self.maxSentenceLength) and length > model.max_positions:
            raise InvalidParamError.for_param(
                "maxSentenceLength",
                length,
                f"an integer from 4 to {model.max_positions} (the model's max positions)",
            )
        if self.isDefined(self.caseSensitive) and self.getOrDefault(self.caseSensitive) and not model.cased:
            raise InvalidParamError.for_param(
                "caseSensitive", True, "False: the model is uncased (its tokenizer lower-cases input)"
            )
        absolute_layers(self.getLayers(), model.num_hidden_layers)
        return model

    # ---- Spark ------------------------------------------------------------------------------
    def _output_metadata(self, schema: StructType) -> dict[str, Any]:
        return {
            ANNOTATOR_TYPE_KEY: self.outputAnnotatorType,
            "dimension": self.getDimension(),
            "ref": self.getStorageRef(),
        }

    def transformSchema(self, schema: StructType) -> StructType:
        """Check columns and model settings on the driver; return the output schema.

        Examples
        --------
        >>> from pyspark.sql.types import StructType, StructField
        >>> from sparkbert.annotation import annotation_array_type
        >>> schema = StructType([StructField("sentence", annotation_array_type(), True, {"annotatorType": "document"}),
        ...                      StructField("token", annotation_array_type(), True, {"annotatorType": "token"})])
        >>> BertEmbeddings().transformSchema(schema)
        Traceback (most recent call last):
        ...
        sparkbert.errors.ModelNotFoundError: BertEmbeddings has no model: call BertEmbeddings.pretrained(name_or_path) or set param 'modelPath' to a model directory.
        """
        self._check_against_model(strict=True)
        return super().transformSchema(schema)

    def _config(self, spark: SparkSession | None) -> EmbedderConfig:
        """Everything a worker needs, decided on the driver only where the driver knows it."""
        model = self._check_against_model(strict=True)
        assert model is not None
        return EmbedderConfig(
            model_path=str(model.path),
            identity=model.identity,
            hidden_size=self.getDimension(),
            max_sentence_length=self.getMaxSentenceLength(),
            batch_size=self.getBatchSize(),
            token_budget=self.getMaxTokensPerBatch(),
            pooling=self.getPoolingStrategy(),
            lowercase=model.cased and not self.getCaseSensitive(),
            session=SessionOptions(
                intra_op_threads=self.getIntraOpThreads(),
                slots=configured_task_slots(spark),
                device=self.getDevice(),
                share_weights=self.getShareWeights(),
            ),
            spark_file=ship_model(spark, model) if spark is not None else None,
            layer_outputs=self._layer_outputs(model),
            layer_pooling=self.getLayerPooling(),
        )

    def _layer_outputs(self, model: ModelDirectory) -> tuple[str, ...]:
        """Graph outputs of the chosen layers; empty for the last layer alone (the plain graph)."""
        chosen = absolute_layers(self.getLayers(), model.num_hidden_layers)
        return (
            ()
            if chosen == (model.num_hidden_layers,)
            else tuple(output_names(chosen, model.num_hidden_layers))
        )

    def _annotator(self, schema: StructType | None, spark: SparkSession | None) -> BatchAnnotator:
        return Embedder(self._config(spark))
