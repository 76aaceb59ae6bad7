"""DocumentAssembler: the entry point of every pipeline (raw text → ``document``).

==============  ===============
input           output
==============  ===============
string column   ``document``
==============  ===============
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pyspark import keyword_only
from pyspark.ml.param import Param, Params, TypeConverters
from pyspark.sql.types import MapType, StringType, StructType

from sparkbert.annotation import DOCUMENT, Annotation
from sparkbert.errors import SchemaError
from sparkbert.params import check_choice
from sparkbert.stages.base import RAW_TEXT, AnnotatorTransformer, BatchAnnotator
from sparkbert.text.document import CLEANUP_MODES, assemble_document


class _AssembleDocuments:
    """Picklable batch annotator: columns (text[, id][, metadata]) → document annotations."""

    def __init__(self, cleanup_mode: str, has_id: bool, has_metadata: bool) -> None:
        self.cleanup_mode = cleanup_mode
        self.has_id = has_id
        self.has_metadata = has_metadata

    def __call__(self, columns: Sequence[Sequence[Any]]) -> list[list[Annotation]]:
        texts = columns[0]
        ids = columns[1] if self.has_id else None
        metas = columns[-1] if self.has_metadata else None
        out = []
        for i, text in enumerate(texts):
            meta: dict[str, str] = {}
            if metas is not None and metas[i]:
                meta.update(dict(metas[i]))
            if ids is not None and ids[i] is not None:
                meta["id"] = str(ids[i])
            out.append(assemble_document(text, cleanup_mode=self.cleanup_mode, metadata=meta))
        return out


class DocumentAssembler(AnnotatorTransformer):
    """Wrap a string column into ``document`` annotations, as Spark NLP's DocumentAssembler.

    Null, empty and whitespace-only text give an empty annotation array; the row is kept.

    Parameters
    ----------
    inputCol : str, default "text"
        The string column to read.
    outputCol : str, default "document"
    idCol : str, optional
        A column whose value is copied into each annotation's metadata as ``id``.
    metadataCol : str, optional
        A ``map<string,string>`` column merged into each annotation's metadata.
    cleanupMode : str, default "disabled"
        One of ``disabled``, ``inplace``, ``inplace_full``, ``shrink``, ``shrink_full``,
        ``each``, ``each_full``, ``delete_full`` (see :func:`sparkbert.text.document.clean_text`).

    Examples
    --------
    >>> from pyspark.sql import SparkSession
    >>> spark = SparkSession.builder.master("local[1]").getOrCreate()
    >>> df = spark.createDataFrame([("Hello there.",)], ["text"])
    >>> row = DocumentAssembler().setInputCol("text").transform(df).first()
    >>> row.document[0].result, row.document[0].end
    ('Hello there.', 11)
    """

    inputAnnotatorTypes = ((RAW_TEXT,),)
    outputAnnotatorType = DOCUMENT

    inputCol: Param[str] = Param(
        Params._dummy(), "inputCol", "the string column to read", TypeConverters.toString
    )
    idCol: Param[str] = Param(
        Params._dummy(), "idCol", "column copied into metadata as 'id'", TypeConverters.toString
    )
    metadataCol: Param[str] = Param(
        Params._dummy(),
        "metadataCol",
        "map<string,string> column merged into metadata",
        TypeConverters.toString,
    )
    cleanupMode: Param[str] = Param(
        Params._dummy(),
        "cleanupMode",
        f"text cleanup: one of {', '.join(CLEANUP_MODES)}",
        TypeConverters.toString,
    )

    @keyword_only
    def __init__(
        self,
        *,
        inputCol: str = "text",
        outputCol: str = "document",
        idCol: str | None = None,
        metadataCol: str | None = None,
        cleanupMode: str = "disabled",
    ) -> None:
        super().__init__()
        self._setDefault(inputCol="text", outputCol="document", cleanupMode="disabled")
        self.setParams(**self._input_kwargs)

    @keyword_only
    def setParams(
        self,
        *,
        inputCol: str = "text",
        outputCol: str = "document",
        idCol: str | None = None,
        metadataCol: str | None = None,
        cleanupMode: str = "disabled",
    ) -> DocumentAssembler:
        """Set params by keyword; returns ``self``.

        Examples
        --------
        >>> DocumentAssembler().setParams(inputCol="body").getInputCol()
        'body'
        """
        kwargs = {k: v for k, v in self._input_kwargs.items() if v is not None}
        if "cleanupMode" in kwargs:
            check_choice("cleanupMode", kwargs["cleanupMode"], CLEANUP_MODES)
        return self._set(**kwargs)  # type: ignore[no-any-return]

    def setInputCol(self, value: str) -> DocumentAssembler:
        """Set the string column to read.

        Examples
        --------
        >>> DocumentAssembler().setInputCol("body").getInputCol()
        'body'
        """
        return self._set(inputCol=value)  # type: ignore[no-any-return]

    def getInputCol(self) -> str:
        """Return the string column to read.

        Examples
        --------
        >>> DocumentAssembler().getInputCol()
        'text'
        """
        return self.getOrDefault(self.inputCol)  # type: ignore[no-any-return]

    def setIdCol(self, value: str) -> DocumentAssembler:
        """Set the column copied into metadata as ``id``.

        Examples
        --------
        >>> DocumentAssembler().setIdCol("id").getIdCol()
        'id'
        """
        return self._set(idCol=value)  # type: ignore[no-any-return]

    def getIdCol(self) -> str | None:
        """Return the id column, or None.

        Examples
        --------
        >>> DocumentAssembler().getIdCol() is None
        True
        """
        return self.getOrDefault(self.idCol) if self.isDefined(self.idCol) else None

    def setMetadataCol(self, value: str) -> DocumentAssembler:
        """Set the ``map<string,string>`` column merged into metadata.

        Examples
        --------
        >>> DocumentAssembler().setMetadataCol("meta").getMetadataCol()
        'meta'
        """
        return self._set(metadataCol=value)  # type: ignore[no-any-return]

    def getMetadataCol(self) -> str | None:
        """Return the metadata column, or None.

        Examples
        --------
        >>> DocumentAssembler().getMetadataCol() is None
        True
        """
        return self.getOrDefault(self.metadataCol) if self.isDefined(self.metadataCol) else None

    def setCleanupMode(self, value: str) -> DocumentAssembler:
        """Set the cleanup mode (validated against the valid modes).

        Examples
        --------
        >>> DocumentAssembler().setCleanupMode("shrink").getCleanupMode()
        'shrink'
        """
        return self._set(cleanupMode=check_choice("cleanupMode", value, CLEANUP_MODES))  # type: ignore[no-any-return]

    def getCleanupMode(self) -> str:
        """Return the cleanup mode.

        Examples
        --------
        >>> DocumentAssembler().getCleanupMode()
        'disabled'
        """
        return self.getOrDefault(self.cleanupMode)  # type: ignore[no-any-return]

    def getInputCols(self) -> list[str]:
        """Return the columns read: ``inputCol``, then ``idCol`` and ``metadataCol`` if set.

        Examples
        --------
        >>> DocumentAssembler().setIdCol("id").getInputCols()
        ['text', 'id']
        """
        cols = [self.getInputCol()]
        for extra in (self.getIdCol(), self.getMetadataCol()):
            if extra:
                cols.append(extra)
        return cols

    def _input_kinds(self) -> list[str]:
        return [RAW_TEXT] + ["raw"] * (len(self.getInputCols()) - 1)

    def transformSchema(self, schema: StructType) -> StructType:
        """Check the columns on the driver and return the output schema.

        Examples
        --------
        >>> from pyspark.sql.types import StructType, StructField, StringType
        >>> DocumentAssembler().transformSchema(StructType([StructField("text", StringType())])).fieldNames()
        ['text', 'document']
        """
        names = schema.fieldNames()
        for param, col in (
            ("inputCol", self.getInputCol()),
            ("idCol", self.getIdCol()),
            ("metadataCol", self.getMetadataCol()),
        ):
            if col is not None and col not in names:
                raise SchemaError(
                    f"Input column '{col}' of DocumentAssembler (param '{param}') is missing; "
                    f"available columns: {names}."
                )
        text = self.getInputCol()
        if not isinstance(schema[text].dataType, StringType):
            raise SchemaError(
                f"Input column '{text}' of DocumentAssembler (param 'inputCol') must be a string column, "
                f"got {schema[text].dataType.simpleString()}."
            )
        meta_col = self.getMetadataCol()
        if meta_col is not None and not isinstance(schema[meta_col].dataType, MapType):
            raise SchemaError(
                f"Column '{meta_col}' of param 'metadataCol' must be map<string,string>, "
                f"got {schema[meta_col].dataType.simpleString()}."
            )
        return self._append_output(schema)

    def _annotator(self) -> BatchAnnotator:
        return _AssembleDocuments(
            self.getCleanupMode(), self.getIdCol() is not None, self.getMetadataCol() is not None
        )
