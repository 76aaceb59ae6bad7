"""LightPipeline: run a fitted pipeline on plain strings, in this Python process, with no Spark job.

The same stage objects that ``PipelineModel.transform`` runs inside ``mapInArrow`` are called
here directly: each annotator stage's batch annotator (see ``sparkbert.stages.base``) is
fed the column values produced by the stages before it, held in a dict keyed by column name.
Schemas are still checked on the driver by each stage's ``transformSchema``, so a
misconfigured pipeline fails the same way it does on a DataFrame. No SparkSession is needed,
none is used, and no JVM is started: the ONNX Runtime session is created in this process.

Differences from ``PipelineModel.transform`` (all by design, as Spark NLP's LightPipeline):

- The result is keyed by the stages' output columns; the raw text is not repeated.
- ``SentenceDetector(explodeSentences=True)`` does not explode: each text stays one result
  whose ``sentence`` list holds all its sentences. The annotations are the ones the exploded
  rows of that text hold, in order.
- ``DocumentAssembler``'s ``idCol`` and ``metadataCol`` read nothing (there is no row to read
  them from): as for a null id or empty map.
- ``EmbeddingsFinisher`` output columns hold lists of ``numpy.float32`` arrays converted to
  lists of floats (``outputAsVector``: ``pyspark.ml.linalg.DenseVector``), as ``collect()`` gives.

Examples
--------
>>> from pyspark.ml import PipelineModel
>>> from sparkbert import DocumentAssembler, SentenceDetector, Tokenizer
>>> light = LightPipeline(PipelineModel(stages=[
...     DocumentAssembler(), SentenceDetector(), Tokenizer()]))
>>> light.annotate("Hello world. Hallo Welt!")
{'document': ['Hello world. Hallo Welt!'], 'sentence': ['Hello world.', 'Hallo Welt!'], \
'token': ['Hello', 'world', '.', 'Hallo', 'Welt', '!']}
>>> [a.begin for a in light.fullAnnotate("Hi there")[0]["token"]]
[0, 3]
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, overload

import numpy as np
from pyspark.ml import PipelineModel, Transformer
from pyspark.sql.types import MapType, StringType, StructField, StructType

from sparkbert.annotation import SENTENCE_EMBEDDINGS, WORD_EMBEDDINGS, Annotation
from sparkbert.errors import InvalidParamError, UnsupportedStageError
from sparkbert.stages.base import AnnotatorTransformer
from sparkbert.stages.document_assembler import DocumentAssembler
from sparkbert.stages.embeddings_finisher import EmbeddingsFinisher

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

logger = logging.getLogger(__name__)

_EMBEDDING_TYPES = (WORD_EMBEDDINGS, SENTENCE_EMBEDDINGS)

#: One text's result: output column → annotations (or, for EmbeddingsFinisher columns, vectors).
Result = dict[str, list[Any]]


@dataclass(frozen=True)
class _Step:
    """One stage, ready to run on a dict of column values (one list entry per text)."""

    name: str
    run: Callable[[dict[str, list[Any]]], None]


def _flatten(stages: Sequence[Any]) -> Iterator[Any]:
    for stage in stages:
        if isinstance(stage, PipelineModel):
            yield from _flatten(stage.stages)
        else:
            yield stage


def _describe(stage: Any) -> str:
    uid = getattr(stage, "uid", None)
    return f"{type(stage).__name__} (uid {uid})" if uid else type(stage).__name__


def _format_vector(vector: Any) -> str:
    """Spark NLP's ``annotate`` format of a vector: its floats joined by spaces."""
    return " ".join(str(x) for x in np.asarray(vector, dtype=np.float32))


