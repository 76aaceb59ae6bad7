"""Turn raw text into one ``document`` annotation (the work of DocumentAssembler).

Examples
--------
>>> [a.result for a in assemble_document("Hello world.")]
['Hello world.']
>>> assemble_document(None), assemble_document("  \\n ")
([], [])
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from sparkbert.annotation import DOCUMENT, Annotation
from sparkbert.errors import InvalidParamError

#: Spark NLP's cleanup modes. ``inplace*`` keep every offset valid (one space per replaced char).
CLEANUP_MODES = (
    "disabled",
    "inplace",
    "inplace_full",
    "shrink",
    "shrink_full",
    "each",
    "each_full",
    "delete_full",
)

_NEWLINE_TAB = re.compile(r"[\r\n\t]")
_STRINGIFIED = re.compile(r"\\[rnt]")
_WHITESPACE_RUN = re.compile(r"\s+")


def clean_text(text: str, mode: str = "disabled") -> str:
    """Apply one of Spark NLP's ``cleanupMode`` rules to ``text``.

    ``disabled`` keeps the text; ``inplace`` turns newlines and tabs into spaces (so
    offsets into the original text stay valid); ``shrink`` collapses every run of
    whitespace to one space and trims; ``each`` turns each newline or tab into one
    space and trims; the ``_full`` variants also treat the escaped forms ``\\n``,
    ``\\t`` and ``\\r`` typed as two characters; ``delete_full`` removes those escapes.

    Examples
    --------
    >>> clean_text("a\\n\\tb", "inplace")
    'a  b'
    >>> clean_text("  a \\n\\n b ", "shrink")
    'a b'
    """
    if mode not in CLEANUP_MODES:
        raise InvalidParamError.for_param("cleanupMode", mode, CLEANUP_MODES)
    if mode == "disabled":
        return text
    full = mode.endswith("_full")
    if mode == "delete_full":
        return _STRINGIFIED.sub("", text)
    if full:
        text = _STRINGIFIED.sub(" ", text)
    if mode.startswith("inplace"):
        return _NEWLINE_TAB.sub(" ", text)
    if mode.startswith("shrink"):
        return _WHITESPACE_RUN.sub(" ", text).strip()
    return _NEWLINE_TAB.sub(" ", text).strip()  # each


def assemble_document(
    text: str | None,
    *,
    cleanup_mode: str = "disabled",
    metadata: Mapping[str, str] | None = None,
) -> list[Annotation]:
    """Return ``[document annotation]`` for ``text``, or ``[]`` for null, empty or blank text.

    The annotation spans the whole (cleaned) text: ``begin`` 0, ``end`` its last index,
    metadata ``{"sentence": "0"}`` plus ``metadata``.

    Examples
    --------
    >>> assemble_document("Hi", metadata={"id": "7"})[0]
    Annotation(annotator_type='document', begin=0, end=1, result='Hi', metadata={'sentence': '0', 'id': '7'}, embeddings=())
    """
    if text is None:
        return []
    cleaned = clean_text(text, cleanup_mode)
    if not cleaned.strip():
        return []
    meta = {"sentence": "0"}
    if metadata:
        meta.update({str(k): str(v) for k, v in metadata.items()})
    return [Annotation(DOCUMENT, 0, len(cleaned) - 1, cleaned, meta)]
