"""BertEmbeddings: one contextual vector per token, from a BERT model on ONNX Runtime.

=========================  =====================
input                      output
=========================  =====================
``document``, ``token``    ``word_embeddings``
=========================  =====================
"""

from __future__ import annotations

import json
import os
from typing import Any

from pyspark import keyword_only
from pyspark.ml.param import Param, Params, TypeConverters
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.types import StructType

from sparkbert.annotation import ANNOTATOR_TYPE_KEY, DOCUMENT, TOKEN, WORD_EMBEDDINGS
from sparkbert.errors import InvalidParamError, ModelNotFoundError
from sparkbert.params import HasBatchSize, HasCaseSensitive, check_choice, check_range
from sparkbert.runtime.alignment import POOLING_STRATEGIES
from sparkbert.runtime.embedder import Embedder, EmbedderConfig
from sparkbert.runtime.session import DEVICES, SessionOptions
from sparkbert.settings import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_LANG,
    DEFAULT_MAX_SENTENCE_LENGTH,
    DEFAULT_MODEL,
    DEFAULT_TOKEN_BUDGET,
)
from sparkbert.stages.base import AnnotatorTransformer, BatchAnnotator
from sparkbert.stages.persistence import ModelDirReadable, ModelDirWritable


def _task_slots(spark: SparkSession | None) -> int:
    """Tasks that run at once on one machine, read from the master URL and conf."""
    if spark is None:
        return 1
    try:
        master = spark.conf.get("spark.master", "local[*]") or "local[*]"
    except Exception:  # Spark Connect may hide the master
        return 1
    if master.startswith("local"):
        inside = master[master.find("[") + 1 : master.find("]")] if "[" in master else "1"
        first = inside.split(",")[0].strip()
        return (os.cpu_count() or 1) if first == "*" else max(1, int(first))
    cores = spark.conf.get("spark.executor.cores", None)
    task_cpus = int(spark.conf.get("spark.task.cpus", "1") or "1")
    return max(1, int(cores) // task_cpus) if cores else (os.cpu_count() or 1)


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

    Parameters
    ----------
    inputCols : list of str, default ["sentence", "token"]
    outputCol : str, default "embeddings"
    modelPath : str
        A model directory (see :mod:`sparkbert.model.directory`); set by :meth:`pretrained`.
    maxSentenceLength : int, default 128
        Longest sequence in pieces, ``[CLS]`` and ``[SEP]`` included, up to the model's limit.
    batchSize : int, default 8
        Most sequences per ONNX Runtime call.
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

    Examples
    --------
    >>> emb = BertEmbeddings().setPoolingStrategy("mean").setMaxSentenceLength(256)
    >>> emb.getPoolingStrategy(), emb.getInputCols(), emb.getOutputCol()
    ('mean', ['sentence', 'token'], 'embeddings')
    """

    inputAnnotatorTypes = ((DOCUMENT,), (TOKEN,))
    outputAnnotatorType = WORD_EMBEDDINGS
    chunkRows = 1024

    modelPath: Param[str] = Param(Params._dummy(), "modelPath", "model directory", TypeConverters.toString)
    maxSentenceLength: Param[int] = Param(
        Params._dummy(),
        "maxSentenceLength",
        "longest sequence in pieces incl. [CLS]/[SEP]",
        TypeConverters.toInt,
    )
    maxTokensPerBatch: Param[int] = Param(
        Params._dummy(), "maxTokensPerBatch", "most padded pieces per ONNX Runtime call", TypeConverters.toInt
    )
    poolingStrategy: Param[str] = Param(
        Params._dummy(),
        "poolingStrategy",
        "first, mean or last over a token's pieces",
        TypeConverters.toString,
    )
    device: Param[str] = Param(Params._dummy(), "device", "auto, cpu or cuda", TypeConverters.toString)
    intraOpThreads: Param[int] = Param(
        Params._dummy(), "intraOpThreads", "ONNX Runtime threads per worker (0: auto)", TypeConverters.toInt
    )
    shareWeights: Param[bool] = Param(
        Params._dummy(),
        "shareWeights",
        "CPU: map one prepacked copy of the weights per machine",
        TypeConverters.toBoolean,
    )
    storageRef: Param[str] = Param(
        Params._dummy(), "storageRef", "name of the embeddings, in column metadata", TypeConverters.toString
    )

    @keyword_only
    def __init__(
        self,
        *,
        inputCols: list[str] | None = None,
        outputCol: str = "embeddings",
        modelPath: str | None = None,
        maxSentenceLength: int = DEFAULT_MAX_SENTENCE_LENGTH,
        batchSize: int = DEFAULT_BATCH_SIZE,
        maxTokensPerBatch: int = DEFAULT_TOKEN_BUDGET,
        poolingStrategy: str = "first",
        caseSensitive: bool | None = None,
        device: str = "auto",
        intraOpThreads: int = 0,
        shareWeights: bool = True,
        storageRef: str | None = None,
    ) -> None:
        super().__init__()
        self._setDefault(
            inputCols=["sentence", "token"],
            outputCol="embeddings",
            maxSentenceLength=DEFAULT_MAX_SENTENCE_LENGTH,
            batchSize=DEFAULT_BATCH_SIZE,
            maxTokensPerBatch=DEFAULT_TOKEN_BUDGET,
            poolingStrategy="first",
            device="auto",
            intraOpThreads=0,
            shareWeights=True,
        )
        self.setParams(**self._input_kwargs)

    @keyword_only
    def setParams(
        self,
        *,
        inputCols: list[str] | None = None,
        outputCol: str = "embeddings",
        modelPath: str | None = None,
        maxSentenceLength: int = DEFAULT_MAX_SENTENCE_LENGTH,
        batchSize: int = DEFAULT_BATCH_SIZE,
        maxTokensPerBatch: int = DEFAULT_TOKEN_BUDGET,
        poolingStrategy: str = "first",
        caseSensitive: bool | None = None,
        device: str = "auto",
        intraOpThreads: int = 0,
        shareWeights: bool = True,
        storageRef: str | None = None,
    ) -> BertEmbeddings:
        """Set params by keyword; returns ``self``.

        Examples
        --------
        >>> BertEmbeddings().setParams(batchSize=8).getBatchSize()
        8
        """
        kwargs = {k: v for k, v in self._input_kwargs.items() if v is not None}
        if "poolingStrategy" in kwargs:
            check_choice("poolingStrategy", kwargs["poolingStrategy"], POOLING_STRATEGIES)
        if "device" in kwargs:
            check_choice("device", kwargs["device"], DEVICES)
        for name, low in (
            ("maxSentenceLength", 4),
            ("batchSize", 1),
            ("maxTokensPerBatch", 1),
            ("intraOpThreads", 0),
        ):
            if name in kwargs:
                check_range(name, kwargs[name], low)
        return self._set(**kwargs)  # type: ignore[no-any-return]

    # ---- pretrained -------------------------------------------------------------------------
    @classmethod
    def pretrained(
        cls,
        name: str = DEFAULT_MODEL,
        lang: str = DEFAULT_LANG,
        remote_loc: str | None = None,
        *,
        revision: str | None = None,
        precision: str = "fp32",
        cache_dir: str | None = None,
        local_files_only: bool | None = None,
    ) -> BertEmbeddings:
        """Return a BertEmbeddings stage for a registry name, a Hub repo id or a local folder.

        ``name`` may be a built-in registry name (``"bert_base_multilingual_cased"``),
        a Hub repo id (``"org/name"`` or ``"org/name@revision"``), a local Hugging Face
        checkpoint folder (converted once and cached) or a model directory. The model
        is resolved on the driver; executors never download anything.

        Examples
        --------
        >>> from tests.helpers.checkpoints import make_random_checkpoint  # doctest: +SKIP
        >>> emb = BertEmbeddings.pretrained("path/to/checkpoint")  # doctest: +SKIP
        >>> emb.getDimension()  # doctest: +SKIP
        32
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

    # ---- setters / getters ------------------------------------------------------------------
    def setModelPath(self, value: str) -> BertEmbeddings:
        """Set the model directory to run.

        Examples
        --------
        >>> BertEmbeddings().setModelPath("/models/mbert").getModelPath()
        '/models/mbert'
        """
        return self._set(modelPath=value)  # type: ignore[no-any-return]

    def getModelPath(self) -> str:
        """Return the model directory; raises if none was set.

        Examples
        --------
        >>> BertEmbeddings(modelPath="/m").getModelPath()
        '/m'
        """
        if not self.isDefined(self.modelPath):
            raise ModelNotFoundError(
                "BertEmbeddings has no model: call BertEmbeddings.pretrained(name_or_path) "
                "or set param 'modelPath' to a model directory."
            )
        return self.getOrDefault(self.modelPath)  # type: ignore[no-any-return]

    def setMaxSentenceLength(self, value: int) -> BertEmbeddings:
        """Set the longest sequence in pieces (``[CLS]``/``[SEP]`` included) embedded in one pass.

        Examples
        --------
        >>> BertEmbeddings().setMaxSentenceLength(512).getMaxSentenceLength()
        512
        """
        return self._set(maxSentenceLength=check_range("maxSentenceLength", value, 4))  # type: ignore[no-any-return]

    def getMaxSentenceLength(self) -> int:
        """Return the longest sequence in pieces embedded in one pass.

        Examples
        --------
        >>> BertEmbeddings().getMaxSentenceLength()
        128
        """
        return self.getOrDefault(self.maxSentenceLength)  # type: ignore[no-any-return]

    def setMaxTokensPerBatch(self, value: int) -> BertEmbeddings:
        """Set the most padded pieces per ONNX Runtime call.

        Examples
        --------
        >>> BertEmbeddings().setMaxTokensPerBatch(4096).getMaxTokensPerBatch()
        4096
        """
        return self._set(maxTokensPerBatch=check_range("maxTokensPerBatch", value, 1))  # type: ignore[no-any-return]

    def getMaxTokensPerBatch(self) -> int:
        """Return the most padded pieces per ONNX Runtime call.

        Examples
        --------
        >>> BertEmbeddings().getMaxTokensPerBatch()
        8192
        """
        return self.getOrDefault(self.maxTokensPerBatch)  # type: ignore[no-any-return]

    def setPoolingStrategy(self, value: str) -> BertEmbeddings:
        """Set how a token's pieces are pooled: ``first``, ``mean`` or ``last``.

        Examples
        --------
        >>> BertEmbeddings().setPoolingStrategy("last").getPoolingStrategy()
        'last'
        """
        return self._set(poolingStrategy=check_choice("poolingStrategy", value, POOLING_STRATEGIES))  # type: ignore[no-any-return]

    def getPoolingStrategy(self) -> str:
        """Return the pooling strategy.

        Examples
        --------
        >>> BertEmbeddings().getPoolingStrategy()
        'first'
        """
        return self.getOrDefault(self.poolingStrategy)  # type: ignore[no-any-return]

    def setDevice(self, value: str) -> BertEmbeddings:
        """Choose the execution provider: ``auto``, ``cpu`` or ``cuda``.

        Examples
        --------
        >>> BertEmbeddings().setDevice("cpu").getDevice()
        'cpu'
        """
        return self._set(device=check_choice("device", value, DEVICES))  # type: ignore[no-any-return]

    def getDevice(self) -> str:
        """Return the execution provider choice.

        Examples
        --------
        >>> BertEmbeddings().getDevice()
        'auto'
        """
        return self.getOrDefault(self.device)  # type: ignore[no-any-return]

    def setIntraOpThreads(self, value: int) -> BertEmbeddings:
        """Set ONNX Runtime threads per worker (0: cores divided by concurrent tasks).

        Examples
        --------
        >>> BertEmbeddings().setIntraOpThreads(2).getIntraOpThreads()
        2
        """
        return self._set(intraOpThreads=check_range("intraOpThreads", value, 0))  # type: ignore[no-any-return]

    def getIntraOpThreads(self) -> int:
        """Return ONNX Runtime threads per worker (0: auto).

        Examples
        --------
        >>> BertEmbeddings().getIntraOpThreads()
        0
        """
        return self.getOrDefault(self.intraOpThreads)  # type: ignore[no-any-return]

    def setShareWeights(self, value: bool) -> BertEmbeddings:
        """Map one prepacked copy of the weights per machine (CPU) instead of one per worker.

        Examples
        --------
        >>> BertEmbeddings().setShareWeights(False).getShareWeights()
        False
        """
        return self._set(shareWeights=value)  # type: ignore[no-any-return]

    def getShareWeights(self) -> bool:
        """Return whether CPU workers share one prepacked copy of the weights.

        Examples
        --------
        >>> BertEmbeddings().getShareWeights()
        True
        """
        return self.getOrDefault(self.shareWeights)  # type: ignore[no-any-return]

    def setStorageRef(self, value: str) -> BertEmbeddings:
        """Set the embeddings' name recorded in the output column's metadata.

        Examples
        --------
        >>> BertEmbeddings().setStorageRef("mbert").getStorageRef()
        'mbert'
        """
        return self._set(storageRef=value)  # type: ignore[no-any-return]

    def getStorageRef(self) -> str:
        """Return the embeddings' name (the model directory's source unless set).

        Examples
        --------
        >>> BertEmbeddings(storageRef="x").getStorageRef()
        'x'
        """
        if self.isDefined(self.storageRef):
            return self.getOrDefault(self.storageRef)  # type: ignore[no-any-return]
        return str(self._manifest().get("source", "bert"))

    def getCaseSensitive(self) -> bool:
        """Return whether case is kept; defaults to the model's own setting.

        Examples
        --------
        >>> BertEmbeddings(caseSensitive=False).getCaseSensitive()
        False
        """
        if self.isDefined(self.caseSensitive):
            return self.getOrDefault(self.caseSensitive)  # type: ignore[no-any-return]
        return bool(self._manifest().get("cased", True))

    def getDimension(self) -> int:
        """Return the vector size of the model.

        Read from the model directory's manifest (no model is loaded).

        Examples
        --------
        >>> import json, tempfile
        >>> folder = tempfile.mkdtemp()
        >>> with open(os.path.join(folder, "manifest.json"), "w") as f:
        ...     json.dump({"hidden_size": 768, "max_position_embeddings": 512}, f)
        >>> BertEmbeddings(modelPath=folder).getDimension()
        768
        """
        return int(self._manifest()["hidden_size"])

    # ---- Spark ------------------------------------------------------------------------------
    def _manifest(self) -> dict[str, Any]:
        path = os.path.join(self.getModelPath(), "manifest.json")
        try:
            with open(path, encoding="utf-8") as f:
                return dict(json.load(f))
        except FileNotFoundError:
            raise ModelNotFoundError(
                f"Param 'modelPath' of BertEmbeddings is {self.getModelPath()!r}, which is not a model "
                "directory (no manifest.json). Use BertEmbeddings.pretrained(name_or_path) to convert a "
                "checkpoint, or `sparkbert convert CHECKPOINT OUT`."
            ) from None

    def _check_model_settings(self) -> dict[str, Any]:
        manifest = self._manifest()
        limit = int(manifest["max_position_embeddings"])
        length = self.getMaxSentenceLength()
        if length > limit:
            raise InvalidParamError.for_param(
                "maxSentenceLength", length, f"an integer from 4 to {limit} (the model's max positions)"
            )
        cased = bool(manifest.get("cased", True))
        if self.getCaseSensitive() and not cased:
            raise InvalidParamError.for_param(
                "caseSensitive", True, "False: the model is uncased (its tokenizer lower-cases input)"
            )
        return manifest

    def _output_metadata(self, schema: StructType) -> dict[str, Any]:
        return {
            ANNOTATOR_TYPE_KEY: WORD_EMBEDDINGS,
            "dimension": self.getDimension(),
            "ref": self.getStorageRef(),
        }

    def transformSchema(self, schema: StructType) -> StructType:
        """Check columns and model settings on the driver; return the output schema.

        Examples
        --------
        >>> import json, tempfile
        >>> from pyspark.sql.types import StructType, StructField
        >>> from sparkbert.annotation import annotation_array_type
        >>> folder = tempfile.mkdtemp()
        >>> with open(os.path.join(folder, "manifest.json"), "w") as f:
        ...     json.dump({"hidden_size": 768, "max_position_embeddings": 512}, f)
        >>> schema = StructType([
        ...     StructField("sentence", annotation_array_type(), True, {"annotatorType": "document"}),
        ...     StructField("token", annotation_array_type(), True, {"annotatorType": "token"})])
        >>> emb = BertEmbeddings(modelPath=folder)
        >>> out = emb.transformSchema(schema)
        >>> out["embeddings"].metadata["annotatorType"], out["embeddings"].metadata["dimension"]
        ('word_embeddings', 768)
        >>> emb.setMaxSentenceLength(1024).transformSchema(schema)
        Traceback (most recent call last):
        ...
        sparkbert.errors.InvalidParamError: Invalid value for param 'maxSentenceLength': 1024. Valid values: an integer from 4 to 512 (the model's max positions).
        """
        self._check_model_settings()
        return super().transformSchema(schema)

    def _config(self, slots: int = 1, spark_file: str | None = None) -> EmbedderConfig:
        manifest = self._manifest()
        return EmbedderConfig(
            model_path=self.getModelPath(),
            max_sentence_length=self.getMaxSentenceLength(),
            batch_size=self.getBatchSize(),
            token_budget=self.getMaxTokensPerBatch(),
            pooling=self.getPoolingStrategy(),
            lowercase=bool(manifest.get("cased", True)) and not self.getCaseSensitive(),
            session=SessionOptions(
                intra_op_threads=self.getIntraOpThreads(),
                slots=slots,
                device=self._device(),
                share_weights=self.getShareWeights(),
            ),
            spark_file=spark_file,
        )

    def _device(self) -> str:
        device = self.getDevice()
        return (
            "cpu" if device == "auto" and not _cuda_available() else ("cuda" if device == "auto" else device)
        )

    def _annotator(self) -> BatchAnnotator:
        return Embedder(self._config())

    def _annotator_for(self, dataset: DataFrame) -> BatchAnnotator:
        from sparkbert.stages.distribute import ship_model

        spark = dataset.sparkSession
        return Embedder(
            self._config(slots=_task_slots(spark), spark_file=ship_model(spark, self.getModelPath()))
        )


def _cuda_available() -> bool:
    import onnxruntime as ort

    return "CUDAExecutionProvider" in ort.get_available_providers()