class LightPipeline:
    """Run a fitted pipeline on strings in this process: fast for a few texts, no Spark job.

    The in-process twin of ``pipeline_model.transform(df)`` with Spark NLP's API: the same
    stages, the same annotations and vectors, no SparkSession needed.

    Parameters
    ----------
    pipeline_model : pyspark.ml.PipelineModel
        A fitted pipeline of sparkbert stages (nested PipelineModels are flattened). Every
        annotator stage runs through its batch annotator; ``EmbeddingsFinisher`` is computed
        in-process. Any other stage raises ``UnsupportedStageError``.
    parse_embeddings : bool, default False
        In ``annotate``, give embedding annotations as their vector (floats joined by
        spaces, as Spark NLP) instead of their token text.
    batch_rows : int, default 256
        Texts handed to the stages at once; results do not depend on it.

    Raises
    ------
    UnsupportedStageError
        A stage that is not a sparkbert annotator or ``EmbeddingsFinisher``.
    SchemaError, InvalidParamError, ModelNotFoundError
        As ``pipeline_model.transform`` would, checked here once.

    Examples
    --------
    >>> from pyspark.ml import PipelineModel
    >>> from sparkbert import DocumentAssembler, Tokenizer
    >>> light = LightPipeline(PipelineModel(stages=[
    ...     DocumentAssembler(), Tokenizer().setInputCols("document")]))
    >>> light.annotate(["Bonjour !", None])
    [{'document': ['Bonjour !'], 'token': ['Bonjour', '!']}, {'document': [], 'token': []}]
    >>> light.outputCols
    ['document', 'token']
    """

    def __init__(
        self, pipeline_model: PipelineModel, parse_embeddings: bool = False, *, batch_rows: int = 256
    ):
        if not isinstance(pipeline_model, PipelineModel):
            raise TypeError(
                f"LightPipeline takes a fitted pyspark.ml.PipelineModel (pipeline.fit(df)), "
                f"got {type(pipeline_model).__name__}."
            )
        if isinstance(batch_rows, bool) or not isinstance(batch_rows, int) or batch_rows < 1:
            raise InvalidParamError.for_param("batch_rows", batch_rows, "an integer >= 1")
        self.pipeline_model = pipeline_model
        self.parse_embeddings = bool(parse_embeddings)
        self.batch_rows = batch_rows
        self._text_cols: list[str] = []
        self._empty_cols: list[str] = []
        self._steps: list[_Step] = []
        self._output_cols: list[str] = []
        self._plan(list(_flatten(pipeline_model.stages)))

    # ---- planning: check every stage once, on plain schemas --------------------------------------
    def _plan(self, stages: list[Any]) -> None:
        fields: dict[str, StructField] = {}
        for stage in stages:
            if isinstance(stage, DocumentAssembler):
                for col, kind in (
                    (stage.getInputCol(), StringType()),
                    (stage.getIdCol(), StringType()),
                    (stage.getMetadataCol(), MapType(StringType(), StringType())),
                ):
                    if col is not None and col not in fields:
                        fields[col] = StructField(col, kind, True)
                        (self._text_cols if col == stage.getInputCol() else self._empty_cols).append(col)
        raw = set(fields)
        schema = StructType(list(fields.values()))
        for stage in stages:
            if isinstance(stage, AnnotatorTransformer):
                before = schema
                schema = stage.transformSchema(before)
                try:
                    annotator = stage._annotator(before, None)
                except NotImplementedError:
                    raise UnsupportedStageError(
                        f"Stage {_describe(stage)} has no in-process annotator, so it cannot run in a "
                        "LightPipeline; use pipeline_model.transform(df)."
                    ) from None
                self._steps.append(_Step(_describe(stage), self._annotate_step(stage, annotator)))
            elif isinstance(stage, EmbeddingsFinisher):
                self._steps.append(
                    _Step(_describe(stage), functools.partial(stage.finish_rows, schema=schema))
                )
                schema = stage.transformSchema(schema)
            elif isinstance(stage, Transformer):
                raise UnsupportedStageError(
                    f"Stage {_describe(stage)} cannot run in a LightPipeline: only sparkbert annotator "
                    "stages (DocumentAssembler, SentenceDetector, Tokenizer, BertEmbeddings, "
                    "SentenceEmbeddings) and EmbeddingsFinisher run in-process. Run it on a DataFrame "
                    "with pipeline_model.transform(df) instead."
                )
            else:
                raise UnsupportedStageError(
                    f"Stage {_describe(stage)} is not a fitted Transformer; pass pipeline.fit(df) to LightPipeline."
                )
        self._output_cols = [f.name for f in schema.fields if f.name not in raw]

    @staticmethod
    def _annotate_step(stage: AnnotatorTransformer, annotator: Any) -> Callable[[dict[str, list[Any]]], None]:
        inputs = stage.getInputCols()
        output = stage.getOutputCol()

        def run(values: dict[str, list[Any]]) -> None:
            rows = len(values[inputs[0]])
            result = annotator([values[c] for c in inputs]) if rows else []
            if len(result) != rows:  # never lose or invent a row
                raise RuntimeError(f"{_describe(stage)} returned {len(result)} rows for {rows}")
            values[output] = result

        return run

    # ---- running ---------------------------------------------------------------------------------
    @property
    def outputCols(self) -> list[str]:
        """The keys of every result, in pipeline order.

        Examples
        --------
        >>> from pyspark.ml import PipelineModel
        >>> from sparkbert import DocumentAssembler
        >>> LightPipeline(PipelineModel(stages=[DocumentAssembler()])).outputCols
        ['document']
        """
        return list(self._output_cols)

    def getStages(self) -> list[Any]:
        """Return the pipeline's stages (nested PipelineModels flattened), as run.

        Examples
        --------
        >>> from pyspark.ml import PipelineModel
        >>> from sparkbert import DocumentAssembler
        >>> [type(s).__name__ for s in LightPipeline(PipelineModel(stages=[DocumentAssembler()])).getStages()]
        ['DocumentAssembler']
        """
        return list(_flatten(self.pipeline_model.stages))

    def _run(self, texts: Sequence[str | None]) -> list[Result]:
        out: list[Result] = []
        for start in range(0, len(texts), self.batch_rows):
            chunk = [None if t is None else str(t) for t in texts[start : start + self.batch_rows]]
            values: dict[str, list[Any]] = {c: list(chunk) for c in self._text_cols}
            values.update({c: [None] * len(chunk) for c in self._empty_cols})
            for step in self._steps:
                step.run(values)
            for i in range(len(chunk)):
                out.append({c: list(values[c][i] or []) for c in self._output_cols})
        return out

    @staticmethod
    def _targets(target: str | Sequence[str | None] | None) -> tuple[list[str | None], bool]:
        if target is None or isinstance(target, str):
            return [target], True
        if isinstance(target, (bytes, bytearray)):
            raise TypeError("LightPipeline annotates str or a list of str, not bytes; decode the text first.")
        texts = list(target)
        for t in texts:
            if t is not None and not isinstance(t, str):
                raise TypeError(
                    f"LightPipeline annotates str or a list of str (None allowed); got an item of type "
                    f"{type(t).__name__}."
                )
        return texts, False

    def fullAnnotate(self, target: str | Sequence[str | None] | None) -> list[Result]:
        """Annotate text(s) and return, per text, ``{output column: [Annotation, ...]}``.

        Always a list (one dict per text, also for a single string), as Spark NLP. Annotations
        carry offsets, metadata and, for embeddings, their vector as a ``numpy.float32`` array.
        ``EmbeddingsFinisher`` columns hold its arrays instead. ``None`` or empty text gives
        empty lists.

        Examples
        --------
        >>> from pyspark.ml import PipelineModel
        >>> from sparkbert import DocumentAssembler
        >>> light = LightPipeline(PipelineModel(stages=[DocumentAssembler()]))
        >>> light.fullAnnotate("Hi")
        [{'document': [Annotation(annotator_type='document', begin=0, end=1, result='Hi', \
metadata={'sentence': '0'}, embeddings=())]}]
        """
        texts, _ = self._targets(target)
        return self._run(texts)

    @overload
    def annotate(self, target: str | None) -> Result: ...  # type: ignore[overload-overlap]

    @overload
    def annotate(self, target: Sequence[str | None]) -> list[Result]: ...

    def annotate(self, target: str | Sequence[str | None] | None) -> Result | list[Result]:
        """Annotate text(s) and return, per text, ``{output column: [result string, ...]}``.

        A single string gives one dict, a list gives a list of dicts. With
        ``parse_embeddings``, embedding annotations give their vector as floats joined by
        spaces (Spark NLP's format; ``fullAnnotate`` gives numpy arrays).
        ``EmbeddingsFinisher`` columns hold its arrays.

        Examples
        --------
        >>> from pyspark.ml import PipelineModel
        >>> from sparkbert import DocumentAssembler, SentenceDetector
        >>> light = LightPipeline(PipelineModel(stages=[DocumentAssembler(), SentenceDetector()]))
        >>> light.annotate("One. Two.")["sentence"]
        ['One.', 'Two.']
        """
        texts, single = self._targets(target)
        results = [
            {col: [self._simplify(a) for a in anns] for col, anns in r.items()} for r in self._run(texts)
        ]
        return results[0] if single else results

    def _simplify(self, value: Any) -> Any:
        if not isinstance(value, Annotation):
            return value
        if self.parse_embeddings and value.annotator_type in _EMBEDDING_TYPES:
            return _format_vector(value.embeddings)
        return value.result

    def transform(self, dataframe: DataFrame) -> DataFrame:
        """Run the pipeline on a DataFrame, in Spark (``pipeline_model.transform``).

        Examples
        --------
        >>> from pyspark.ml import PipelineModel
        >>> from pyspark.sql import SparkSession
        >>> from sparkbert import DocumentAssembler, Tokenizer
        >>> spark = SparkSession.builder.master("local[1]").getOrCreate()
        >>> light = LightPipeline(PipelineModel(stages=[
        ...     DocumentAssembler(), Tokenizer().setInputCols("document")]))
        >>> light.transform(spark.createDataFrame([("Bonjour !",)], ["text"])).select("token.result").first()
        Row(result=['Bonjour', '!'])
        """
        return self.pipeline_model.transform(dataframe)

    def __repr__(self) -> str:
        names = ", ".join(type(s).__name__ for s in self.getStages())
        return f"LightPipeline([{names}], parse_embeddings={self.parse_embeddings})"
