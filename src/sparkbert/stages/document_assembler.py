"""DocumentAssembler: the entry point of every pipeline (raw text → ``document``).

| input | output |
| --- | --- |
| string column | ``document`` |
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from pyspark.ml.param import Param
from pyspark.sql import SparkSession
from pyspark.sql.types import MapType, StringType, StructType

from sparkbert.annotation import DOCUMENT
from sparkbert.errors import SchemaError
from sparkbert.params import choice, param, string
from sparkbert.stages.base import AnnotatorTransformer
from sparkbert.stages.steps import RAW_TEXT, AssembleDocuments, BatchAnnotator
from sparkbert.text.document import CLEANUP_MODES


class DocumentAssembler(AnnotatorTransformer):
    """Wrap a string column into ``document`` annotations, as Spark NLP's DocumentAssembler.

    Null, empty and whitespace-only text give an empty annotation array; the row is kept.

    Attributes
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
        ``each``, ``each_full``, ``delete_full`` (see ``sparkbert.text.document.clean_text``).

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

    paramDefaults: ClassVar[Mapping[str, Any]] = {"outputCol": "document"}

    inputCol: Param[str] = param("inputCol", "the string column to read", string, default="text")
    idCol: Param[str] = param("idCol", "column copied into metadata as 'id'", string)
    metadataCol: Param[str] = param(
        "metadataCol", "map<string,string> column merged into each annotation's metadata", string
    )
    cleanupMode: Param[str] = param(
        "cleanupMode", "how whitespace is cleaned", choice(*CLEANUP_MODES), default="disabled"
    )

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
        for name, col in (
            ("inputCol", self.getInputCol()),
            ("idCol", self.getIdCol()),
            ("metadataCol", self.getMetadataCol()),
        ):
            if col is not None and col not in names:
                raise SchemaError(
                    f"Input column '{col}' of DocumentAssembler (param '{name}') is missing; "
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

    def _annotator(self, schema: StructType | None, spark: SparkSession | None) -> BatchAnnotator:
        return AssembleDocuments(
            self.getCleanupMode(), self.getIdCol() is not None, self.getMetadataCol() is not None
        )
